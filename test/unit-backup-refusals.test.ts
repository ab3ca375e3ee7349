import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { manifestName } from '../core/backup-layout.ts';
import { cellar, type CliResult } from './helpers/cli.ts';
import { startUnit } from './helpers/unit.ts';
import { backupTar, buildTar, cellId, manifestFor, minimalEntries, type TarEntry } from './helpers/unit-backup.ts';

const content = `cells/${cellId}/content-1`;

async function folder(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cellar-hostile-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** `verify` and `restore` of the archive; restore into `restored` beside it. */
async function both(dir: string, archive: Buffer): Promise<{ verify: CliResult; restore: CliResult }> {
  await writeFile(path.join(dir, 'backup.tar'), archive);
  const [verify, restore] = await Promise.all([
    cellar({ url: '' }, ['unit', 'verify', 'backup.tar'], { cwd: dir }),
    cellar({ url: '' }, ['unit', 'restore', 'backup.tar', '--data-dir', 'restored'], { cwd: dir }),
  ]);
  return { verify, restore };
}

/** Both commands refuse with `message`, and the restore leaves no folder and no staging area behind. */
async function refusedBoth(t: ExecutionContext, archive: Buffer, message: RegExp): Promise<void> {
  const dir = await folder(t);
  const { verify, restore } = await both(dir, archive);
  t.is(verify.code, 1, verify.stdout);
  t.regex(verify.stderr, message);
  t.is(restore.code, 1, restore.stdout);
  t.regex(restore.stderr, message);
  t.deepEqual(await readdir(dir), ['backup.tar'], 'nothing is left behind');
}

test.serial('a sound minimal backup verifies, restores, and a unit starts on it with its cell', async (t) => {
  const dir = await folder(t);
  const { verify, restore } = await both(dir, await backupTar(minimalEntries()));
  t.is(verify.code, 0, verify.stderr);
  t.regex(verify.stdout, /is a whole unit backup: 1 cells, 9 entries/);
  t.is(restore.code, 0, restore.stderr);
  const unit = await startUnit({}, { dataDir: path.join(dir, 'restored') });
  t.teardown(() => unit.stop());
  t.deepEqual(unit.server.cellar.store.listCells().map((cell) => cell.name), ['cell1']);
  t.is((await unit.as({ method: 'PROPFIND', url: '/cell1/__/', headers: { depth: '0' } })).statusCode, 207);
});

test.serial('an archive cut short is refused as truncated', async (t) => {
  const whole = await backupTar(minimalEntries());
  await refusedBoth(t, whole.subarray(0, Math.floor(whole.length / 2)), /truncated/);
});

test.serial('an archive without a manifest is refused as not a whole backup', async (t) => {
  await refusedBoth(t, await buildTar(minimalEntries()), /ends before its manifest: it is truncated or not a whole unit backup/);
});

test.serial('an entry outside the layout is refused by name', async (t) => {
  const entries = [...minimalEntries(), { name: 'etc' }, { name: 'etc/passwd', body: 'root' }];
  await refusedBoth(t, await backupTar(entries), /entry \[etc\]: outside the unit backup layout: not a name of the unit backup layout/);
});

test.serial('names that climb out with .. or are absolute are refused by name', async (t) => {
  const climbing = [...minimalEntries(), { name: `${content}/../../../escape.txt`, body: 'x' }];
  await refusedBoth(t, await backupTar(climbing), /climbs out of the archive/);
  const absolute = [...minimalEntries(), { name: '/tmp/cellar-absolute.txt', body: 'x' }];
  await refusedBoth(t, await backupTar(absolute), /entry \[\/tmp\/cellar-absolute\.txt\]: outside the unit backup layout: the name is an absolute path/);
});

for (const [type, extra] of [
  ['symlink', { linkname: '/etc/passwd' }],
  ['link', { linkname: `${content}/odata.json` }],
  ['character-device', {}],
  ['fifo', {}],
] as const) {
  test.serial(`a ${type} entry is refused by name`, async (t) => {
    const entries: TarEntry[] = [...minimalEntries(), { name: `${content}/dav/__/odd`, type, ...extra }];
    await refusedBoth(t, await backupTar(entries), new RegExp(`entry \\[${content}/dav/__/odd\\]: outside the unit backup layout: a ${type} entry`));
  });
}

test.serial('a file whose bytes do not match their SHA-256 in the manifest is refused by name', async (t) => {
  const entries = minimalEntries();
  const manifest = manifestFor(entries);
  const tampered = entries.map((entry) => (entry.name.endsWith('odata.json') ? { ...entry, body: JSON.stringify({ boxes: [], preserved: { x: [] } }).slice(0, 27) } : entry));
  await refusedBoth(t, await backupTar(tampered, manifest), new RegExp(`entry \\[${content}/odata.json\\]: its size or SHA-256 does not match the manifest`));
});

test.serial('a file whose size differs from the manifest is refused by name', async (t) => {
  const entries = minimalEntries();
  const manifest = manifestFor(entries);
  const longer = entries.map((entry) => (entry.name.endsWith('__/.pmeta') ? { ...entry, body: `${entry.body} ` } : entry));
  await refusedBoth(t, await backupTar(longer, manifest), new RegExp(`entry \\[${content}/dav/__/.pmeta\\]: its size or SHA-256 does not match`));
});

test.serial('an entry the manifest lists but the archive lacks is refused', async (t) => {
  const entries = minimalEntries();
  const listed = [...entries, { name: `snapshots` }];
  await refusedBoth(t, await backupTar(entries, manifestFor(listed)), /entry \[snapshots\]: the manifest lists it but the archive does not hold it/);
});

test.serial('an entry after the manifest is refused by name', async (t) => {
  const entries = minimalEntries();
  const archive = await buildTar([...entries, { name: manifestName, body: manifestFor(entries) }, { name: 'snapshots' }]);
  await refusedBoth(t, archive, /entry \[snapshots\]: it comes after the manifest/);
});

test.serial('an entry that appears twice is refused by name', async (t) => {
  const entries = [...minimalEntries(), { name: `${content}/odata.json`, body: '{}' }];
  await refusedBoth(t, await backupTar(entries), new RegExp(`entry \\[${content}/odata.json\\]: it appears twice`));
});

test.serial('a registry that lists a cell whose content is not in the archive is refused', async (t) => {
  const entries = minimalEntries().map((entry) => (entry.name === 'unit.json'
    ? { ...entry, body: JSON.stringify({ version: 1, cells: [{ id: cellId, name: 'cell1', createdAt: 1, updatedAt: 1, status: 'normal', contentId: 'content-2' }] }) }
    : entry));
  await refusedBoth(t, await backupTar(entries), /entry \[unit\.json\]: the content folder \[cells\/0123456789abcdef0123456789abcdef\/content-1\] belongs to no cell/);
});

test.serial('restore refuses a data directory that is not empty, and leaves it as it was', async (t) => {
  const dir = await folder(t);
  await mkdir(path.join(dir, 'restored'));
  await writeFile(path.join(dir, 'restored', 'keep.txt'), 'mine');
  await writeFile(path.join(dir, 'backup.tar'), await backupTar(minimalEntries()));
  const restore = await cellar({ url: '' }, ['unit', 'restore', 'backup.tar', '--data-dir', 'restored'], { cwd: dir });
  t.is(restore.code, 1);
  t.regex(restore.stderr, /refusing to restore into .*restored: it is not empty \(keep\.txt\)/);
  t.deepEqual(await readdir(path.join(dir, 'restored')), ['keep.txt']);
  t.deepEqual((await readdir(dir)).sort(), ['backup.tar', 'restored']);
});

test.serial('restore refuses a data directory a running server holds, naming that process', async (t) => {
  const dir = await folder(t);
  const unit = await startUnit({}, { dataDir: path.join(dir, 'restored') });
  t.teardown(() => unit.stop());
  await writeFile(path.join(dir, 'backup.tar'), await backupTar(minimalEntries()));
  const restore = await cellar({ url: '' }, ['unit', 'restore', 'backup.tar', '--data-dir', 'restored'], { cwd: dir });
  t.is(restore.code, 1);
  t.regex(restore.stderr, new RegExp(`refusing to restore: the data directory is in use by process ${process.pid} `));
  t.true((await readdir(path.join(dir, 'restored'))).includes('unit.lock'), 'the server still holds its folder');
  t.deepEqual((await readdir(dir)).sort(), ['backup.tar', 'restored'], 'no staging folder is left beside it');
});
