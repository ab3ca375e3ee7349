// Requests that crashed the unit under the old WebDAV library, sent over a real socket: each is
// answered with a 4xx (or its success) and the unit keeps serving.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { box, boxDir, isAlive, put, rawRequest, unitWithBox } from './helpers/box.ts';

const methods = ['GET', 'HEAD', 'PUT', 'DELETE', 'MKCOL', 'COPY', 'MOVE', 'PROPFIND', 'PROPPATCH', 'LOCK', 'UNLOCK', 'OPTIONS'];

test('MKCOL with an If header is evaluated: DAV:no-lock fails with 412, Not DAV:no-lock creates the collection', async (t) => {
  const unit = await unitWithBox(t);
  const base = await unit.listen();
  const refused = await rawRequest(base, `MKCOL ${box}/newcol HTTP/1.1`, ['If: (<DAV:no-lock>)']);
  t.is(refused.status, 412);
  t.regex(refused.body, /PR412-DV-0002/);
  const created = await rawRequest(base, `MKCOL ${box}/newcol HTTP/1.1`, ['If: (Not <DAV:no-lock>)']);
  t.is(created.status, 201);
  t.true(await isAlive(unit));
});

for (const [label, ifValue] of [
  ['a tagged URI without a path', '<http:> (<opaquelocktoken:x>)'],
  ['a tagged URI that does not parse', '<http://[::1> (<x>)'],
  ['a list that never closes', '(<opaquelocktoken:x>'],
  ['a state token that is not a URI', '(<x>)'],
  ['an empty list', '()'],
  ['tagged and untagged lists mixed', '(<urn:uuid:1>) <http://127.0.0.1/cell1/box1/a.txt> (<urn:uuid:2>)'],
] as const) {
  test(`an If header with ${label} is 400 for every method, sent directly or through X-Override, and nothing changes`, async (t) => {
    const unit = await unitWithBox(t);
    const base = await unit.listen();
    await put(unit, `${box}/a.txt`, 'alive');
    for (const method of methods) {
      for (const lines of [[`If: ${ifValue}`], [`X-Override: If: ${ifValue}`]]) {
        const extra = method === 'COPY' || method === 'MOVE' ? [`Destination: ${box}/b.txt`] : [];
        const answer = await rawRequest(base, `${method} ${box}/a.txt HTTP/1.1`, [...lines, ...extra, 'Lock-Token: <urn:uuid:1>'], method === 'PUT' ? 'changed' : '');
        const expected = method === 'OPTIONS' ? 200 : 400;
        t.is(answer.status, expected, `${method} with ${lines[0]}`);
        if (expected === 400 && method !== 'HEAD') t.regex(answer.body, /"code":"PR400-EV-0002"/, method);
      }
    }
    t.true(await isAlive(unit));
    t.is(await readFile(path.join(await boxDir(unit), 'a.txt', 'content'), 'utf8'), 'alive');
  });
}

test('X-Override of Content-Length is ignored: the PUT is answered at once and stores the real body', async (t) => {
  const unit = await unitWithBox(t);
  const base = await unit.listen();
  const answer = await rawRequest(base, `PUT ${box}/a.txt HTTP/1.1`, ['X-Override: Content-Length: abc', 'Content-Type: text/plain'], 'twelve bytes');
  t.is(answer.status, 201);
  t.is(await readFile(path.join(await boxDir(unit), 'a.txt', 'content'), 'utf8'), 'twelve bytes');
  const transfer = await rawRequest(base, `PUT ${box}/b.txt HTTP/1.1`, ['X-Override: Transfer-Encoding: chunked'], 'plain body');
  t.is(transfer.status, 201);
  t.is(await readFile(path.join(await boxDir(unit), 'b.txt', 'content'), 'utf8'), 'plain body');
  t.true(await isAlive(unit));
});

test('a request target with a fragment is 400 and removes nothing', async (t) => {
  const unit = await unitWithBox(t);
  const base = await unit.listen();
  await unit.as({ method: 'MKCOL', url: `${box}/frag` });
  const answer = await rawRequest(base, `DELETE ${box}/frag/#ment HTTP/1.1`);
  t.is(answer.status, 400);
  t.is((await unit.as({ method: 'PROPFIND', url: `${box}/frag/`, headers: { depth: '0' } })).statusCode, 207);
});
