// The method the cell gate sees is the method that runs: a POST overridden to a read runs that
// read (and writes nothing), one overridden to a write is refused while the cell exports or imports.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { box, boxDir, put, rawRequest, unitWithBox } from './helpers/box.ts';

/** Each way a request can name its method, with the method that must run. */
const shapes: Array<{ label: string; requestLine: string; lines: string[]; runs: 'GET' | 'HEAD' | 'PROPFIND' | 'write' }> = [
  { label: 'POST with X-HTTP-Method-Override: GET', requestLine: 'POST', lines: ['X-HTTP-Method-Override: GET'], runs: 'GET' },
  { label: 'POST with x-http-method-override: get (lower case)', requestLine: 'POST', lines: ['x-http-method-override: get'], runs: 'GET' },
  { label: 'POST with X-HTTP-Method-Override: HEAD padded with spaces', requestLine: 'POST', lines: ['X-HTTP-Method-Override:   HEAD  '], runs: 'HEAD' },
  { label: 'POST with X-HTTP-Method-Override: PROPFIND', requestLine: 'POST', lines: ['X-HTTP-Method-Override: PROPFIND', 'Depth: 0'], runs: 'PROPFIND' },
  { label: 'POST with X-Override: X-HTTP-Method-Override: GET', requestLine: 'POST', lines: ['X-Override: X-HTTP-Method-Override: GET'], runs: 'GET' },
  { label: 'POST with X-HTTP-Method-Override: PUT', requestLine: 'POST', lines: ['X-HTTP-Method-Override: PUT'], runs: 'write' },
  { label: 'POST with X-Override: X-HTTP-Method-Override: PUT', requestLine: 'POST', lines: ['X-Override: X-HTTP-Method-Override: PUT'], runs: 'write' },
  { label: 'POST with X-HTTP-Method-Override: MKCOL', requestLine: 'POST', lines: ['X-HTTP-Method-Override: MKCOL'], runs: 'write' },
  { label: 'POST with X-HTTP-Method-Override: GET, PUT', requestLine: 'POST', lines: ['X-HTTP-Method-Override: GET, PUT'], runs: 'write' },
  { label: 'POST with two X-HTTP-Method-Override headers', requestLine: 'POST', lines: ['X-HTTP-Method-Override: GET', 'X-HTTP-Method-Override: PUT'], runs: 'write' },
  { label: 'PUT with X-HTTP-Method-Override: GET (only a POST is overridden)', requestLine: 'PUT', lines: ['X-HTTP-Method-Override: GET'], runs: 'write' },
  { label: 'PUT with X-Override: X-HTTP-Method-Override: GET', requestLine: 'PUT', lines: ['X-Override: X-HTTP-Method-Override: GET'], runs: 'write' },
  { label: 'a bare POST', requestLine: 'POST', lines: [], runs: 'write' },
];

for (const job of ['export', 'import'] as const) {
  test(`during an ${job}, every override shape runs the method the gate saw: reads answer, writes get 409 and nothing changes`, async (t) => {
    const unit = await unitWithBox(t);
    const base = await unit.listen();
    await put(unit, `${box}/a.txt`, 'before');
    const dir = await boxDir(unit);
    const { status, store } = unit.server.cellar;
    await status.accept(store.findCell('cell1')!.id, job, 'x');
    for (const shape of shapes) {
      for (const target of ['a.txt', 'new.txt']) {
        const answer = await rawRequest(base, `${shape.requestLine} ${box}/${target} HTTP/1.1`, [...shape.lines, 'Content-Type: text/plain'], shape.runs === 'PROPFIND' ? '' : 'written during the job');
        const label = `${shape.label} on ${target}`;
        if (shape.runs === 'write') {
          t.is(answer.status, 409, label);
          t.regex(answer.body, /PR409-CM-0002/, label);
        } else if (target === 'new.txt') {
          t.is(answer.status, 404, label);
        } else {
          t.is(answer.status, shape.runs === 'PROPFIND' ? 207 : 200, label);
          if (shape.runs === 'GET') t.is(answer.body, 'before', label);
        }
      }
    }
    t.is(await readFile(path.join(dir, 'a.txt', 'content'), 'utf8'), 'before');
    t.deepEqual((await readdir(dir)).sort(), ['.pmeta', 'a.txt'], 'no new resource');
  });
}

test('outside a job, a POST overridden to PUT writes and one overridden to GET only reads', async (t) => {
  const unit = await unitWithBox(t);
  const base = await unit.listen();
  const written = await rawRequest(base, `POST ${box}/a.txt HTTP/1.1`, ['X-HTTP-Method-Override: PUT', 'Content-Type: text/plain'], 'by override');
  t.is(written.status, 201);
  const read = await rawRequest(base, `POST ${box}/a.txt HTTP/1.1`, ['X-HTTP-Method-Override: GET'], 'ignored body');
  t.is(read.status, 200);
  t.is(read.body, 'by override');
  const bare = await rawRequest(base, `POST ${box}/a.txt HTTP/1.1`, [], 'x');
  t.is(bare.status, 405);
  t.is(await readFile(path.join(await boxDir(unit), 'a.txt', 'content'), 'utf8'), 'by override');
});
