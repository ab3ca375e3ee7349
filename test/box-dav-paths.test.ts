// The box path model over a real socket: no spelling of the box root (doubled slashes, dot
// segments, encoded dots) can be deleted, copied or moved onto, and every name comes back
// percent-encoded in hrefs.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { box, boxDir, hrefsOf, isAlive, propfind, put, rawRequest, unitWithBox } from './helpers/box.ts';

const rootAliases = [
  '//', '///', '/./', '/.', '/%2e', '/%2E/', '/%2e/', '/docs/..', '/docs/../', '/docs/%2e%2e', '/docs/%2E%2E/',
  '/docs/./..', '/docs//..', '/./.', '/.//', '/docs/.%2e', '/docs/%2e./', '//docs/..', '/docs/..//', '/%2e%2e/box1/',
];

async function seeded(t: Parameters<typeof unitWithBox>[0]) {
  const unit = await unitWithBox(t);
  const base = await unit.listen();
  await unit.as({ method: 'MKCOL', url: `${box}/docs` });
  await put(unit, `${box}/docs/a.txt`, 'keep me');
  await put(unit, `${box}/top.txt`, 'me too');
  return { unit, base, dir: await boxDir(unit) };
}

async function intact(t: Parameters<typeof unitWithBox>[0], dir: string, label: string) {
  t.deepEqual((await readdir(dir)).sort(), ['.pmeta', 'docs', 'top.txt'], label);
  t.is(await readFile(path.join(dir, 'docs', 'a.txt', 'content'), 'utf8'), 'keep me', label);
}

test('DELETE of any alias of the box root is refused and the box keeps every file', async (t) => {
  const { unit, base, dir } = await seeded(t);
  for (const alias of rootAliases) {
    const answer = await rawRequest(base, `DELETE ${box}${alias} HTTP/1.1`);
    t.true(answer.status >= 400 && answer.status < 500, `DELETE ${alias}: ${answer.status}`);
    await intact(t, dir, `DELETE ${alias}`);
  }
  t.is((await propfind(unit, '/cell1/', '1')).statusCode, 207, 'the cell still answers PROPFIND');
  t.true(await isAlive(unit));
});

test('COPY and MOVE onto any alias of the box root with Overwrite: T are refused and the box keeps every file', async (t) => {
  const { unit, base, dir } = await seeded(t);
  for (const alias of rootAliases) {
    for (const method of ['COPY', 'MOVE']) {
      for (const destination of [`${box}${alias}`, `http://127.0.0.1${box}${alias}`]) {
        const answer = await rawRequest(base, `${method} ${box}/top.txt HTTP/1.1`, [`Destination: ${destination}`, 'Overwrite: T']);
        t.true((answer.status >= 400 && answer.status < 500) || answer.status === 502, `${method} to ${destination}: ${answer.status}`);
        await intact(t, dir, `${method} to ${destination}`);
      }
    }
  }
  t.true(await isAlive(unit));
});

test('COPY and MOVE from an alias of the box root are refused', async (t) => {
  const { base, dir } = await seeded(t);
  for (const alias of rootAliases) {
    for (const method of ['COPY', 'MOVE']) {
      const answer = await rawRequest(base, `${method} ${box}${alias} HTTP/1.1`, [`Destination: ${box}/docs/inside`]);
      t.true(answer.status >= 400 && answer.status < 500, `${method} from ${alias}: ${answer.status}`);
      await intact(t, dir, `${method} from ${alias}`);
    }
  }
});

test('PUT to the box root or an alias of it is refused and writes nothing', async (t) => {
  const { base, dir } = await seeded(t);
  for (const alias of ['', '/', ...rootAliases]) {
    const answer = await rawRequest(base, `PUT ${box}${alias} HTTP/1.1`, [], 'overwrite?');
    t.true(answer.status >= 400 && answer.status < 500, `PUT ${alias}: ${answer.status}`);
  }
  await intact(t, dir, 'after PUTs');
});

test('a path that climbs out of the box into another cell is refused before anything is done', async (t) => {
  const { unit, base } = await seeded(t);
  await unit.createCell('cell2');
  await unit.createBox('cell2', 'box1');
  await put(unit, '/cell2/box1/other.txt', 'other cell');
  const answer = await rawRequest(base, `DELETE ${box}/%2e%2e/%2e%2e/cell2/box1/other.txt HTTP/1.1`);
  t.is(answer.status, 400);
  t.is((await unit.as({ method: 'GET', url: '/cell2/box1/other.txt' })).payload, 'other cell');
});

test('names with #, %, +, spaces and non-ASCII letters are stored as named and listed percent-encoded', async (t) => {
  const { unit } = await seeded(t);
  const names = ['hash#1.txt', 'per%cent.txt', 'plus+sign.txt', 'with space.txt', 'café ünï.txt', '日本.txt'];
  for (const name of names) t.is((await put(unit, `${box}/docs/${encodeURIComponent(name)}`, name)).statusCode, 201, name);
  const listing = await propfind(unit, `${box}/docs/`, '1');
  const hrefs = hrefsOf(listing.payload);
  for (const name of names) {
    t.true(hrefs.includes(`${box}/docs/${encodeURIComponent(name)}`), `${name} listed as ${encodeURIComponent(name)}`);
    t.is((await unit.as({ method: 'GET', url: `${box}/docs/${encodeURIComponent(name)}` })).payload, name);
  }
  t.false(hrefs.some((href) => /[#\s]/.test(href)), 'no raw # or space in any href');
  t.deepEqual((await readdir(path.join(await boxDir(unit), 'docs'))).sort(), ['.pmeta', 'a.txt', ...names].sort());
});
