// The snapshot area over a real socket: what clients see on the wire (absolute hrefs from the
// unit URL, chunked uploads, ranges), uploads cut short in every way a connection can end, and
// downloads that stream without holding files or memory.
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, readlink } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import test from 'ava';
import { errorBody } from '../core/errors.ts';
import { lingerMs } from '../core/refused-body.ts';
import { masterToken, startUnit, type TestUnit } from './helpers/unit.ts';

const authorization = `Bearer ${masterToken}`;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

async function listeningCell(): Promise<{ unit: TestUnit; url: string; dir: string }> {
  const unit = await startUnit({ unitUrl: '' });
  const url = await unit.listen();
  await unit.createCell('cell1');
  const { store, contents } = unit.server.cellar;
  return { unit, url, dir: contents.snapshotDir(store.findCell('cell1')!.id) };
}

const call = (url: string, method: string, headers: Record<string, string> = {}, body?: RequestInit['body']) =>
  fetch(url, { method, headers: { authorization, ...headers }, body, duplex: 'half' } as RequestInit);

const sha = (buffer: Buffer) => createHash('sha256').update(buffer).digest('hex');

/** Sends a PUT on a raw socket: the headers, `sent` bytes of the body, then ends the connection as told. */
async function cutPut(url: string, name: string, declared: number, sent: Buffer, end: 'destroy' | 'half-close'): Promise<string> {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  let answer = '';
  socket.on('data', (chunk) => { answer += String(chunk); });
  socket.on('error', () => {});
  socket.write(`PUT /cell1/__snapshot/${name} HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: ${authorization}\r\nContent-Length: ${declared}\r\n\r\n`);
  socket.write(sent);
  await new Promise((resolve) => setTimeout(resolve, 100));
  if (end === 'destroy') socket.destroy();
  else socket.end();
  await new Promise((resolve) => setTimeout(resolve, 100));
  socket.destroy();
  return answer;
}

async function waitUntil(check: () => Promise<boolean>, limitMs = 5000): Promise<boolean> {
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return check();
}

const noTemporaries = (dir: string) => waitUntil(async () => (await readdir(dir)).every((name) => !name.startsWith('.tmp-')));

async function openFilesUnder(dir: string): Promise<number> {
  const fds = await readdir('/proc/self/fd');
  const targets = await Promise.all(fds.map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
  return targets.filter((target) => target.startsWith(dir + path.sep)).length;
}

test('over a socket a file is put, listed with hrefs of the unit URL, read in ranges and deleted', async (t) => {
  const { unit, url } = await listeningCell();
  t.teardown(() => unit.stop());
  const content = randomBytes(70_000);
  const created = await call(`${url}/cell1/__snapshot/a%20b.zip`, 'PUT', { 'content-type': 'application/zip' }, content);
  t.is(created.status, 201);
  const etag = created.headers.get('etag')!;
  const list = await call(`${url}/cell1/__snapshot`, 'PROPFIND', { depth: '1' });
  t.is(list.status, 207);
  const xml = await list.text();
  t.true(xml.includes(`<D:href>${url}/cell1/__snapshot/</D:href>`), 'the root href is absolute');
  t.true(xml.includes(`<D:href>${url}/cell1/__snapshot/a%20b.zip</D:href>`), 'the file href is absolute and encoded');
  t.true(xml.includes('<D:getcontentlength>70000</D:getcontentlength>'));

  const whole = await call(`${url}/cell1/__snapshot/a%20b.zip`, 'GET');
  t.is(whole.headers.get('content-type'), 'application/zip');
  t.is(whole.headers.get('etag'), etag);
  t.is(sha(Buffer.from(await whole.arrayBuffer())), sha(content));
  const part = await call(`${url}/cell1/__snapshot/a%20b.zip`, 'GET', { range: 'bytes=65536-' });
  t.is(part.status, 206);
  t.is(part.headers.get('content-range'), 'bytes 65536-69999/70000');
  t.deepEqual(Buffer.from(await part.arrayBuffer()), content.subarray(65536));
  const head = await call(`${url}/cell1/__snapshot/a%20b.zip`, 'HEAD');
  t.is(head.headers.get('content-length'), '70000');
  t.is((await call(`${url}/cell1/__snapshot/a%20b.zip`, 'GET', { 'if-none-match': etag })).status, 304);
  const beyond = await call(`${url}/cell1/__snapshot/a%20b.zip`, 'GET', { range: 'bytes=70000-' });
  t.is(beyond.status, 416);
  t.deepEqual(await beyond.json(), errorBody('PR416-DV-0001'));
  t.is((await call(`${url}/cell1/__snapshot/a%20b.zip`, 'DELETE')).status, 204);
  const gone = await call(`${url}/cell1/__snapshot/a%20b.zip`, 'GET');
  t.is(gone.status, 404);
  t.deepEqual(await gone.json(), errorBody('PR404-DV-0001', [`${url}/cell1/__snapshot/a%20b.zip`]));
});

test('a chunked upload without Content-Length is stored whole', async (t) => {
  const { unit, url, dir } = await listeningCell();
  t.teardown(() => unit.stop());
  const parts = Array.from({ length: 20 }, () => randomBytes(10_000));
  const res = await call(`${url}/cell1/__snapshot/chunked.bin`, 'PUT', {}, Readable.toWeb(Readable.from(parts)) as ReadableStream);
  t.is(res.status, 201);
  t.deepEqual(await readFile(path.join(dir, 'chunked.bin')), Buffer.concat(parts));
});

test('a chunked upload past the size limit gets 413 PR413-DV-0001, the connection closes, nothing is left', async (t) => {
  const unit = await startUnit({ unitUrl: '', snapshot: { maxFiles: 1024, maxFileBytes: 50_000 } });
  t.teardown(() => unit.stop());
  const url = await unit.listen();
  await unit.createCell('cell1');
  const dir = unit.server.cellar.contents.snapshotDir(unit.server.cellar.store.findCell('cell1')!.id);
  // A raw socket, because fetch hides the Connection header: the client keeps sending, the server answers and closes.
  const socket = net.connect(Number(new URL(url).port), '127.0.0.1');
  let answer = '';
  socket.on('data', (chunk) => { answer += String(chunk); });
  socket.on('error', () => {}); // EPIPE when a write races the server's close
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(`PUT /cell1/__snapshot/big.bin HTTP/1.1\r\nHost: x\r\nAuthorization: ${authorization}\r\nTransfer-Encoding: chunked\r\n\r\n`);
  // It stops once the answer begins, as an HTTP client does: a write after the server's close would
  // fail with EPIPE and destroy the socket, dropping an answer not yet read.
  const sender = setInterval(() => { if (!socket.destroyed && answer === '') socket.write(`2710\r\n${'x'.repeat(10_000)}\r\n`); }, 2);
  await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 5000))]);
  clearInterval(sender);
  t.true(socket.destroyed || socket.readableEnded, 'the server closed the connection');
  socket.destroy();
  t.regex(answer, /^HTTP\/1.1 413 /);
  t.regex(answer, /\r\nconnection: close\r\n/i);
  t.deepEqual(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)), errorBody('PR413-DV-0001', [50_000]));
  t.true(await noTemporaries(dir));
  t.false((await readdir(dir)).includes('big.bin'));
});

test('a client that goes on sending after its 413 still reads the answer, and the connection is closed within the linger however long it sends', async (t) => {
  const unit = await startUnit({ unitUrl: '', snapshot: { maxFiles: 1024, maxFileBytes: 50_000 } });
  t.teardown(() => unit.stop());
  const url = await unit.listen();
  await unit.createCell('cell1');
  // Half-open allowed: the server's end of its side does not end this one's.
  const socket = net.connect({ port: Number(new URL(url).port), host: '127.0.0.1', allowHalfOpen: true });
  let answer = '';
  socket.on('data', (chunk) => { answer += String(chunk); });
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(`PUT /cell1/__snapshot/big.bin HTTP/1.1\r\nHost: x\r\nAuthorization: ${authorization}\r\nTransfer-Encoding: chunked\r\n\r\n`);
  // Unlike an HTTP client, it never stops: only the server's close ends the upload.
  const sender = setInterval(() => { if (!socket.destroyed) socket.write(`2710\r\n${'x'.repeat(10_000)}\r\n`); }, 2);
  const ended = await Promise.race([closed.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 4 * lingerMs))]);
  clearInterval(sender);
  socket.destroy();
  t.true(ended, 'the server closed the connection');
  t.regex(answer, /^HTTP\/1.1 413 /);
  t.deepEqual(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)), errorBody('PR413-DV-0001', [50_000]));
});

for (const end of ['destroy', 'half-close'] as const) {
  test(`an upload cut short (${end}) leaves the previous file byte-identical, creates nothing and leaves no temporary`, async (t) => {
    const { unit, url, dir } = await listeningCell();
    t.teardown(() => unit.stop());
    const original = randomBytes(50_000);
    t.is((await call(`${url}/cell1/__snapshot/keep.zip`, 'PUT', {}, original)).status, 201);
    await cutPut(url, 'keep.zip', 1_000_000, randomBytes(20_000), end);
    await cutPut(url, 'new.zip', 1_000_000, randomBytes(10), end);
    t.true(await noTemporaries(dir), 'no temporary file is left');
    t.deepEqual(await readFile(path.join(dir, 'keep.zip')), original);
    t.deepEqual((await readdir(dir)).filter((name) => !name.startsWith('.')), ['keep.zip']);
    const served = await call(`${url}/cell1/__snapshot/keep.zip`, 'GET');
    t.is(sha(Buffer.from(await served.arrayBuffer())), sha(original));
    t.true(unit.logs.some((line) => line.includes('snapshot upload did not complete')));
  });
}

test('reads that end early hold no file open: HEAD, 304, and a download the client drops', async (t) => {
  const { unit, url, dir } = await listeningCell();
  t.teardown(() => unit.stop());
  const content = randomBytes(8 * 1024 * 1024);
  const { headers } = await call(`${url}/cell1/__snapshot/big.bin`, 'PUT', {}, content);
  for (let i = 0; i < 20; i++) {
    await (await call(`${url}/cell1/__snapshot/big.bin`, 'HEAD')).arrayBuffer();
    await (await call(`${url}/cell1/__snapshot/big.bin`, 'GET', { 'if-none-match': headers.get('etag')! })).arrayBuffer();
  }
  await new Promise<void>((resolve) => {
    const { hostname, port } = new URL(url);
    const request = http.get({ hostname, port, path: '/cell1/__snapshot/big.bin', headers: { authorization } }, (res) => {
      res.once('data', () => { request.destroy(); resolve(); });
    });
    request.on('error', () => {});
  });
  t.true(await waitUntil(async () => (await openFilesUnder(dir)) === 0), 'every file handle is closed');
});

test.serial('a 96 MiB file goes up and down without the server holding it in memory', async (t) => {
  const { unit, url, dir } = await listeningCell();
  t.teardown(() => unit.stop());
  const block = randomBytes(1024 * 1024);
  const blocks = 96;
  // Live memory (after a full collection), sampled while the bytes flow; RSS would count garbage
  // too. Buffering the file would show ~96 MiB; streaming shows a few buffers (freed lazily).
  const live = () => { gc(); const usage = process.memoryUsage(); return usage.heapUsed + usage.arrayBuffers; };
  const before = live();
  let peak = before;
  const sampler = setInterval(() => { peak = Math.max(peak, live()); }, 250);
  t.teardown(() => clearInterval(sampler));
  // node:http on both legs: it honours back-pressure in-process (fetch's web streams run ahead).
  const { hostname, port } = new URL(url);
  const status = await new Promise<number | undefined>((resolve, reject) => {
    const request = http.request({ hostname, port, method: 'PUT', path: '/cell1/__snapshot/huge.bin', headers: { authorization, 'content-length': blocks * block.length } }, (res) => {
      res.resume();
      resolve(res.statusCode);
    }).once('error', reject);
    pipeline(Readable.from((function* () { for (let i = 0; i < blocks; i++) yield block; })()), request).catch(reject);
  });
  t.is(status, 201);
  const hash = createHash('sha256');
  let received = 0;
  await new Promise<void>((resolve, reject) => {
    http.get({ hostname, port, path: '/cell1/__snapshot/huge.bin', headers: { authorization } }, (res) => {
      res.on('data', (chunk: Buffer) => { hash.update(chunk); received += chunk.length; });
      res.once('end', resolve);
      res.once('error', reject);
    }).once('error', reject);
  });
  clearInterval(sampler);
  const expected = createHash('sha256');
  for (let i = 0; i < blocks; i++) expected.update(block);
  t.is(received, blocks * block.length);
  t.is(hash.digest('hex'), expected.digest('hex'));
  t.is((await readdir(dir)).filter((name) => !name.startsWith('.')).length, 1);
  const grownMb = (peak - before) / 1024 / 1024;
  t.log(`live memory grew by at most ${grownMb.toFixed(1)} MiB during a 96 MiB round trip`);
  t.true(grownMb < 40, `memory grew by ${grownMb.toFixed(1)} MiB`);
});
