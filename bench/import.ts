// Import benchmark: the export benchmark's corpus, exported by the unit, then imported into another
// cell by a freshly started server (a child process, as `npm start` runs it), against Info-ZIP's
// `unzip -q` of the same zip into an empty folder, in alternating rounds of the same run. Prints
// the throughput ratio of the best times, the server's peak RSS (VmHWM of the fresh process:
// start-up plus the imports) and the p99 latency of GET __import polled while the imports run. Everything lives in a temporary folder, removed after.
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { defaultCorpus, writeCorpus } from './lib/corpus.ts';
import { call, cellRecord, freePort, peakRssMb, percentile, settleDisk, startServer, stopServer, until } from './lib/unit-process.ts';

const run = promisify(execFile);
const targets = { throughputRatio: 1.0, peakRssMb: 200 };
const rounds = 3;

export interface ImportBenchResult {
  inputMb: number;
  zipMb: number;
  importSeconds: number;
  importMbPerSecond: number;
  unzipSeconds: number;
  unzipMbPerSecond: number;
  throughputRatio: number;
  peakRssMb: number;
  statusP99Ms: number;
  passed: boolean;
}

export async function importBench(log: (line: string) => void = console.log): Promise<ImportBenchResult> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'cellar-bench-import-'));
  const dataDir = path.join(work, 'data');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let server = await startServer(dataDir, port);
  try {
    for (const name of ['source', 'target']) {
      if ((await call(`${base}/__ctl/Cell`, 'POST', { Name: name })).status !== 201) throw new Error(`could not create the cell ${name}`);
    }
    const source = await cellRecord(dataDir, 'source');
    log(`import bench: writing the corpus (${defaultCorpus.files} files, ${defaultCorpus.totalBytes / 1e6} MB) and exporting it...`);
    const corpus = await writeCorpus(path.join(dataDir, 'cells', source.id, source.contentId, 'dav', '__'));
    const inputMb = corpus.bytes / 1e6;
    if ((await call(`${base}/source/__export`, 'POST', { Name: 'corpus' })).status !== 202) throw new Error('export refused');
    await until(`${base}/source/__export`, 'exportation in progress');
    const zip = path.join(dataDir, 'snapshots', source.id, 'corpus.zip');
    const zipMb = (await stat(zip)).size / 1e6;
    log(`  corpus: ${corpus.files} files, ${inputMb.toFixed(1)} MB; exported zip ${zipMb.toFixed(1)} MB`);

    // A fresh server, so its peak RSS is the imports', not the corpus export's.
    await stopServer(server);
    server = await startServer(dataDir, port);
    const target = await cellRecord(dataDir, 'target');
    await copyFile(zip, path.join(dataDir, 'snapshots', target.id, 'corpus.zip'));

    // Rounds alternate, Info-ZIP into an empty folder then the unit's import into `target` (over
    // the previous round's content); the best of each is kept, as the machine's load comes and goes.
    const unzipTimes: number[] = [];
    const importTimes: number[] = [];
    const latencies: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const out = path.join(work, 'unzipped');
      await mkdir(out);
      await settleDisk();
      const unzipStart = performance.now();
      await run('unzip', ['-q', zip, '-d', out], { maxBuffer: 1 << 20 });
      unzipTimes.push((performance.now() - unzipStart) / 1000);
      await rm(out, { recursive: true, force: true });

      await settleDisk();
      const importStart = performance.now();
      const accepted = await call(`${base}/target/__import`, 'POST', { Name: 'corpus' });
      if (accepted.status !== 202) throw new Error(`import refused: ${accepted.status} ${await accepted.text()}`);
      const polled = await until(`${base}/target/__import`, 'importation in progress');
      importTimes.push((performance.now() - importStart) / 1000);
      latencies.push(...polled.latencies);
      if (polled.body.status !== 'ready') throw new Error(`the import failed: ${JSON.stringify(polled.body)}`);
      // The job removes the content it replaced just after the swap; the next round starts after that.
      while ((await readdir(path.join(dataDir, 'cells', target.id))).length > 1) await new Promise((resolve) => setTimeout(resolve, 50));
      log(`  round ${round + 1}: unzip -q ${unzipTimes.at(-1)!.toFixed(2)} s, cellar import ${importTimes.at(-1)!.toFixed(2)} s`);
    }
    const unzipSeconds = Math.min(...unzipTimes);
    const importSeconds = Math.min(...importTimes);
    const peak = await peakRssMb(server.pid!);

    const result: ImportBenchResult = {
      inputMb, zipMb, importSeconds, importMbPerSecond: inputMb / importSeconds, unzipSeconds, unzipMbPerSecond: inputMb / unzipSeconds,
      throughputRatio: unzipSeconds / importSeconds, peakRssMb: peak, statusP99Ms: percentile(latencies, 99), passed: false,
    };
    result.passed = result.throughputRatio >= targets.throughputRatio && peak <= targets.peakRssMb;
    const mark = (ok: boolean) => (ok ? 'ok' : 'MISSED');
    log(`  best of ${rounds}:`);
    log(`  cellar import: ${importSeconds.toFixed(2)} s, ${result.importMbPerSecond.toFixed(1)} MB/s`);
    log(`  unzip -q:      ${unzipSeconds.toFixed(2)} s, ${result.unzipMbPerSecond.toFixed(1)} MB/s`);
    log(`  throughput ratio ${result.throughputRatio.toFixed(2)}x (target >= ${targets.throughputRatio}x) ${mark(result.throughputRatio >= targets.throughputRatio)}`);
    log(`  peak RSS         ${peak.toFixed(0)} MB (target <= ${targets.peakRssMb} MB) ${mark(peak <= targets.peakRssMb)}`);
    log(`  GET __import p99 ${result.statusP99Ms.toFixed(1)} ms over ${latencies.length} polls`);
    return result;
  } finally {
    await stopServer(server);
    await rm(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await importBench();
  process.exitCode = result.passed ? 0 : 1;
}
