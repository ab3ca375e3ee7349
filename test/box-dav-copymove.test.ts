// COPY and MOVE: Destination rules (another host 502, into a file or a missing collection 409),
// Overwrite (RFC 4918 §10.6), Depth, and never into the source's own tree.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { json } from './helpers/unit.ts';
import { box, boxDir, put, unitWithBox } from './helpers/box.ts';

async function seeded(t: Parameters<typeof unitWithBox>[0]) {
  const unit = await unitWithBox(t);
  await unit.as({ method: 'MKCOL', url: `${box}/dir` });
  await put(unit, `${box}/dir/a.txt`, 'a');
  await put(unit, `${box}/file.txt`, 'plain file');
  return unit;
}

test('COPY and MOVE to another host are 502 and copy nothing', async (t) => {
  const unit = await seeded(t);
  for (const destination of [`http://elsewhere.example${box}/b.txt`, `https://unit.test.evil${box}/b.txt`, `ftp://unit.test${box}/b.txt`]) {
    for (const method of ['COPY', 'MOVE']) {
      const res = await unit.as({ method, url: `${box}/file.txt`, headers: { destination } });
      t.is(res.statusCode, 502, `${method} ${destination}`);
      t.is(json(res).code, 'PR502-DV-0001');
    }
  }
  t.deepEqual((await readdir(await boxDir(unit))).sort(), ['.pmeta', 'dir', 'file.txt']);
});

test('COPY and MOVE to this unit\'s own host, by unit URL or by Host header, are done', async (t) => {
  const unit = await seeded(t);
  t.is((await unit.as({ method: 'COPY', url: `${box}/file.txt`, headers: { destination: `http://unit.test${box}/one.txt` } })).statusCode, 201);
  const byHost = await unit.as({ method: 'COPY', url: `${box}/file.txt`, headers: { host: 'alias.local:8080', destination: `http://alias.local:8080${box}/two.txt` } });
  t.is(byHost.statusCode, 201);
});

test('COPY or MOVE into a file resource, or into a missing collection, is 409', async (t) => {
  const unit = await seeded(t);
  for (const method of ['COPY', 'MOVE']) {
    for (const destination of [`${box}/file.txt/inside.txt`, `${box}/missing/inside.txt`]) {
      const res = await unit.as({ method, url: `${box}/dir/a.txt`, headers: { destination } });
      t.is(res.statusCode, 409, `${method} ${destination}`);
      t.is(json(res).code, 'PR409-DV-0003');
    }
  }
  t.is(await readFile(path.join(await boxDir(unit), 'file.txt', 'content'), 'utf8'), 'plain file');
  t.deepEqual((await readdir(path.join(await boxDir(unit), 'file.txt'))).sort(), ['.pmeta', 'content']);
});

test('Overwrite: F onto an existing resource is 412; T (or absent) replaces it with 204; a bad value is 400', async (t) => {
  const unit = await seeded(t);
  await put(unit, `${box}/target.txt`, 'old target');
  t.is((await unit.as({ method: 'COPY', url: `${box}/file.txt`, headers: { destination: `${box}/target.txt`, overwrite: 'F' } })).statusCode, 412);
  t.is((await unit.as({ method: 'GET', url: `${box}/target.txt` })).payload, 'old target');
  t.is((await unit.as({ method: 'COPY', url: `${box}/file.txt`, headers: { destination: `${box}/target.txt`, overwrite: 'maybe' } })).statusCode, 400);
  t.is((await unit.as({ method: 'COPY', url: `${box}/file.txt`, headers: { destination: `${box}/target.txt` } })).statusCode, 204);
  t.is((await unit.as({ method: 'GET', url: `${box}/target.txt` })).payload, 'plain file');
  const moved = await unit.as({ method: 'MOVE', url: `${box}/dir`, headers: { destination: `${box}/target.txt`, overwrite: 'T' } });
  t.is(moved.statusCode, 204, 'a collection replaces a file');
  t.is((await unit.as({ method: 'GET', url: `${box}/target.txt/a.txt` })).payload, 'a');
  t.is((await unit.as({ method: 'GET', url: `${box}/dir/a.txt` })).statusCode, 404);
});

test('COPY Depth: 0 of a collection copies it without members; Depth: 1 is 400; MOVE takes only infinity', async (t) => {
  const unit = await seeded(t);
  t.is((await unit.as({ method: 'COPY', url: `${box}/dir`, headers: { destination: `${box}/shallow`, depth: '0' } })).statusCode, 201);
  t.deepEqual(await readdir(path.join(await boxDir(unit), 'shallow')), ['.pmeta']);
  t.is((await unit.as({ method: 'COPY', url: `${box}/dir`, headers: { destination: `${box}/x`, depth: '1' } })).statusCode, 400);
  t.is((await unit.as({ method: 'MOVE', url: `${box}/dir`, headers: { destination: `${box}/x`, depth: '0' } })).statusCode, 400);
  t.is((await unit.as({ method: 'COPY', url: `${box}/dir`, headers: { destination: `${box}/deep` } })).statusCode, 201);
  t.is((await unit.as({ method: 'GET', url: `${box}/deep/a.txt` })).payload, 'a');
});

test('COPY or MOVE onto itself, into its own tree, or onto its ancestor is 403 and changes nothing', async (t) => {
  const unit = await seeded(t);
  for (const [source, destination] of [[`${box}/dir`, `${box}/dir`], [`${box}/dir`, `${box}/dir/sub`], [`${box}/dir/a.txt`, `${box}/dir`]]) {
    for (const method of ['COPY', 'MOVE']) {
      const res = await unit.as({ method, url: source!, headers: { destination: destination!, overwrite: 'T' } });
      t.is(res.statusCode, 403, `${method} ${source} → ${destination}`);
    }
  }
  t.is((await unit.as({ method: 'GET', url: `${box}/dir/a.txt` })).payload, 'a');
});

test('a copy is a new resource with new ids; a move keeps the resource', async (t) => {
  const unit = await seeded(t);
  const dir = await boxDir(unit);
  const original = JSON.parse(await readFile(path.join(dir, 'file.txt', '.pmeta'), 'utf8'));
  await unit.as({ method: 'COPY', url: `${box}/file.txt`, headers: { destination: `${box}/copy.txt` } });
  const copy = JSON.parse(await readFile(path.join(dir, 'copy.txt', '.pmeta'), 'utf8'));
  t.not(copy.i, original.i);
  await unit.as({ method: 'MOVE', url: `${box}/file.txt`, headers: { destination: `${box}/moved.txt` } });
  t.is(JSON.parse(await readFile(path.join(dir, 'moved.txt', '.pmeta'), 'utf8')).i, original.i);
});
