// The smaller edges: names counted in UTF-8 bytes, XML that no PROPFIND needs, a chunked PROPFIND
// body past the limit, HEAD through X-HTTP-Method-Override, and what /__health tells strangers.
import net from 'node:net';
import test from 'ava';
import { errorBody } from '../core/errors.ts';
import { json, masterToken, startUnit } from './helpers/unit.ts';

async function unitWithCell(t: { teardown(fn: () => Promise<void>): void }) {
  const unit = await startUnit();
  t.teardown(() => unit.stop());
  await unit.createCell('cell1');
  return unit;
}

/** Sends raw bytes over one socket and collects what comes back until the server closes or `idleMs` pass. */
function exchange(port: number, write: (socket: net.Socket) => void, idleMs = 1500): Promise<{ text: string; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    let timer: NodeJS.Timeout;
    const done = (closedByServer: boolean) => { clearTimeout(timer); socket.destroy(); resolve({ text, closedByServer }); };
    const idle = () => { clearTimeout(timer); timer = setTimeout(() => done(false), idleMs); };
    socket.on('data', (chunk) => { text += String(chunk); idle(); });
    socket.on('error', () => {});
    socket.once('close', () => done(true));
    socket.once('connect', () => { write(socket); idle(); });
  });
}

test('names are counted in UTF-8 bytes: a 255-byte snapshot name is stored, a 258-byte one gets 400, long cell and box names too', async (t) => {
  const unit = await unitWithCell(t);
  const fits = 'あ'.repeat(85);
  const tooLong = 'あ'.repeat(86);
  t.is((await unit.as({ method: 'PUT', url: `/cell1/__snapshot/${encodeURIComponent(fits)}`, payload: 'x' })).statusCode, 201);
  const refused = await unit.as({ method: 'PUT', url: `/cell1/__snapshot/${encodeURIComponent(tooLong)}`, payload: 'x' });
  t.is(refused.statusCode, 400);
  t.deepEqual(json(refused), errorBody('PR400-DV-0008', [tooLong]));
  t.is((await unit.as({ method: 'PROPFIND', url: `/cell1/__snapshot/${encodeURIComponent(tooLong)}`, headers: { depth: '0' } })).statusCode, 400);
  t.is(json(await unit.as({ method: 'POST', url: '/__ctl/Cell', payload: { Name: 'c'.repeat(256) } })).code, 'PR400-CM-0002');
  t.is(json(await unit.as({ method: 'POST', url: '/cell1/__ctl/Box', payload: { Name: 'b'.repeat(256) } })).code, 'PR400-CM-0002');
});

test('a PROPFIND body with a DOCTYPE or 100,000 nested elements gets 400 PR400-DV-0001 on the snapshot area and the cell', async (t) => {
  const unit = await unitWithCell(t);
  const doctype = '<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY lol "lol">]><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>';
  const deep = `${'<a>'.repeat(100_000)}${'</a>'.repeat(100_000)}`;
  for (const url of ['/cell1/__snapshot/', '/cell1/']) {
    for (const payload of [doctype, deep]) {
      const res = await unit.as({ method: 'PROPFIND', url, payload, headers: { depth: '1', 'content-type': 'application/xml' } });
      t.is(res.statusCode, 400, url);
      t.deepEqual(json(res), errorBody('PR400-DV-0001'));
    }
  }
  const fine = await unit.as({ method: 'PROPFIND', url: '/cell1/__snapshot/', payload: '<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>', headers: { depth: '1' } });
  t.is(fine.statusCode, 207);
});

test('a chunked PROPFIND body over 1 MiB on the snapshot area gets 413 and the connection closes', async (t) => {
  const unit = await unitWithCell(t);
  await unit.listen();
  const port = Number(unit.server.info.port);
  const chunk = 'a'.repeat(64 * 1024);
  const { text, closedByServer } = await exchange(port, (socket) => {
    socket.write(`PROPFIND /cell1/__snapshot/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${masterToken}\r\nDepth: 1\r\nTransfer-Encoding: chunked\r\n\r\n`);
    // 2 MiB in chunks, more than the limit; the rest would follow if the server kept reading.
    for (let i = 0; i < 32; i++) socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
  });
  t.regex(text, /^HTTP\/1.1 413 /);
  t.regex(text, /"code":"PR413-DV-0001"/);
  t.true(closedByServer, 'the server closes the connection');
});

test('POST with X-HTTP-Method-Override: HEAD answers with Content-Length 0 and no body, and the connection goes on', async (t) => {
  const unit = await unitWithCell(t);
  await unit.listen();
  const port = Number(unit.server.info.port);
  const request = (override: string) => `POST /__ctl/Cell HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${masterToken}\r\nX-HTTP-Method-Override: ${override}\r\nContent-Length: 0\r\n\r\n`;
  const { text } = await exchange(port, (socket) => {
    socket.write(request('HEAD'));
    socket.write(request('GET'));
  }, 800);
  const answers = text.split(/(?=HTTP\/1.1 )/);
  t.is(answers.length, 2, 'both answers arrive on one connection');
  t.regex(answers[0]!, /^HTTP\/1.1 200 /);
  t.regex(answers[0]!, /\r\ncontent-length: 0\r\n/i);
  t.true(answers[0]!.endsWith('\r\n\r\n'), 'no body follows the headers');
  t.regex(answers[1]!, /"Name":"cell1"/);
});

test('GET /__health without a token says only ok; with the master token it also tells the version and the cells', async (t) => {
  const unit = await unitWithCell(t);
  const anonymous = await unit.inject({ method: 'GET', url: '/__health' });
  t.is(anonymous.statusCode, 200);
  t.deepEqual(json(anonymous), { status: 'ok' });
  t.deepEqual(json(await unit.inject({ method: 'GET', url: '/__health', headers: { authorization: 'Bearer wrong-token' } })), { status: 'ok' });
  t.like(json(await unit.as({ method: 'GET', url: '/__health' })), { status: 'ok', cells: 1 });
});
