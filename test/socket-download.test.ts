import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import test, { type ExecutionContext } from 'ava';
import { AnswerError, AnswerParser, SocketDownload } from '../bin/cellar/socket-download.ts';

/** Feeds `raw` to a parser cut at `cuts`; the body's reader is set once the head is in, as a download does. */
function parse(raw: Buffer, cuts: number[] = []) {
  const parser = new AnswerParser();
  const body: Buffer[] = [];
  const bounds = [0, ...cuts, raw.length];
  for (let piece = 0; piece + 1 < bounds.length && !parser.done; piece++) {
    for (let at = bounds[piece]!; at < bounds[piece + 1]! && !parser.done;) {
      at = parser.feed(raw, at, bounds[piece + 1]!);
      if (parser.head && !parser.reader) parser.reader = (data, start, end) => body.push(Buffer.from(data.subarray(start, end)));
    }
  }
  return { parser, body: Buffer.concat(body) };
}

const chunked = (head: string, chunks: Buffer[], trailers = '') => Buffer.concat([
  Buffer.from(`${head}\r\nTransfer-Encoding: chunked\r\n\r\n`),
  ...chunks.flatMap((chunk, index) => [Buffer.from(`${chunk.length.toString(16)}${index === 0 ? ';name=value' : ''}\r\n`), chunk, Buffer.from('\r\n')]),
  Buffer.from(`0\r\n${trailers}\r\n`),
]);

test('a chunked answer cut at any place gives the same head, body and trailers', (t) => {
  const chunks = [Buffer.from('hello, '), randomBytes(300), Buffer.from('\r\n0\r\n\r\n'), Buffer.from('end')];
  const raw = chunked('HTTP/1.1 200 OK\r\nContent-Type: application/x-tar\r\nX-Twice: a\r\nx-twice: b', chunks, 'X-Cellar-Backup-Entries: 12\r\nX-Cellar-Backup-Bytes: 345\r\n');
  const expected = Buffer.concat(chunks);
  for (let cut = 0; cut <= raw.length; cut++) {
    const { parser, body } = parse(raw, [cut]);
    if (!parser.done || !body.equals(expected)) t.fail(`cut at ${cut}`);
  }
  for (let round = 0; round < 200; round++) {
    const cuts = Array.from({ length: 1 + Math.floor(Math.random() * 30) }, () => Math.floor(Math.random() * raw.length)).sort((a, b) => a - b);
    const { body } = parse(raw, cuts);
    if (!body.equals(expected)) t.fail(`cuts at ${cuts.join(',')}`);
  }
  const { parser } = parse(raw, [5, 40, 41, 42]);
  t.deepEqual(parser.head, { status: 200, statusText: 'OK', headers: { 'content-type': 'application/x-tar', 'x-twice': 'a, b', 'transfer-encoding': 'chunked' } });
  t.deepEqual(parser.trailers, { 'x-cellar-backup-entries': '12', 'x-cellar-backup-bytes': '345' });
});

test('an answer with a Content-Length ends there; one without runs to the close; interim answers are passed over', (t) => {
  const sized = parse(Buffer.from('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\nfoundmore'), [30, 60]);
  t.is(sized.parser.head?.status, 404);
  t.true(sized.parser.done);
  t.is(sized.body.toString(), 'found');
  const open = parse(Buffer.from('HTTP/1.0 200 OK\r\n\r\nall of it'), [21]);
  t.false(open.parser.done);
  t.true(open.parser.runsToClose);
  t.is(open.body.toString(), 'all of it');
  const empty = parse(Buffer.from('HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n'));
  t.true(empty.parser.done);
  t.is(empty.body.length, 0);
});

test('an answer that is not HTTP, or is framed wrongly, is refused saying what is wrong', (t) => {
  const refusals: Array<[string | Buffer, RegExp]> = [
    ['SSH-2.0-OpenSSH_9.2\r\n\r\n', /does not start with an HTTP\/1\.1 status line/],
    ['HTTP/1.1 200 OK\r\nno colon here\r\n\r\n', /header line that is not a field/],
    ['HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\n', /Content-Length that is not one/],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', /chunk size that is not one/],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n', /does not end where its size says/],
    [`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${'0'.repeat(2000)}`, /chunk-size line of the answer is too long/],
    [`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(70_000)}`, /head is longer than 65536 bytes/],
    [`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n${'X-Big: a\r\n'.repeat(7000)}`, /trailers are longer than 65536 bytes/],
  ];
  for (const [raw, message] of refusals) {
    const error = t.throws(() => parse(Buffer.from(raw)), { instanceOf: AnswerError });
    t.regex(error!.message, message);
  }
});

/** A TCP server on the loopback that answers each connection with `answer`, keeping the requests it got. */
async function rawServer(t: ExecutionContext, answer: (socket: net.Socket) => void, secure?: tls.TlsOptions) {
  const requests: string[] = [];
  const handle = (socket: net.Socket) => {
    let request = '';
    socket.on('data', (data: Buffer) => {
      request += data.toString('latin1');
      if (!request.includes('\r\n\r\n')) return;
      requests.push(request);
      answer(socket);
    });
    socket.on('error', () => {});
  };
  const server = secure ? tls.createServer(secure, handle) : net.createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `${secure ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}/__backup?snapshots=false`, requests };
}

/** A download's body and end, collected. */
async function fetchBody(download: SocketDownload) {
  const pieces: Buffer[] = [];
  const end = await download.body((data, start, stop) => pieces.push(Buffer.from(data.subarray(start, stop))));
  return { body: Buffer.concat(pieces), end };
}

test('a download sends the request with its headers and gets every byte, including those that came with the head', async (t) => {
  const body = randomBytes(5 * 1024 * 1024 + 3);
  const raw = chunked('HTTP/1.1 200 OK', [body.subarray(0, 1000), body.subarray(1000)], 'X-Cellar-Backup-Entries: 3\r\n');
  const server = await rawServer(t, (socket) => {
    // The head and the start of the body in one write, the rest later.
    socket.write(raw.subarray(0, 4000));
    setTimeout(() => socket.end(raw.subarray(4000)), 50);
  });
  const download = await SocketDownload.open(server.url, { authorization: 'Bearer secret' });
  t.is(download.head.status, 200);
  // Nothing is read until the body is asked for.
  await new Promise((resolve) => setTimeout(resolve, 100));
  const { body: got, end } = await fetchBody(download);
  t.true(got.equals(body));
  t.deepEqual(end, { complete: true, trailers: { 'x-cellar-backup-entries': '3' } });
  t.regex(server.requests[0]!, /^GET \/__backup\?snapshots=false HTTP\/1\.1\r\nHost: 127\.0\.0\.1:\d+\r\nauthorization: Bearer secret\r\nConnection: close\r\n\r\n$/);
});

test('a download whose connection closes before the end of its body is not complete; one refused or unanswered fails', async (t) => {
  const cut = await rawServer(t, (socket) => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly forty bytes of the hundred promised'));
  const { body, end } = await fetchBody(await SocketDownload.open(cut.url, {}));
  t.is(body.toString(), 'only forty bytes of the hundred promised');
  t.false(end.complete);

  const silent = await rawServer(t, (socket) => socket.end());
  await t.throwsAsync(SocketDownload.open(silent.url, {}), { message: 'the unit closed the connection before it answered' });

  const free = net.createServer();
  await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve));
  const { port } = free.address() as AddressInfo;
  await new Promise((resolve) => free.close(resolve));
  await t.throwsAsync(SocketDownload.open(`http://127.0.0.1:${port}/`, {}), { code: 'ECONNREFUSED' });
  t.throws(() => SocketDownload.open(cut.url, { authorization: 'a\r\nX-Injected: 1' }), { message: /holds a line break/ });
});

test('a reader that throws stops the download with its error, and the connection is closed', async (t) => {
  let closed = false;
  const server = await rawServer(t, (socket) => {
    socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
    const timer = setInterval(() => socket.write('10000\r\n' + 'a'.repeat(0x10000) + '\r\n'), 5);
    socket.on('close', () => { clearInterval(timer); closed = true; });
  });
  const download = await SocketDownload.open(server.url, {});
  let bytes = 0;
  await t.throwsAsync(download.body((_data, start, end) => {
    bytes += end - start;
    if (bytes > 200_000) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
  }), { code: 'ENOSPC' });
  for (let wait = 0; !closed && wait < 100; wait++) await new Promise((resolve) => setTimeout(resolve, 20));
  t.true(closed);
});

test('a download over https reads the same way', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cellar-tls-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1']);
  const tlsOptions = { key: await readFile(key), cert: await readFile(cert) };
  const body = randomBytes(3 * 1024 * 1024);
  const sized = Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`), body]);
  const inChunks = chunked('HTTP/1.1 200 OK', [body.subarray(0, 100_000), body.subarray(100_000)], 'X-Cellar-Backup-Entries: 2\r\n');
  let answers = 0;
  // Each answer in one write: the client's TLS layer has many records in hand once the head is in.
  const server = await rawServer(t, (socket) => socket.end(answers++ % 2 === 0 ? sized : inChunks), tlsOptions);
  await t.throwsAsync(SocketDownload.open(server.url, {}), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
  answers = 0;
  for (const framing of ['Content-Length', 'chunked']) {
    const download = await SocketDownload.open(server.url, {}, { ca: tlsOptions.cert });
    // The body is asked for later, as the backup command does after opening its file.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const { body: got, end } = await fetchBody(download);
    t.true(end.complete, framing);
    t.is(got.length, body.length, framing);
    t.true(got.equals(body), framing);
  }
});

test("an error's body is read as text up to its limit, and the connection is closed there", async (t) => {
  let closed = false;
  const server = await rawServer(t, (socket) => {
    socket.write('HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n');
    // A body without end: the text stops at its limit.
    const timer = setInterval(() => socket.write('400\r\n' + '{"code":"PR403"}'.repeat(64) + '\r\n'), 2);
    socket.on('close', () => { clearInterval(timer); closed = true; });
  });
  const download = await SocketDownload.open(server.url, {});
  t.is(download.head.status, 403);
  const text = await download.text(5000);
  t.is(text.length, 5000);
  t.true(text.startsWith('{"code":"PR403"}{"code"'));
  for (let wait = 0; !closed && wait < 100; wait++) await new Promise((resolve) => setTimeout(resolve, 20));
  t.true(closed);
});
