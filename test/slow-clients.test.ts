// Slow and stuck clients over real sockets: connections past the cap are refused at once, headers
// that never end are cut off promptly, a stalled upload is ended and cleaned up while a slow but
// moving one completes, and a flood of headers is answered 431.
import { readdir } from 'node:fs/promises';
import net from 'node:net';
import test from 'ava';
import { connectionCap } from '../core/listener-limits.ts';
import { areaDirOf } from './helpers/export.ts';
import { masterToken, startUnit, type TestUnit } from './helpers/unit.ts';

const http = { maxConnections: 12, headersTimeoutMs: 1000, bodyIdleTimeoutMs: 800, keepAliveTimeoutMs: 1000, maxHeaders: 200 };

async function listening(t: { teardown(fn: () => Promise<void>): void }): Promise<TestUnit & { port: number }> {
  const unit = await startUnit({ http });
  await unit.createCell('cell1');
  await unit.listen();
  t.teardown(() => unit.stop());
  return Object.assign(unit, { port: Number(unit.server.info.port) });
}

interface Opened { socket: net.Socket; received: () => string; closed: Promise<number> }

function open(port: number, first = ''): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (chunk) => { text += String(chunk); });
    socket.on('error', () => {});
    const closed = new Promise<number>((done) => socket.once('close', () => done(Date.now() - started)));
    socket.once('connect', () => {
      if (first) socket.write(first);
      resolve({ socket, received: () => text, closed });
    });
    socket.once('error', reject);
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('the derived connection cap leaves descriptors for the jobs', (t) => {
  t.is(connectionCap(0, 2, 1024), 1024 - 64 - 2 * 64);
  t.is(connectionCap(0, 2, 65536), 1024, 'never above the ceiling');
  t.is(connectionCap(50, 2, 1024), 50, 'a configured cap wins');
});

test('connections past the cap are closed at once, headers that never end are cut off within seconds, and the unit answers again', async (t) => {
  const unit = await listening(t);
  const held = await Promise.all(Array.from({ length: http.maxConnections }, () => open(unit.port, 'GET /__health HTTP/1.1\r\nHost: x\r\n')));
  await sleep(100);
  const extra = await open(unit.port, 'GET /__health HTTP/1.1\r\nHost: x\r\n\r\n');
  t.true((await extra.closed) < 1000, 'the connection past the cap is closed at once');
  t.is(extra.received(), '', 'and gets no answer');
  const lifetimes = await Promise.all(held.map((one) => one.closed));
  t.true(Math.max(...lifetimes) < 3500, `unfinished headers are cut off promptly (longest ${Math.max(...lifetimes)} ms)`);
  // hapi answers every client error of the parser, a header timeout too, with a bare 400.
  t.true(held.every((one) => /^HTTP\/1.1 400 /.test(one.received())), 'each is answered before it is closed');
  t.is((await fetch(`${unit.url}/__health`)).status, 200);
});

test('a stalled snapshot upload is ended and cleaned up, the previous file kept; a slow but moving one completes', async (t) => {
  const unit = await listening(t);
  const auth = { authorization: `Bearer ${masterToken}` };
  t.is((await fetch(`${unit.url}/cell1/__snapshot/a.bin`, { method: 'PUT', body: 'original', headers: auth })).status, 201);

  const stalled = await open(unit.port, `PUT /cell1/__snapshot/a.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${masterToken}\r\nContent-Length: 1000\r\n\r\n${'x'.repeat(100)}`);
  const lifetime = await stalled.closed;
  t.true(lifetime < 3000, `the stalled upload is ended (after ${lifetime} ms)`);
  await sleep(100);
  t.is(await (await fetch(`${unit.url}/cell1/__snapshot/a.bin`, { headers: auth })).text(), 'original');
  t.deepEqual((await readdir(areaDirOf(unit, 'cell1'))).filter((name) => name.startsWith('.tmp-')), [], 'no temporary file is left');

  const body = 'slowly!';
  const slow = await open(unit.port, `PUT /cell1/__snapshot/b.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${masterToken}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`);
  for (const char of body) {
    await sleep(350);
    slow.socket.write(char);
  }
  await slow.closed;
  t.regex(slow.received(), /^HTTP\/1.1 201/);
  t.is(await (await fetch(`${unit.url}/cell1/__snapshot/b.bin`, { headers: auth })).text(), body);
});

test('a thousand headers before Authorization get 431, not a 401 for a header dropped on the way', async (t) => {
  const unit = await listening(t);
  const headers = Array.from({ length: 1000 }, (_, i) => `X-Filler-${i}: v\r\n`).join('');
  const client = await open(unit.port, `GET /__ctl/Cell HTTP/1.1\r\nHost: x\r\n${headers}Authorization: Bearer ${masterToken}\r\n\r\n`);
  await client.closed;
  t.regex(client.received(), /^HTTP\/1.1 431/);
  t.regex(client.received(), /"code":"PR431-CM-0001"/);
  const few = await fetch(`${unit.url}/__ctl/Cell`, { headers: { authorization: `Bearer ${masterToken}`, 'x-a': '1', 'x-b': '2' } });
  t.is(few.status, 200);
});
