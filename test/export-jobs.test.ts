import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { bodyOf, errorBody, isPersoniumError } from '../core/errors.ts';
import { failureBody } from '../plugins/export/zip-job.ts';
import { ExportThreads, writeSnapshotZipInThread } from '../plugins/export/zip-thread.ts';
import { SizeChangedError, SnapshotZipWriter, smallFileBytes, wholeFileBytes } from '../plugins/export/zip-writer.ts';
import { CellLayout } from './helpers/cell-layout.ts';
import { areaDirOf, areaFiles, exportStatus, holdExportAt, postExport, untilReady } from './helpers/export.ts';
import { startUnit, type TestUnit } from './helpers/unit.ts';
import { readZip } from './helpers/zip.ts';

const run = promisify(execFile);

async function unitWithCell(t: { teardown(fn: () => Promise<void>): void }, overrides = {}) {
  const unit = await startUnit(overrides);
  t.teardown(() => unit.stop());
  await unit.createCell('cell1');
  return unit;
}

async function snapshotFile(unit: TestUnit, name: string) {
  const { snapshots, store } = unit.server.cellar;
  return snapshots.of(store.findCell('cell1')!.id).stat(name);
}

/** The parsed content of a file in cell1's snapshot area. */
async function errorFile(unit: TestUnit, name: string) {
  return JSON.parse(await readFile(path.join(areaDirOf(unit, 'cell1'), name), 'utf8'));
}

test('a file vanishing during the export leaves {Name}.error as application/json, no .zip and no temporary', async (t) => {
  const unit = await unitWithCell(t);
  const layout = new CellLayout(unit, 'cell1');
  await layout.file('__/a.txt', 'soon gone');
  const dir = await layout.resourceDir('__/a.txt');
  exporterHook(unit, async (entry) => {
    if (entry === '20_webdav/__/a.txt/content') await rm(path.join(dir, 'content'));
  });
  t.is((await postExport(unit, 'cell1', { Name: 'snap1' })).statusCode, 202);
  await untilReady(unit, 'cell1');
  t.deepEqual((await areaFiles(unit, 'cell1')).filter((name) => !name.startsWith('.meta')), ['snap1.error']);
  t.is((await snapshotFile(unit, 'snap1.error'))!.contentType, 'application/json');
  const download = await unit.as({ method: 'GET', url: '/cell1/__snapshot/snap1.error' });
  t.regex(download.headers['content-type'] as string, /^application\/json/);
  t.is((await unit.as({ method: 'HEAD', url: '/cell1/__snapshot/snap1.zip' })).statusCode, 404);
  t.deepEqual(await errorFile(unit, 'snap1.error'), errorBody('PR500-CM-0002', ['cell export: a file vanished at 20_webdav/__/a.txt/content']));
  t.is((await unit.as({ method: 'POST', url: '/cell1/__ctl/Box', payload: { Name: 'box1' } })).statusCode, 201);
});

test('a successful export under the same name replaces the earlier .error with the .zip', async (t) => {
  const unit = await unitWithCell(t);
  exporterHook(unit, async (entry) => {
    if (entry === '10_odata/00_cell.json') throw Object.assign(new Error('EIO'), { code: 'EIO' });
  });
  await postExport(unit, 'cell1', { Name: 'snap1' });
  await untilReady(unit, 'cell1');
  t.deepEqual(await errorFile(unit, 'snap1.error'), errorBody('PR500-CM-0002', ['cell export: EIO at 10_odata/00_cell.json']));
  exporterHook(unit, undefined);
  await postExport(unit, 'cell1', { Name: 'snap1' });
  await untilReady(unit, 'cell1');
  t.deepEqual((await areaFiles(unit, 'cell1')).filter((name) => !name.startsWith('.meta')), ['snap1.zip']);
});

test('stopping the server mid-export ends it with PR503-SV-0002 in .error, no .zip and no temporary', async (t) => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'cellar-export-stop-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const unit = await startUnit({}, { dataDir });
  await unit.createCell('cell1');
  const hold = holdExportAt(unit, (entry) => entry.startsWith('20_webdav/'));
  await postExport(unit, 'cell1', { Name: 'snap1' });
  await hold.reached;
  t.true((await areaFiles(unit, 'cell1')).some((name) => name.startsWith('.tmp-')));
  await unit.stop();
  const restarted = await startUnit({}, { dataDir });
  t.teardown(() => restarted.stop());
  t.deepEqual((await areaFiles(restarted, 'cell1')).filter((name) => !name.startsWith('.meta')), ['snap1.error']);
  t.deepEqual(await errorFile(restarted, 'snap1.error'), errorBody('PR503-SV-0002'));
  t.deepEqual(await exportStatus(restarted, 'cell1'), { status: 'ready' });
});

test('after a crash mid-export, the restart ends the export: .error written, temporaries removed, cell ready', async (t) => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'cellar-export-crash-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const crashed = await startUnit({}, { dataDir });
  await crashed.createCell('cell1');
  // What a crash leaves: the job record on disk and a half-written temporary zip, no job running.
  const { status, store, snapshots } = crashed.server.cellar;
  const area = snapshots.of(store.findCell('cell1')!.id);
  await status.accept(store.findCell('cell1')!.id, 'export', 'snap1');
  await area.ensure();
  await writeFile(area.tempPath('export-snap1'), 'PK\u0003\u0004 half a zip');
  await crashed.stop();
  const restarted = await startUnit({}, { dataDir });
  t.teardown(() => restarted.stop());
  t.deepEqual((await areaFiles(restarted, 'cell1')).filter((name) => !name.startsWith('.meta')), ['snap1.error']);
  t.deepEqual(await errorFile(restarted, 'snap1.error'), errorBody('PR500-CM-0002', ['cell export (the server stopped while the export was running)']));
  t.deepEqual(await exportStatus(restarted, 'cell1'), { status: 'ready' });
  t.is((await postExport(restarted, 'cell1', { Name: 'snap2' })).statusCode, 202);
  await untilReady(restarted, 'cell1');
});

test('an export waiting for a free job slot shows 0% until it starts, then runs', async (t) => {
  const unit = await unitWithCell(t, { jobs: { concurrency: 1 } });
  await unit.createCell('cell2');
  await new CellLayout(unit, 'cell2').file('__/big.bin', randomBytes(256 * 1024));
  const hold = holdExportAt(unit, (entry) => entry.startsWith('20_webdav/'));
  await postExport(unit, 'cell1', { Name: 'first' });
  await hold.reached;
  t.is((await postExport(unit, 'cell2', { Name: 'second' })).statusCode, 202);
  t.like(await exportStatus(unit, 'cell2'), { status: 'exportation in progress', progress: '0%', exportation_name: 'second' });
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.like(await exportStatus(unit, 'cell2'), { progress: '0%' });
  hold.release();
  await untilReady(unit, 'cell1');
  await untilReady(unit, 'cell2');
  t.truthy(await snapshotFile(unit, 'first.zip'));
  const { snapshots, store } = unit.server.cellar;
  t.truthy(await snapshots.of(store.findCell('cell2')!.id).stat('second.zip'));
});

test('progress is weighted by bytes: it climbs through one large file, never goes down and ends at 100%', async (t) => {
  const unit = await unitWithCell(t);
  await new CellLayout(unit, 'cell1').file('__/large.bin', randomBytes(12 * 1024 * 1024));
  const { status } = unit.server.cellar;
  const reported: number[] = [];
  const original = status.reportProgress.bind(status);
  status.reportProgress = (cellId, percent) => {
    original(cellId, percent);
    reported.push(status.progressOf(cellId));
  };
  const polled: number[] = [];
  await postExport(unit, 'cell1', { Name: 'snap1' });
  let current = await exportStatus(unit, 'cell1');
  while (current.status !== 'ready') {
    polled.push(Number.parseInt(current.progress!, 10));
    await new Promise((resolve) => setTimeout(resolve, 2));
    current = await exportStatus(unit, 'cell1');
  }
  t.is(reported.at(-1), 100);
  t.true(reported.filter((percent) => percent > 5 && percent < 95).length >= 5, `steps: ${reported.join(' ')}`);
  for (const series of [reported, polled]) for (let i = 1; i < series.length; i += 1) t.true(series[i]! >= series[i - 1]!);
});

test('.error bodies name the cause without file system paths: no space → PR507-DV-0001', (t) => {
  const running = new AbortController().signal;
  const enospc = Object.assign(new Error('ENOSPC: no space left on device, write /data/snapshots/x/.tmp'), { code: 'ENOSPC' });
  t.deepEqual(failureBody(enospc, '20_webdav/__/a/content', running), errorBody('PR507-DV-0001'));
  const stopped = new AbortController();
  stopped.abort(new Error('the server is stopping'));
  t.deepEqual(failureBody(new Error('aborted'), undefined, stopped.signal), errorBody('PR503-SV-0002'));
  t.deepEqual(failureBody(new TypeError('x is undefined'), undefined, running), errorBody('PR500-SV-0000'));
});

test('an archive written with ZIP64 records (as for cells past 4 GiB) is accepted by unzip -t and yauzl', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cellar-zip64-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const source = path.join(dir, 'source.bin');
  await writeFile(source, randomBytes(100_000));
  const writer = new SnapshotZipWriter(path.join(dir, 'out.zip'), { level: 1, forceZip64: true, date: new Date() });
  await writer.addDirectory('20_webdav/');
  await writer.addFile('20_webdav/source.bin', source, 100_000);
  await writer.finish('00_checksums.json');
  const { stdout } = await run('unzip', ['-t', path.join(dir, 'out.zip')]);
  t.regex(stdout, /No errors detected/);
  t.is((await readZip(path.join(dir, 'out.zip'))).get('20_webdav/source.bin')!.data.length, 100_000);
});

function exporterHook(unit: TestUnit, hook: ((entry: string) => Promise<void>) | undefined) {
  unit.hooks.export = hook;
}

// Files are read whole and synchronously (small), whole and asynchronously (up to a few MiB), or
// streamed (larger): each way notices a file whose size is not the one the walk measured.
for (const [way, size] of [['read synchronously', 10_000], ['read whole', smallFileBytes + 10_000], ['streamed', wholeFileBytes + 10_000]] as const) {
  test(`a file that changed size since the walk fails the export, naming the entry (${way})`, async (t) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'cellar-size-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    for (const [name, actual] of [['grew', size + 1], ['shrank', size - 1]] as const) {
      await writeFile(path.join(dir, name), randomBytes(actual));
      const writer = new SnapshotZipWriter(path.join(dir, `${name}.zip`), { level: 1, forceZip64: false, date: new Date() });
      await writer.addBuffer('00_manifest.json', '{}');
      const failed = (async () => {
        await writer.addFile(`20_webdav/${name}`, path.join(dir, name), size);
        await writer.finish('00_checksums.json');
      })();
      const error = await t.throwsAsync(failed, { instanceOf: SizeChangedError });
      t.regex(error!.message, new RegExp(`20_webdav/${name} (changed size|shrank)`));
      t.is(writer.failedEntry, `20_webdav/${name}`);
      await writer.abort(error!);
    }
  });
}

test('many files, small and large, come out of the read-ahead in order and byte for byte', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cellar-order-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const sizes = Array.from({ length: 120 }, (_, index) => [0, 500, 5_000, smallFileBytes + 1, 300_000][index % 5]!);
  sizes.push(wholeFileBytes + 1);
  const writer = new SnapshotZipWriter(path.join(dir, 'out.zip'), { level: 1, forceZip64: false, date: new Date() });
  const contents: Buffer[] = [];
  for (const [index, size] of sizes.entries()) {
    const content = index % 2 ? randomBytes(size) : Buffer.from('abc '.repeat(size).slice(0, size));
    contents.push(content);
    await writeFile(path.join(dir, `f${index}`), content);
    await writer.addFile(`20_webdav/f${index}`, path.join(dir, `f${index}`), size);
  }
  await writer.finish('00_checksums.json');
  const { stdout } = await run('unzip', ['-Z1', path.join(dir, 'out.zip')]);
  t.deepEqual(stdout.trim().split('\n'), [...sizes.map((_, index) => `20_webdav/f${index}`), '00_checksums.json']);
  const zip = await readZip(path.join(dir, 'out.zip'));
  contents.forEach((content, index) => t.true(zip.get(`20_webdav/f${index}`)!.data.equals(content), `f${index}`));
  const checksums = JSON.parse(zip.get('00_checksums.json')!.data.toString('utf8')) as Record<string, { size: number }>;
  t.deepEqual(Object.keys(checksums), sizes.map((_, index) => `20_webdav/f${index}`));
});

test('the export thread reports a failure with the .error body it computed, and stops when the job is stopped', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cellar-thread-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const input = { davRoot: path.join(dir, 'missing'), temp: path.join(dir, 'out.zip'), level: 1, createdAt: Date.now(), manifest: '{}', cellJson: '{}', odata: [] };
  const running = new AbortController();
  const vanished = await t.throwsAsync(writeSnapshotZipInThread(input, { signal: running.signal, onProgress: () => {} }));
  t.true(isPersoniumError(vanished));
  t.deepEqual(bodyOf(vanished), errorBody('PR500-CM-0002', ['cell export: a file vanished at 20_webdav/']));

  await mkdir(path.join(dir, 'dav'));
  await writeFile(path.join(dir, 'dav', 'big.bin'), randomBytes(6 * 1024 * 1024));
  const stopping = new AbortController();
  const percents: number[] = [];
  // The failed export's file is the caller's to remove: the next one writes another.
  const stopped = writeSnapshotZipInThread({ ...input, davRoot: path.join(dir, 'dav'), temp: path.join(dir, 'stopped.zip') }, {
    signal: stopping.signal,
    onProgress: (percent) => percents.push(percent),
    beforeEntry: async (entry) => {
      if (entry !== '20_webdav/big.bin') return;
      // Progress is reported from when the tree is measured, which goes on while the first entries are written.
      for (let waited = 0; percents.length === 0 && waited < 5000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
      stopping.abort();
    },
  });
  const error = await t.throwsAsync(stopped);
  t.deepEqual(bodyOf(error), errorBody('PR503-SV-0002'));
  t.true(percents.length > 0 && percents.every((percent) => percent < 100));
});

test('a kept export thread serves export after export, each zip of its own tree, after a failed and a stopped one too; a thread that ended is replaced', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cellar-thread-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const threads = new ExportThreads(60_000);
  t.teardown(() => threads.close());
  const trees = ['one', 'two', 'three'];
  for (const [index, tree] of trees.entries()) {
    for (let file = 0; file < 50; file += 1) {
      await mkdir(path.join(dir, tree, `r${file}`), { recursive: true });
      await writeFile(path.join(dir, tree, `r${file}`, 'content'), `${tree} ${file} `.repeat(50 + index));
    }
  }
  const input = (tree: string, out: string) => ({ davRoot: path.join(dir, tree), temp: path.join(dir, out), level: 1, createdAt: Date.now(), manifest: '{}', cellJson: '{}', odata: [] });
  const hooks = () => ({ signal: new AbortController().signal, onProgress: () => {} });
  /** The thread the pool keeps now (taken and given back). */
  const keptThread = async () => {
    const thread = await threads.take();
    await threads.give(thread);
    return thread.worker.threadId;
  };
  const holds = async (out: string, tree: string) => {
    const zip = await readZip(path.join(dir, out));
    for (let file = 0; file < 50; file += 1) t.is(zip.get(`20_webdav/r${file}/content`)!.data.toString(), `${tree} ${file} `.repeat(50 + trees.indexOf(tree)), `${out} r${file}`);
  };
  await writeSnapshotZipInThread(input('one', 'one.zip'), hooks(), threads);
  const first = await keptThread();
  await writeSnapshotZipInThread(input('two', 'two.zip'), hooks(), threads);
  t.is(await keptThread(), first);
  await holds('one.zip', 'one');
  await holds('two.zip', 'two');
  // A failed export and a stopped one leave the thread to the next export.
  await t.throwsAsync(writeSnapshotZipInThread(input('missing', 'missing.zip'), hooks(), threads));
  const stopping = new AbortController();
  stopping.abort();
  const stopped = await t.throwsAsync(writeSnapshotZipInThread(input('one', 'stopped.zip'), { signal: stopping.signal, onProgress: () => {} }, threads));
  t.deepEqual(bodyOf(stopped), errorBody('PR503-SV-0002'));
  await writeSnapshotZipInThread(input('three', 'three.zip'), hooks(), threads);
  t.is(await keptThread(), first);
  await holds('three.zip', 'three');
  // A thread that ended is not kept: the next export gets a new one.
  const ended = await threads.take();
  await ended.worker.terminate();
  await threads.give(ended);
  await writeSnapshotZipInThread(input('two', 'again.zip'), hooks(), threads);
  t.not(await keptThread(), first);
  await holds('again.zip', 'two');
});

test('the export thread reports rising progress below 100% and writes a zip unzip -t accepts', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cellar-thread-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await mkdir(path.join(dir, 'dav', '__', 'a.txt'), { recursive: true });
  await writeFile(path.join(dir, 'dav', '__', 'a.txt', 'content'), 'hello '.repeat(1000));
  const percents: number[] = [];
  const temp = path.join(dir, 'out.zip');
  await writeSnapshotZipInThread({ davRoot: path.join(dir, 'dav'), temp, level: 1, createdAt: Date.now(), manifest: '{}', cellJson: '{}', odata: [] }, {
    signal: new AbortController().signal,
    onProgress: (percent) => percents.push(percent),
  });
  t.true(percents.at(-1)! >= 50 && percents.at(-1)! < 100, String(percents.at(-1)));
  t.deepEqual(percents, [...percents].sort((a, b) => a - b));
  const { stdout } = await run('unzip', ['-t', temp]);
  t.regex(stdout, /No errors detected/);
  t.true((await readZip(temp)).get('20_webdav/__/a.txt/content')!.data.equals(Buffer.from('hello '.repeat(1000))));
});
