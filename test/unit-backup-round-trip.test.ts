import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { cellar } from './helpers/cli.ts';
import { masterToken, startUnit, type TestUnit } from './helpers/unit.ts';
import { encodePath, manifestOf, populate, sampleFiles, treeOf } from './helpers/unit-backup.ts';

async function tokenOf(dataDir: string): Promise<string> {
  return (await readFile(path.join(dataDir, 'master-token'), 'utf8')).trim();
}

/**
 * A listening unit on `dataDir` whose master token is the one kept in the folder, as a generated
 * one is (a new folder gets the tests' token written there first).
 */
async function unitOn(dataDir: string): Promise<TestUnit> {
  await mkdir(dataDir, { recursive: true });
  await writeFile(path.join(dataDir, 'master-token'), `${masterToken}\n`, { mode: 0o600, flag: 'wx' }).catch(() => {});
  const unit = await startUnit({ unitUrl: '', masterToken: '' }, { dataDir });
  await unit.listen();
  return unit;
}

async function get(unit: TestUnit, token: string, url: string, init: RequestInit = {}) {
  return fetch(`${unit.url}${encodePath(url)}`, { ...init, headers: { authorization: `Bearer ${token}`, ...init.headers as Record<string, string> } });
}

test('a backup restored into a new folder serves the same unit, byte for byte, and backs up to the same manifest', async (t) => {
  // Big files on a machine shared with other test runs.
  t.timeout(180_000);
  const work = await mkdtemp(path.join(os.tmpdir(), 'cellar-backup-'));
  const original = path.join(work, 'original');
  const restored = path.join(work, 'restored');
  let unit = await unitOn(original);
  t.teardown(async () => {
    await unit.stop();
    await rm(work, { recursive: true, force: true });
  });
  await populate(unit);
  const token = await tokenOf(original);

  const backup = await cellar(unit, ['unit', 'backup', 'unit.tar'], { cwd: work, env: { CELLAR_TOKEN: token } });
  t.is(backup.code, 0, backup.stderr);
  t.regex(backup.stdout, /^saved the unit backup to unit\.tar \(.+\): 3 cells, \d+ entries, .+ secrets: master-token(, token-key)?; made /);
  t.regex(backup.stderr, /unit\.tar holds the unit's secrets: keep it as safe as the data directory/);
  t.deepEqual((await readdir(work)).sort(), ['original', 'unit.tar'], 'no temporary file is left beside it');
  t.is((await stat(path.join(work, 'unit.tar'))).mode & 0o777, 0o600);
  const treeBefore = await treeOf(original);
  const registryBefore = JSON.parse(await readFile(path.join(original, 'unit.json'), 'utf8'));
  await unit.stop();

  const verify = await cellar({ url: '' }, ['unit', 'verify', 'unit.tar'], { cwd: work });
  t.is(verify.code, 0, verify.stderr);
  t.regex(verify.stdout, /^unit\.tar is a whole unit backup: 3 cells, /);

  const restore = await cellar({ url: '' }, ['unit', 'restore', 'unit.tar', '--data-dir', 'restored'], { cwd: work });
  t.is(restore.code, 0, restore.stderr);
  t.deepEqual((await readdir(work)).sort(), ['original', 'restored', 'unit.tar'], 'the staging folder is gone');
  t.deepEqual(await treeOf(restored), treeBefore, 'every file and folder is back with the same bytes');
  t.deepEqual(JSON.parse(await readFile(path.join(restored, 'unit.json'), 'utf8')), registryBefore);
  t.is((await stat(path.join(restored, 'master-token'))).mode & 0o777, 0o600);

  unit = await unitOn(restored);
  const cells = await (await get(unit, token, '/__ctl/Cell')).json() as { d: { results: Array<{ Name: string }> } };
  t.deepEqual(cells.d.results.map((cell) => cell.Name).sort(), ['cell1', 'cell2', 'cell3'], 'the restored master token opens the restored unit');
  for (const [name, body] of Object.entries(sampleFiles)) {
    const res = await get(unit, token, `/cell1/box1/${name}`);
    t.is(res.status, 200, name);
    t.deepEqual(Buffer.from(await res.arrayBuffer()), body, name);
  }
  t.is(await (await get(unit, token, '/cell2/__/notes.txt')).text(), 'main box notes\n');
  const props = await get(unit, token, '/cell1/box1/docs/readme.txt', { method: 'PROPFIND', headers: { depth: '0' } });
  t.regex(await props.text(), /<[^>]*color[^>]*>red</, 'the dead property is served');
  const snapshot = await get(unit, token, '/cell1/__snapshot/snap1.zip');
  t.is(snapshot.status, 200);
  t.is(Buffer.from(await snapshot.arrayBuffer()).subarray(0, 2).toString(), 'PK');
  t.is(await (await get(unit, token, '/cell2/__snapshot/uploaded.zip')).text(), 'PK\u0005\u0006 not really a zip');

  const second = await cellar(unit, ['unit', 'backup', 'again.tar'], { cwd: work, env: { CELLAR_TOKEN: token } });
  t.is(second.code, 0, second.stderr);
  const [first, again] = [await manifestOf(path.join(work, 'unit.tar')), await manifestOf(path.join(work, 'again.tar'))];
  t.deepEqual(again.entries, first.entries, 'the same entries, sizes and SHA-256 in the same order');
  t.deepEqual(again.trailer, first.trailer);
  t.is(again.header.format, 'cellar-unit-backup');
});

test('a backup with --no-snapshots leaves the snapshot areas out and still restores', async (t) => {
  // Big files on a machine shared with other test runs.
  t.timeout(180_000);
  const work = await mkdtemp(path.join(os.tmpdir(), 'cellar-backup-'));
  const unit = await unitOn(path.join(work, 'data'));
  t.teardown(async () => {
    await unit.stop();
    await rm(work, { recursive: true, force: true });
  });
  await populate(unit);
  const token = await tokenOf(path.join(work, 'data'));
  const backup = await cellar(unit, ['unit', 'backup', 'lean.tar', '--no-snapshots'], { cwd: work, env: { CELLAR_TOKEN: token } });
  t.is(backup.code, 0, backup.stderr);
  t.regex(backup.stdout, /without snapshot areas/);
  const { entries, header } = await manifestOf(path.join(work, 'lean.tar'));
  t.false(header.snapshots);
  t.false(entries.some((line) => (JSON.parse(line) as { name: string }).name.startsWith('snapshots')));
  const restore = await cellar({ url: '' }, ['unit', 'restore', 'lean.tar', '--data-dir', 'again'], { cwd: work });
  t.is(restore.code, 0, restore.stderr);
  const tree = await treeOf(path.join(work, 'again'));
  t.false([...tree.keys()].some((name) => name.startsWith('snapshots')));
  t.true([...tree.keys()].some((name) => name.endsWith('/docs/readme.txt/content')));
});
