// Many-small-files benchmark: cells of 10,000 and 50,000 files of 1–4 KB in folders of 500
// (bench/lib/small-corpus.ts; each file is three zip entries), exported by a real server (a
// child process, as `npm start` runs it) against `zip -r -q` on the same tree, then the export
// imported into other cells (an empty one each round) by a fresh server against `unzip -q`, in
// alternating rounds of the same run, best of each. Prints both ratios, the size ratio and each
// server's peak RSS.
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { markTopFolder } from '../core/top-folder.ts';
import { writeSmallCorpus } from './lib/small-corpus.ts';
import { call, cellRecord, freePort, peakRssMb, settleDisk, startServer, stopServer, until } from './lib/unit-process.ts';

const run = promisify(execFile);
export const smallFilesTargets = { exportRatio: 1.0, exportStretch: 1.5, importRatio: 1.0, peakRssMb: 200 };
const rounds = 3;

export interface SmallFilesResult {
  files: number;
  entries: number;
  exportSeconds: number;
  zipSeconds: number;
  exportRatio: number;
  importSeconds: number;
  unzipSeconds: number;
  importRatio: number;
  sizeRatio: number;
  exportZipMb: number;
  zipZipMb: number;
  exportPeakRssMb: number;
  importPeakRssMb: number;
  passed: boolean;
}

/** Seconds `work` takes. */
async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
}

/** Runs `tool` and `cellar` (each returns the seconds it measured) in alternating rounds. */
async function alternate(tool: () => Promise<number>, cellar: () => Promise<number>, log: (line: string) => void, labels: [string, string]): Promise<[number[], number[]]> {
  const times: [number[], number[]] = [[], []];
  for (let round = 1; round <= rounds; round++) {
    await settleDisk();
    times[0].push(await tool());
    await settleDisk();
    times[1].push(await cellar());
    log(`    round ${round}: ${labels[0]} ${times[0].at(-1)!.toFixed(2)} s, ${labels[1]} ${times[1].at(-1)!.toFixed(2)} s`);
  }
  return times;
}

async function smallFilesShape(files: number, log: (line: string) => void): Promise<SmallFilesResult> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'cellar-bench-small-'));
  const dataDir = path.join(work, 'data');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let server = await startServer(dataDir, port);
  try {
    // One target cell per import round, so that no round's import replaces the content of another (below).
    const targetNames = Array.from({ length: rounds }, (_, round) => `target${round + 1}`);
    for (const name of ['source', ...targetNames]) {
      if ((await call(`${base}/__ctl/Cell`, 'POST', { Name: name })).status !== 201) throw new Error(`could not create the cell ${name}`);
    }
    const source = await cellRecord(dataDir, 'source');
    const davRoot = path.join(dataDir, 'cells', source.id, source.contentId, 'dav');
    const area = path.join(dataDir, 'snapshots', source.id);
    const corpus = await writeSmallCorpus(path.join(davRoot, '__'), files);
    log(`  ${files} files of 1-4 KB in folders of 500 (${(corpus.bytes / 1e6).toFixed(1)} MB):`);

    let zipZipMb = 0;
    let exportZipMb = 0;
    let exports = 0;
    const [zipTimes, exportTimes] = await alternate(async () => {
      const out = path.join(work, 'infozip.zip');
      const seconds = await timed(() => run('zip', ['-r', '-q', out, '.'], { cwd: davRoot, maxBuffer: 1 << 20 }));
      zipZipMb = (await stat(out)).size / 1e6;
      await rm(out);
      return seconds;
    }, async () => {
      const name = `small${++exports}`;
      const seconds = await timed(async () => {
        const accepted = await call(`${base}/source/__export`, 'POST', { Name: name });
        if (accepted.status !== 202) throw new Error(`export refused: ${accepted.status} ${await accepted.text()}`);
        await until(`${base}/source/__export`, 'exportation in progress');
      });
      const failure = await readFile(path.join(area, `${name}.error`), 'utf8').catch(() => undefined);
      if (failure) throw new Error(`the export failed: ${failure}`);
      exportZipMb = (await stat(path.join(area, `${name}.zip`))).size / 1e6;
      if (exports < rounds) await rm(path.join(area, `${name}.zip`));
      return seconds;
    }, log, ['zip -r -q', 'cellar export']);
    const exportPeakRssMb = await peakRssMb(server.pid!);
    const zip = path.join(area, `small${exports}.zip`);
    const { stdout } = await run('unzip', ['-Z1', zip], { maxBuffer: 64 << 20 });
    const entries = stdout.trim().split('\n').length;

    // A fresh server, so its peak RSS is the imports', not the corpus export's.
    await stopServer(server);
    server = await startServer(dataDir, port);
    // On a journal-less ext4 creating files right after others were removed is up to ten times
    // slower for whoever comes next (the README's "inode allocator"), so rounds that follow the
    // removal of a tree would measure that removal more than the tool: each import goes into an
    // empty cell of its own (none replaces content, so none removes any), and unzip's outputs are
    // set aside until the last round, then removed.
    for (const name of targetNames) {
      const target = await cellRecord(dataDir, name);
      await mkdir(path.join(dataDir, 'snapshots', target.id), { recursive: true });
      await copyFile(zip, path.join(dataDir, 'snapshots', target.id, 'small.zip'));
    }
    const aside = path.join(work, 'unzipped');
    await mkdir(aside);
    let unzipRound = 0;
    let importRound = 0;
    // unzip syncs nothing; the time its files then take to reach the disk (`sync -f`) is printed
    // beside it, as the import is timed until its files are on disk.
    const unzipSyncTimes: number[] = [];
    // The import's content folders are made in a folder marked `chattr +T` (core/top-folder.ts);
    // unzip into such a folder shows what that placement alone is worth.
    const spread = path.join(work, 'spread');
    await mkdir(spread);
    await markTopFolder(spread);
    const unzipSpreadTimes: number[] = [];
    const [unzipTimes, importTimes] = await alternate(async () => {
      unzipRound += 1;
      const out = path.join(aside, `round${unzipRound}`);
      await mkdir(out);
      const seconds = await timed(() => run('unzip', ['-q', zip, '-d', out], { maxBuffer: 1 << 20 }));
      unzipSyncTimes.push(seconds + await timed(() => run('sync', ['--file-system', out])));
      await settleDisk();
      unzipSpreadTimes.push(await timed(() => run('unzip', ['-q', zip, '-d', path.join(spread, `round${unzipRound}`)], { maxBuffer: 1 << 20 })));
      return seconds;
    }, async () => {
      const seconds = await timed(async () => {
        const name = targetNames[importRound++]!;
        const accepted = await call(`${base}/${name}/__import`, 'POST', { Name: 'small' });
        if (accepted.status !== 202) throw new Error(`import refused: ${accepted.status} ${await accepted.text()}`);
        const polled = await until(`${base}/${name}/__import`, 'importation in progress');
        if (polled.body.status !== 'ready') throw new Error(`the import failed: ${JSON.stringify(polled.body)}`);
      });
      return seconds;
    }, log, ['unzip -q', 'cellar import']);
    await rm(aside, { recursive: true, force: true });
    await rm(spread, { recursive: true, force: true });
    const importPeakRssMb = await peakRssMb(server.pid!);

    const result: SmallFilesResult = {
      files, entries,
      exportSeconds: Math.min(...exportTimes), zipSeconds: Math.min(...zipTimes), exportRatio: 0,
      importSeconds: Math.min(...importTimes), unzipSeconds: Math.min(...unzipTimes), importRatio: 0,
      sizeRatio: exportZipMb / zipZipMb, exportZipMb, zipZipMb, exportPeakRssMb, importPeakRssMb, passed: false,
    };
    result.exportRatio = result.zipSeconds / result.exportSeconds;
    result.importRatio = result.unzipSeconds / result.importSeconds;
    const t = smallFilesTargets;
    result.passed = result.exportRatio >= t.exportRatio && result.importRatio >= t.importRatio && Math.max(exportPeakRssMb, importPeakRssMb) <= t.peakRssMb;
    const mark = (ok: boolean) => (ok ? 'ok' : 'MISSED');
    log(`  ${files} files, ${entries} zip entries, best of ${rounds}:`);
    log(`    export ${result.exportSeconds.toFixed(2)} s vs zip -r -q ${result.zipSeconds.toFixed(2)} s: ${result.exportRatio.toFixed(2)}x (target >= ${t.exportRatio}x ${mark(result.exportRatio >= t.exportRatio)}, stretch ${t.exportStretch}x ${result.exportRatio >= t.exportStretch ? 'ok' : 'not reached'})`);
    log(`    import ${result.importSeconds.toFixed(2)} s vs unzip -q ${result.unzipSeconds.toFixed(2)} s: ${result.importRatio.toFixed(2)}x (target >= ${t.importRatio}x) ${mark(result.importRatio >= t.importRatio)}`);
    const unzipSynced = Math.min(...unzipSyncTimes);
    log(`    (unzip -q then sync -f of its files: ${unzipSynced.toFixed(2)} s, ${(unzipSynced / result.importSeconds).toFixed(2)}x)`);
    const unzipSpread = Math.min(...unzipSpreadTimes);
    log(`    (unzip -q into a folder marked chattr +T, the placement the import's folders get: ${unzipSpread.toFixed(2)} s, ${(unzipSpread / result.importSeconds).toFixed(2)}x)`);
    log(`    size ${exportZipMb.toFixed(1)} MB vs zip ${zipZipMb.toFixed(1)} MB: ${result.sizeRatio.toFixed(2)}x (small .pmeta entries and folders are stored)`);
    log(`    peak RSS export ${exportPeakRssMb.toFixed(0)} MB, import ${importPeakRssMb.toFixed(0)} MB (target <= ${t.peakRssMb} MB) ${mark(Math.max(exportPeakRssMb, importPeakRssMb) <= t.peakRssMb)}`);
    return result;
  } finally {
    await stopServer(server);
    await rm(work, { recursive: true, force: true });
  }
}

/** `CELLAR_BENCH_SMALL_FILES` (comma-separated counts) picks the sizes; both by default. */
export async function smallFilesBench(log: (line: string) => void = console.log): Promise<{ passed: boolean; results: SmallFilesResult[] }> {
  const sizes = (process.env.CELLAR_BENCH_SMALL_FILES ?? '10000,50000').split(',').map(Number).filter((count) => count > 0);
  log('many-small-files bench:');
  const results: SmallFilesResult[] = [];
  for (const files of sizes) results.push(await smallFilesShape(files, log));
  return { passed: results.every((result) => result.passed), results };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { passed } = await smallFilesBench();
  process.exitCode = passed ? 0 : 1;
}
