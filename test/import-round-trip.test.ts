// Round trip as a property test: random cell trees go in over WebDAV, are exported, imported into
// a new cell (and back into the source), exported again, and must come out the same.
import { randomBytes } from 'node:crypto';
import test from 'ava';
import { seeded as prng } from '../bench/lib/corpus.ts';
import { postExport, untilReady, areaDirOf } from './helpers/export.ts';
import { readZip, type ZipEntryRead } from './helpers/zip.ts';
import { json, masterToken, startUnit, type TestUnit } from './helpers/unit.ts';

const names = ['a', 'docs', 'Ünïcödé', '日本語', 'with space', 'x-y_z', 'empty', 'deep'];

async function dav(unit: TestUnit, method: string, path: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<number> {
  const res = await fetch(`${unit.url}${path.split('/').map(encodeURIComponent).join('/')}`, { method, body, headers: { authorization: `Bearer ${masterToken}`, ...headers } });
  await res.arrayBuffer();
  return res.status;
}

/** Builds a random tree in a box over a real socket; returns nothing, the export is the record. */
async function randomTree(unit: TestUnit, base: string, random: () => number, depth: number): Promise<void> {
  const count = 1 + Math.floor(random() * 3);
  for (let i = 0; i < count; i++) {
    const name = `${names[Math.floor(random() * names.length)]}${i}`;
    const kind = random();
    if (kind < 0.3 && depth < 3) {
      if (await dav(unit, 'MKCOL', `${base}/${name}`) !== 201) throw new Error(`MKCOL ${base}/${name}`);
      if (random() < 0.7) await randomTree(unit, `${base}/${name}`, random, depth + 1);
    } else {
      const size = kind < 0.45 ? 0 : Math.floor(random() * 20_000);
      const body = kind < 0.7 ? randomBytes(size) : Buffer.from('text '.repeat(Math.ceil(size / 5)).slice(0, size));
      if (![201, 204].includes(await dav(unit, 'PUT', `${base}/${name}.bin`, body, { 'content-type': random() < 0.5 ? 'application/x-test' : 'text/plain' }))) throw new Error('PUT');
      if (random() < 0.5) {
        const xml = `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:z="urn:cellar:test"><D:set><D:prop><z:note>${i}-${size}</z:note></D:prop></D:set></D:propertyupdate>`;
        if (await dav(unit, 'PROPPATCH', `${base}/${name}.bin`, xml, { 'content-type': 'application/xml' }) !== 207) throw new Error('PROPPATCH');
      }
    }
  }
}

async function exportOf(unit: TestUnit, cell: string, name: string): Promise<Map<string, ZipEntryRead>> {
  const res = await postExport(unit, cell, { Name: name });
  if (res.statusCode !== 202) throw new Error(`export ${res.statusCode} ${res.payload}`);
  await untilReady(unit, cell);
  return readZip(`${areaDirOf(unit, cell)}/${name}.zip`);
}

async function importInto(unit: TestUnit, cell: string, name: string, zipPath: string): Promise<void> {
  if (`${areaDirOf(unit, cell)}/${name}.zip` !== zipPath) {
    const { readFile } = await import('node:fs/promises');
    const put = await unit.as({ method: 'PUT', url: `/${cell}/__snapshot/${name}.zip`, payload: await readFile(zipPath) });
    if (![201, 204].includes(put.statusCode)) throw new Error(`PUT ${put.statusCode}`);
  }
  const res = await unit.as({ method: 'POST', url: `/${cell}/__import`, payload: { Name: name } });
  if (res.statusCode !== 202) throw new Error(`import ${res.statusCode} ${res.payload}`);
  for (let i = 0; i < 400; i++) {
    const status = json(await unit.as({ method: 'GET', url: `/${cell}/__import` }));
    if (status.status === 'ready') return;
    if (status.status === 'import failed') throw new Error(`import failed: ${JSON.stringify(status.message)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('import did not end');
}

/** What must survive a round trip: ids, names of the cell, and timestamps aside. */
function comparable(entries: Map<string, ZipEntryRead>): Record<string, unknown> {
  const boxLines = entries.get('10_odata/10_box.pjson')!.data.toString('utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line));
  const boxNames = new Map<string, string>(boxLines.map((line: { _id: string; _source: { s: { Name: string } } }) => [line._id, line._source.s.Name]));
  const out: Record<string, unknown> = { boxes: [...boxNames.values()].sort() };
  for (const [name, entry] of entries) {
    if (!name.startsWith('20_webdav/')) {
      if (name.startsWith('10_odata/') && name !== '10_odata/10_box.pjson' && name !== '10_odata/00_cell.json') out[name] = entry.data.toString('utf8');
      continue;
    }
    const segments = name.split('/');
    if (segments[1] && boxNames.has(segments[1])) segments[1] = `box:${boxNames.get(segments[1])}`;
    const key = segments.join('/');
    if (name.endsWith('/.pmeta')) {
      const { t, ct, cl, d, a } = JSON.parse(entry.data.toString('utf8'));
      out[key] = { t, ct, cl, d, a };
    } else {
      out[key] = entry.directory ? 'dir' : entry.data.toString('base64');
    }
  }
  return out;
}

for (const seed of [1, 2, 3]) {
  test(`a random cell tree (seed ${seed}) survives export, import into another cell and export again`, async (t) => {
    const unit = await startUnit();
    t.teardown(() => unit.stop());
    await unit.listen();
    const random = prng(seed);
    await unit.createCell('source');
    await unit.createBox('source', 'box1');
    await unit.createBox('source', 'box2');
    for (const box of ['__', 'box1', 'box2']) await randomTree(unit, `/source/${box}`, random, 0);

    const first = await exportOf(unit, 'source', 'first');
    await unit.createCell('copy');
    await importInto(unit, 'copy', 'first', `${areaDirOf(unit, 'source')}/first.zip`);
    const second = await exportOf(unit, 'copy', 'second');
    t.deepEqual(comparable(second), comparable(first));

    // And back into the source cell itself, over its own content.
    await importInto(unit, 'source', 'first', `${areaDirOf(unit, 'source')}/first.zip`);
    const third = await exportOf(unit, 'source', 'third');
    t.deepEqual(comparable(third), comparable(first));
    t.true(Object.keys(comparable(first)).length > 10, 'the tree is not trivial');
  });
}
