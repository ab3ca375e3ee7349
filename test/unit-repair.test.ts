// Start-up never deletes what it cannot prove is garbage: a restored older unit.json, a changed
// contentId, folders without a mark are kept; malformed registries are refused like unparsable ones.
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { CorruptFileError } from '../core/json-file.ts';
import { UnitStore } from '../core/store.ts';
import { buildZip, importStatus, snapshotEntries, startImport, unitWithCell, upload } from './helpers/snapshot-zip.ts';
import { json, masterToken, startUnit, type TestUnit } from './helpers/unit.ts';
import { spawnServer } from './helpers/server-process.ts';

const unitFile = (dataDir: string) => path.join(dataDir, 'unit.json');

async function restart(unit: TestUnit): Promise<TestUnit> {
  await unit.server.stop();
  return startUnit({}, { dataDir: unit.dataDir });
}

async function readOld(unit: TestUnit): Promise<number> {
  const res = await unit.as({ method: 'GET', url: '/cell1/keep/old.txt' });
  return res.statusCode;
}

const malformed: Array<[string, string]> = [
  ['null', 'null'],
  ['a list', '[]'],
  ['a number', '42'],
  ['a cell without an id', '{"version":1,"cells":[{"name":"c","createdAt":1,"updatedAt":1,"status":"normal","contentId":"content-1"}]}'],
  ['an id that is a path', '{"version":1,"cells":[{"id":"../../..","name":"c","createdAt":1,"updatedAt":1,"status":"normal","contentId":"content-1"}]}'],
  ['a contentId that is a path', '{"version":1,"cells":[{"id":"abc","name":"c","createdAt":1,"updatedAt":1,"status":"normal","contentId":"../x"}]}'],
  ['two cells with one name', '{"version":1,"cells":[{"id":"a","name":"c","createdAt":1,"updatedAt":1,"status":"normal","contentId":"k"},{"id":"b","name":"c","createdAt":1,"updatedAt":1,"status":"normal","contentId":"k"}]}'],
];

for (const [what, text] of malformed) {
  test(`a unit.json holding ${what} is refused and kept aside, never taken for a registry`, async (t) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'cellar-malformed-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    await writeFile(unitFile(dir), text);
    await t.throwsAsync(new UnitStore(dir).initialize(), { instanceOf: CorruptFileError });
    const names = await readdir(dir);
    t.false(names.includes('unit.json'));
    const kept = names.find((name) => name.startsWith('unit.json.corrupt-'))!;
    t.is(await readFile(path.join(dir, kept), 'utf8'), text, 'the file is kept byte for byte');
  });
}

test('the server refuses a unit.json holding null with exit code 3, no stack trace, and the cells on disk untouched', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cellar-null-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await mkdir(path.join(dir, 'cells', 'abc', 'content-1'), { recursive: true });
  await writeFile(path.join(dir, 'cells', 'abc', 'content-1', 'odata.json'), '{}');
  await writeFile(unitFile(dir), 'null');
  const server = spawnServer(dir);
  t.is(await server.exited, 3);
  t.regex(server.output(), /refusing to start: .*unit\.json is not a readable JSON document \(the document is not an object\); it was kept aside as .*unit\.json\.corrupt-/);
  t.notRegex(server.output(), /\n\s+at /);
  t.is(await readFile(path.join(dir, 'cells', 'abc', 'content-1', 'odata.json'), 'utf8'), '{}');
  t.false((await readdir(dir)).includes('unit.lock'), 'the lock is released');
});

test('restoring a unit.json from before an import keeps the imported content and points the registry at it', async (t) => {
  const unit = await unitWithCell();
  const backup = path.join(unit.dataDir, 'unit.json.backup');
  await cp(unitFile(unit.dataDir), backup);
  await upload(unit, 'snap', buildZip(snapshotEntries()));
  t.is((await startImport(unit, 'snap')).statusCode, 202);
  t.deepEqual(await importStatus(unit), { status: 'ready' });
  const cellDir = unit.server.cellar.contents.cellDir(unit.server.cellar.store.findCell('cell1')!.id);
  const importedId = unit.server.cellar.store.findCell('cell1')!.contentId;
  await unit.server.stop();
  await cp(backup, unitFile(unit.dataDir));

  const again = await startUnit({}, { dataDir: unit.dataDir });
  t.teardown(() => again.stop());
  t.is(again.server.cellar.store.findCell('cell1')!.contentId, importedId);
  t.deepEqual(await readdir(cellDir), [importedId]);
  t.is((await again.as({ method: 'GET', url: '/cell1/__/top.txt' })).payload, 'top');
  t.true(again.logs.some((line) => line.includes('which is not on disk; it now names')));
  t.is(JSON.parse(await readFile(unitFile(unit.dataDir), 'utf8')).cells[0].contentId, importedId, 'the repair is written');
});

test('a contentId changed by one character deletes nothing: the only content folder is taken for the live one', async (t) => {
  const unit = await unitWithCell();
  const document = JSON.parse(await readFile(unitFile(unit.dataDir), 'utf8'));
  const original = document.cells[0].contentId as string;
  document.cells[0].contentId = `${original.slice(0, -1)}${original.endsWith('0') ? '1' : '0'}`;
  await unit.server.stop();
  await writeFile(unitFile(unit.dataDir), JSON.stringify(document));
  const again = await startUnit({}, { dataDir: unit.dataDir });
  t.teardown(() => again.stop());
  t.is(await readOld(again), 200);
  t.is(again.server.cellar.store.findCell('cell1')!.contentId, original);
});

test('only marked leftovers beside an existing live folder (a staging folder, a half-removed one) are removed; unmarked and unknown folders are kept and reported', async (t) => {
  const unit = await unitWithCell();
  const { store, contents } = unit.server.cellar;
  const cell = store.findCell('cell1')!;
  const cellDir = contents.cellDir(cell.id);
  await mkdir(path.join(cellDir, 'content-staged', 'dav'), { recursive: true });
  await writeFile(path.join(cellDir, 'content-staged', '.import-staging'), '');
  await mkdir(path.join(cellDir, 'content-unmarked'), { recursive: true });
  await mkdir(path.join(cellDir, '.deleted-content-old-1234', 'dav'), { recursive: true });
  await mkdir(path.join(unit.dataDir, 'cells', 'strangercell', 'content-x'), { recursive: true });
  const again = await restart(unit);
  t.teardown(() => again.stop());
  t.deepEqual((await readdir(cellDir)).sort(), [cell.contentId, 'content-unmarked'].sort());
  t.deepEqual(await readdir(path.join(unit.dataDir, 'cells', 'strangercell')), ['content-x']);
  t.is(await readOld(again), 200);
  const kept = again.logs.filter((line) => line.includes('kept a folder the registry does not name'));
  t.true(kept.some((line) => line.includes('content-unmarked')));
  t.true(kept.some((line) => line.includes('strangercell')));
});

test('a cell folder marked as being created but never listed is removed; a listed cell with no folders is laid out empty', async (t) => {
  const unit = await startUnit();
  await unit.createCell('listed');
  const { store, contents } = unit.server.cellar;
  const listed = store.findCell('listed')!;
  await unit.server.stop();
  await mkdir(path.join(unit.dataDir, 'cells', 'halfmade', 'content-1', 'dav'), { recursive: true });
  await writeFile(path.join(unit.dataDir, 'cells', 'halfmade', '.creating'), '');
  await mkdir(path.join(unit.dataDir, 'snapshots', 'halfmade'), { recursive: true });
  await rm(contents.cellDir(listed.id), { recursive: true });
  await rm(contents.snapshotDir(listed.id), { recursive: true });

  const again = await startUnit({}, { dataDir: unit.dataDir });
  t.teardown(() => again.stop());
  t.deepEqual((await readdir(path.join(unit.dataDir, 'cells'))).sort(), [listed.id]);
  t.deepEqual((await readdir(path.join(unit.dataDir, 'snapshots'))).sort(), [listed.id]);
  const propfind = await again.as({ method: 'PROPFIND', url: '/listed/', headers: { depth: '1' } });
  t.is(propfind.statusCode, 207);
  t.is(json(await again.as({ method: 'GET', url: '/listed/__ctl/Box' })).d.results.length, 0);
  t.is((await again.inject({ method: 'POST', url: '/__ctl/Cell', payload: { Name: 'halfmade' }, headers: { authorization: `Bearer ${masterToken}` } })).statusCode, 201);
});
