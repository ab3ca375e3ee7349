import { readdir, rename, stat, writeFile } from 'node:fs/promises';
import test from 'ava';
import { errorBody } from '../core/errors.ts';
import { buildZip, importStatus, snapshotEntries, settledContentDirs, startImport, unitWithCell, upload, type ZipEntrySpec } from './helpers/snapshot-zip.ts';
import { holdExportAt, untilReady } from './helpers/export.ts';
import { json, type TestUnit } from './helpers/unit.ts';

/** Holds the running import before the first `20_webdav/` entry `matches` accepts, until released. */
function holdImportAt(unit: TestUnit, matches: (entry: string) => boolean) {
  let reach!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((resolve) => { reach = resolve; });
  const released = new Promise<void>((resolve) => { release = resolve; });
  let held = false;
  unit.hooks.import = async (entry) => {
    if (held || !matches(entry)) return;
    held = true;
    reach();
    await released;
  };
  return { reached, release };
}

/** Ten files of 100 KB in the main box, f0 … f9, on top of the small snapshot. */
const tenFiles = () => buildZip(snapshotEntries({
  change: (entries) => [
    ...entries,
    ...Array.from({ length: 10 }, (_, i): ZipEntrySpec[] => [
      { name: `20_webdav/__/f${i}/` },
      { name: `20_webdav/__/f${i}/.pmeta`, data: JSON.stringify({ i: `f${i}`, t: 'dav.file', a: null, d: {}, p: 1, u: 1, v: 1, ct: 'application/octet-stream', cl: 100_000 }) },
      { name: `20_webdav/__/f${i}/content`, data: Buffer.alloc(100_000, i) },
    ]).flat(),
  ],
}));

const cellId = (unit: TestUnit) => unit.server.cellar.store.findCell('cell1')!.id;

test('while an import runs, GET shows it, writes get 409 [cell import] and reads still see the old content', async (t) => {
  const unit = await unitWithCell();
  t.teardown(() => unit.stop());
  await upload(unit, 'good', buildZip(snapshotEntries()));
  const hold = holdImportAt(unit, (entry) => entry.endsWith('/content'));
  t.is((await startImport(unit, 'good')).statusCode, 202);
  await hold.reached;

  const res = await unit.as({ method: 'GET', url: '/cell1/__import' });
  t.is(res.headers['content-type'], 'application/json; charset=utf-8');
  const status = json(res);
  t.deepEqual(Object.keys(status), ['status', 'started_at', 'progress', 'importation_name']);
  t.like(status, { status: 'importation in progress', importation_name: 'good' });
  const refused = errorBody('PR409-CM-0002', ['cell import']);
  t.deepEqual(json(await startImport(unit, 'good')), refused);
  t.deepEqual(json(await unit.as({ method: 'POST', url: '/cell1/__export', payload: { Name: 'x' } })), refused);
  t.deepEqual(json(await unit.as({ method: 'PUT', url: '/cell1/keep/new.txt', payload: 'x' })), refused);
  t.deepEqual(json(await unit.as({ method: 'POST', url: '/cell1/__ctl/Box', payload: { Name: 'other' } })), refused);
  t.is((await unit.as({ method: 'GET', url: '/cell1/keep/old.txt' })).payload, 'old content');
  t.is((await unit.as({ method: 'GET', url: '/cell1/__/top.txt' })).statusCode, 404, 'the staged content is not visible');

  hold.release();
  t.deepEqual(await importStatus(unit), { status: 'ready' });
  t.is((await unit.as({ method: 'GET', url: '/cell1/__/top.txt' })).payload, 'top');
});

test('progress is weighted by bytes, never goes down and reaches 100%', async (t) => {
  const unit = await unitWithCell();
  t.teardown(() => unit.stop());
  await upload(unit, 'ten', tenFiles());
  const { status } = unit.server.cellar;
  const reported: number[] = [];
  const report = status.reportProgress.bind(status);
  status.reportProgress = (id, percent) => {
    if (id === cellId(unit)) reported.push(Math.floor(percent));
    report(id, percent);
  };
  const hold = holdImportAt(unit, (entry) => entry === '20_webdav/__/f5/content');
  t.is((await startImport(unit, 'ten')).statusCode, 202);
  await hold.reached;
  // Five of ten equal files are in (once those still in flight have landed): about half the bytes.
  const percent = async () => Number.parseInt(json(await unit.as({ method: 'GET', url: '/cell1/__import' })).progress, 10);
  // The writer threads may still be starting on a loaded machine: settled means unchanged, and above 0.
  let halfway = await percent();
  for (let settled = -1, tries = 0; (settled !== halfway || halfway === 0) && tries < 200; halfway = await percent(), tries += 1) {
    settled = halfway;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  t.true(halfway >= 40 && halfway <= 55, `${halfway}%`);
  hold.release();
  t.deepEqual(await importStatus(unit), { status: 'ready' });
  t.deepEqual(reported, [...reported].sort((a, b) => a - b), 'never goes down');
  t.is(reported.at(-1), 100);
  t.true(new Set(reported).size > 5);
});

test('a snapshot replaced while its import waits in the queue is judged again when the job starts', async (t) => {
  const unit = await unitWithCell({ jobs: { concurrency: 1 } });
  t.teardown(() => unit.stop());
  await unit.createCell('busy');
  await upload(unit, 'good', buildZip(snapshotEntries()));
  // The only job slot is taken by another cell's export, so the import waits after its 202.
  const hold = holdExportAt(unit);
  t.is((await unit.as({ method: 'POST', url: '/busy/__export', payload: { Name: 'b' } })).statusCode, 202);
  await hold.reached;
  t.is((await startImport(unit, 'good')).statusCode, 202);
  // The area refuses uploads meanwhile (409); someone on the machine replaces the file itself.
  // Only the inspection refuses this entry; extraction alone would pass over it and succeed.
  const file = unit.server.cellar.snapshots.of(cellId(unit)).filePath('good.zip');
  await writeFile(`${file}.new`, buildZip([...snapshotEntries(), { name: 'README.txt', data: 'x' }]));
  await rename(`${file}.new`, file);
  hold.release();
  await untilReady(unit, 'busy');
  const status = await importStatus(unit);
  t.like(status, { status: 'import failed', importation_name: 'good' });
  t.deepEqual(status.message, errorBody('PR400-SN-0001', ['README.txt', 'not part of the snapshot layout']));
});

test('a snapshot replaced after the job judged it, before its extraction, is not extracted: the import fails naming the file', async (t) => {
  const unit = await unitWithCell();
  t.teardown(() => unit.stop());
  await upload(unit, 'good', buildZip(snapshotEntries()));
  const file = unit.server.cellar.snapshots.of(cellId(unit)).filePath('good.zip');
  const escaped = `/tmp/cellar-nul-escape-${process.pid}`;
  // Between the job's inspection and its extraction (the staging folder is made in between), a
  // file that only the inspection would refuse, NUL in a name, takes the inspected one's place.
  const { contents } = unit.server.cellar;
  const stage = contents.stage.bind(contents);
  contents.stage = async (id) => {
    await writeFile(`${file}.new`, buildZip([...snapshotEntries(), { name: `20_webdav/__/a\0${escaped}/`, data: '' }]));
    await rename(`${file}.new`, file);
    return stage(id);
  };
  t.is((await startImport(unit, 'good')).statusCode, 202);
  const status = await importStatus(unit);
  t.like(status, { status: 'import failed', importation_name: 'good' });
  t.deepEqual(status.message, errorBody('PR409-DV-0003', ['good.zip (it changed after it was inspected)']));
  await t.throwsAsync(stat(escaped), { code: 'ENOENT' });
});

test('a later successful import returns an import-failed cell to normal and clears the failure', async (t) => {
  const unit = await unitWithCell();
  t.teardown(() => unit.stop());
  await upload(unit, 'bad', buildZip(snapshotEntries({ checksums: (sums) => { sums['20_webdav/__/top.txt/content']!.size = 4; } })));
  await startImport(unit, 'bad');
  t.like(await importStatus(unit), { status: 'import failed', message: errorBody('PR400-SN-0005', ['20_webdav/__/top.txt/content']) });
  // The snapshot area stays open, so the good zip is uploaded into the cell whose import failed.
  await upload(unit, 'good', buildZip(snapshotEntries()));
  t.is((await startImport(unit, 'good')).statusCode, 202);
  t.deepEqual(await importStatus(unit), { status: 'ready' });
  const cell = unit.server.cellar.store.findCell('cell1')!;
  t.is(cell.status, 'normal');
  t.is(cell.importFailure, undefined);
  t.is((await unit.as({ method: 'GET', url: '/cell1/__ctl/Box' })).statusCode, 200);
  t.deepEqual(await settledContentDirs(unit), [cell.contentId]);
});

test('an import stopped by a shutdown ends as import failed and leaves the old content live', async (t) => {
  const unit = await unitWithCell();
  t.teardown(() => unit.stop());
  await upload(unit, 'ten', tenFiles());
  const { store, jobs, contents } = unit.server.cellar;
  const before = store.findCell('cell1')!.contentId;
  unit.hooks.import = async (entry, signal) => {
    if (entry === '20_webdav/__/f3/content') await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
  };
  t.is((await startImport(unit, 'ten')).statusCode, 202);
  await new Promise((resolve) => setTimeout(resolve, 200));
  await jobs.stop(5000);
  const cell = store.findCell('cell1')!;
  t.is(cell.status, 'import failed');
  t.deepEqual(cell.importFailure?.message, errorBody('PR503-SV-0002'));
  t.is(cell.contentId, before);
  t.deepEqual(await readdir(contents.cellDir(cell.id)), [before], 'the staging folder is removed');
});

test('a large entry that expands past its declared size fails the import as damaged while streaming', async (t) => {
  const unit = await unitWithCell();
  t.teardown(() => unit.stop());
  const { randomBytes } = await import('node:crypto');
  const name = '20_webdav/__/top.txt/content';
  await upload(unit, 'liar', buildZip(snapshotEntries({
    change: (entries) => entries.map((entry) => entry.name === name ? { ...entry, data: randomBytes(3 * 1024 * 1024), deflate: true, declaredSize: 2 * 1024 * 1024 } : entry),
  })));
  t.is((await startImport(unit, 'liar')).statusCode, 202);
  const status = await importStatus(unit);
  t.is(status.message.code, 'PR400-SN-0006');
  t.regex(status.message.message.value, /20_webdav\/__\/top\.txt\/content: too many bytes in the stream/);
  t.deepEqual(await settledContentDirs(unit), [unit.server.cellar.store.findCell('cell1')!.contentId]);
});
