import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { CorruptFileError, DurableJsonFile } from '../core/json-file.ts';
import { UnitStore } from '../core/store.ts';

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
