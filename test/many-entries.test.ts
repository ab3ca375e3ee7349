// A cell of 200,000 zip entries, exported and imported by a server whose heap is limited to
// 192 MB (a child process started as `npm start` starts it): both succeed, the zip is one that
// unzip -t and Python's zipfile accept (ZIP64 end records, past 65,535 entries), and the
// imported cell holds the exported files byte for byte (exported again, the same SHA-256 list).
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import test from 'ava';
import { writeSmallCorpus } from '../bench/lib/small-corpus.ts';
import { call, cellRecord, freePort, startServer, stopServer, until } from '../bench/lib/unit-process.ts';

const run = promisify(execFile);
/** 66,600 files of three entries each, and their 134 folders of two. */
const files = 66_600;

/** The `20_webdav/` entries of a snapshot zip with their sizes and SHA-256, from 00_checksums.json, and its folders. */
async function webdavListing(zip: string): Promise<{ folders: string[]; files: Record<string, unknown> }> {
  const { stdout: names } = await run('unzip', ['-Z1', zip], { maxBuffer: 256 << 20 });
  const folders = names.split('\n').filter((name) => name.startsWith('20_webdav/') && name.endsWith('/'));
  const { stdout: listed } = await run('unzip', ['-p', zip, '00_checksums.json'], { maxBuffer: 256 << 20 });
  const files = Object.fromEntries(Object.entries(JSON.parse(listed) as Record<string, unknown>).filter(([name]) => name.startsWith('20_webdav/')));
  return { folders, files };
}

test('200,000 entries export and import with the server heap limited to 192 MB, byte for byte', async (t) => {
  // 1.9-4.7 minutes measured on a 2-core machine whose disk other test runs were sharing.
  t.timeout(600_000);
  const work = await mkdtemp(path.join(os.tmpdir(), 'cellar-many-'));
  const dataDir = path.join(work, 'data');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = await startServer(dataDir, port, ['--max-old-space-size=192']);
  t.teardown(async () => {
    await stopServer(server);
    await rm(work, { recursive: true, force: true });
  });
  for (const name of ['many', 'copy']) t.is((await call(`${base}/__ctl/Cell`, 'POST', { Name: name })).status, 201);
  const source = await cellRecord(dataDir, 'many');
  const sourceDav = path.join(dataDir, 'cells', source.id, source.contentId, 'dav');
  let phase = performance.now();
  const lap = (what: string) => {
    t.log(`${what}: ${((performance.now() - phase) / 1000).toFixed(1)} s`);
    phase = performance.now();
  };
  await writeSmallCorpus(path.join(sourceDav, '__'), files, { minBytes: 8, maxBytes: 64 });
  lap('cell written');

  t.is((await call(`${base}/many/__export`, 'POST', { Name: 'many' })).status, 202);
  t.deepEqual((await until(`${base}/many/__export`, 'exportation in progress')).body, { status: 'ready' });
  lap('exported');
  const zip = path.join(dataDir, 'snapshots', source.id, 'many.zip');
  const { stdout: tested } = await run('unzip', ['-tq', zip], { maxBuffer: 1 << 20 });
  t.regex(tested, /No errors detected/);
  const { stdout: counted } = await run('python3', ['-c', 'import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nassert z.read("20_webdav/.pmeta")\nprint(len(z.infolist()))', zip]);
  t.true(Number(counted) >= 200_000, counted);
  lap('checked by unzip -t and zipfile');

  const target = await cellRecord(dataDir, 'copy');
  await mkdir(path.join(dataDir, 'snapshots', target.id), { recursive: true });
  await copyFile(zip, path.join(dataDir, 'snapshots', target.id, 'many.zip'));
  t.is((await call(`${base}/copy/__import`, 'POST', { Name: 'many' })).status, 202);
  t.deepEqual((await until(`${base}/copy/__import`, 'importation in progress')).body, { status: 'ready' });
  t.is(server.exitCode, null, 'the server is still running');
  lap('imported');

  // The imported cell exported again lists the same folders, and the same files with the same sizes and SHA-256.
  t.is((await call(`${base}/copy/__export`, 'POST', { Name: 'again' })).status, 202);
  t.deepEqual((await until(`${base}/copy/__export`, 'exportation in progress')).body, { status: 'ready' });
  const [exported, reexported] = await Promise.all([webdavListing(zip), webdavListing(path.join(dataDir, 'snapshots', target.id, 'again.zip'))]);
  // Every file's content and .pmeta, each folder's .pmeta, the box's and the cell's own.
  t.is(Object.keys(exported.files).length, files * 2 + Math.ceil(files / 500) + 2);
  t.deepEqual(reexported.folders, exported.folders);
  t.deepEqual(reexported.files, exported.files);
  lap('compared');
});
