import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { CorruptFileError, DurableJsonFile } from '../core/json-file.ts';
import { CellNameTakenError, UnitStore } from '../core/store.ts';
import { CellStatusService, stateOf } from '../core/cell-status.ts';

async function tempDir(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'cellar-store-'));
}

test('the store keeps cells on disk and reads them back', async (t) => {
  const dir = await tempDir();
  const store = new UnitStore(dir);
  await store.initialize();
  const cell = await store.addCell('cell1');
  const again = new UnitStore(dir);
  await again.initialize();
  t.deepEqual(again.findCell('cell1'), cell);
  t.is(again.getCellById(cell.id)?.status, 'normal');
});

test('overlapping writes are coalesced and each resolves once its change is on disk', async (t) => {
  const dir = await tempDir();
  const file = path.join(dir, 'doc.json');
  const adapter = new DurableJsonFile<{ n: number }>(file);
  await Promise.all(Array.from({ length: 200 }, (_, n) => adapter.write({ n })));
  t.deepEqual(JSON.parse(await readFile(file, 'utf8')), { n: 199 });
  t.deepEqual(await readdir(dir), ['doc.json'], 'no temporary file is left');
});

test('a corrupt store file is kept aside and reported, never taken for an empty unit', async (t) => {
  const dir = await tempDir();
  await writeFile(path.join(dir, 'unit.json'), '{"version":1,"cells":[{"id":"a"');
  const store = new UnitStore(dir);
  const error = await t.throwsAsync(store.initialize(), { instanceOf: CorruptFileError });
  t.regex(error!.keptAs, /unit\.json\.corrupt-/);
  t.is(await readFile(error!.keptAs, 'utf8'), '{"version":1,"cells":[{"id":"a"');
  t.false((await readdir(dir)).includes('unit.json'));
});

test('an empty store file is corrupt too', async (t) => {
  const dir = await tempDir();
  await writeFile(path.join(dir, 'unit.json'), '');
  await t.throwsAsync(new UnitStore(dir).initialize(), { instanceOf: CorruptFileError, message: /empty/ });
});

test('the server refuses to start over a corrupt store and says where the file went', async (t) => {
  const dir = await tempDir();
  await writeFile(path.join(dir, 'unit.json'), 'not json');
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'bin/server.ts'], {
    env: { ...process.env, CELLAR_DATA_DIR: dir, CELLAR_PORT: '0', CELLAR_MASTER_TOKEN: 'test-master-token-0123456789' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  t.is(result.status, 3);
  t.regex(result.stderr, /refusing to start: .*unit\.json is not a readable JSON document.*kept aside as .*unit\.json\.corrupt-/);
});

test('a cell whose registry write fails is not listed, not even by the next write that succeeds', async (t) => {
  const dir = await tempDir();
  const store = new UnitStore(dir);
  await store.initialize();
  await store.addCell('first');
  // A folder where unit.json must be renamed to: every write fails until it is gone.
  await rm(path.join(dir, 'unit.json'));
  await mkdir(path.join(dir, 'unit.json'));
  await t.throwsAsync(store.addCell('lost'));
  t.deepEqual(store.listCells().map((cell) => cell.name), ['first']);
  t.is(store.findCell('lost'), undefined);
  await rm(path.join(dir, 'unit.json'), { recursive: true });
  await store.addCell('second');
  const again = new UnitStore(dir);
  await again.initialize();
  t.deepEqual(again.listCells().map((cell) => cell.name), ['first', 'second']);
});

test('a cell whose removal cannot be written stays listed; concurrent creations of one name give one cell', async (t) => {
  const dir = await tempDir();
  const store = new UnitStore(dir);
  await store.initialize();
  const cell = await store.addCell('kept');
  await rm(path.join(dir, 'unit.json'));
  await mkdir(path.join(dir, 'unit.json'));
  await t.throwsAsync(store.removeCell(cell.id));
  t.is(store.findCell('kept')?.id, cell.id);
  await rm(path.join(dir, 'unit.json'), { recursive: true });
  const results = await Promise.allSettled(Array.from({ length: 5 }, () => store.addCell('twin')));
  t.is(results.filter((result) => result.status === 'fulfilled').length, 1);
  for (const result of results) if (result.status === 'rejected') t.true(result.reason instanceof CellNameTakenError);
  const again = new UnitStore(dir);
  await again.initialize();
  t.deepEqual(again.listCells().map((one) => one.name), ['kept', 'twin']);
});

test('a job accepted while the registry cannot be written leaves the cell idle, not busy forever', async (t) => {
  const dir = await tempDir();
  const store = new UnitStore(dir);
  await store.initialize();
  const cell = await store.addCell('cell1');
  const status = new CellStatusService(store);
  await rm(path.join(dir, 'unit.json'));
  await mkdir(path.join(dir, 'unit.json'));
  await t.throwsAsync(status.accept(cell.id, 'import', 'snap'));
  t.is(store.findCell('cell1')!.job, undefined);
  t.is(stateOf(store.findCell('cell1')!).activity, 'idle');
  await rm(path.join(dir, 'unit.json'), { recursive: true });
  await status.accept(cell.id, 'export', 'e1');
  t.is(store.findCell('cell1')!.job?.kind, 'export');
});
