// Export benchmark: a generated corpus exported by a real server (a child process, as `npm start`
// runs it) against Info-ZIP's `zip -r -q` (default level) on the same files, in alternating rounds
// of the same run. Prints the throughput ratio of the best times, the size ratio, the server's peak
// RSS (VmHWM over all rounds) and the p99 latency of GET __export polled while the exports run.
// Everything lives in a temporary folder, removed after.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { defaultCorpus, writeCorpus } from './lib/corpus.ts';
import { call, cellRecord, freePort, peakRssMb, percentile, startServer, stopServer, until } from './lib/unit-process.ts';

const run = promisify(execFile);
const targets = { throughputRatio: 1.5, sizeRatio: 1.05, peakRssMb: 200, p99Ms: 50 };
const rounds = 3;

export interface ExportBenchResult {
  inputMb: number;
  exportSeconds: number;
  exportMbPerSecond: number;
  exportZipMb: number;
  zipSeconds: number;
  zipMbPerSecond: number;
  zipZipMb: number;
  throughputRatio: number;
  sizeRatio: number;
  peakRssMb: number;
  statusP99Ms: number;
  statusPolls: number;
  passed: boolean;
}

export async function exportBench(log: (line: string) => void = console.log): Promise<ExportBenchResult> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'cellar-bench-export-'));
  const dataDir = path.join(work, 'data');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = await startServer(dataDir, port);
  try {
    if ((await call(`${base}/__ctl/Cell`, 'POST', { Name: 'bench' })).status !== 201) throw new Error('could not create the cell');
    const cell = await cellRecord(dataDir, 'bench');
    const davRoot = path.join(dataDir, 'cells', cell.id, cell.contentId, 'dav');
    const area = path.join(dataDir, 'snapshots', cell.id);
    log(`export bench: writing the corpus (${defaultCorpus.files} files, ${defaultCorpus.totalBytes / 1e6} MB)...`);
    const corpus = await writeCorpus(path.join(davRoot, '__'));
    const inputMb = corpus.bytes / 1e6;
    log(`  corpus: ${corpus.files} files, ${inputMb.toFixed(1)} MB (${(corpus.randomBytes / 1e6).toFixed(1)} MB random, ${(corpus.textBytes / 1e6).toFixed(1)} MB text)`);

    // Rounds alternate, Info-ZIP on the cell's tree (default level) then the unit's export with
    // GET __export polled all along; the best of each is kept, as the machine's load comes and goes.
    const zipTimes: number[] = [];
    const exportTimes: number[] = [];
    const latencies: number[] = [];
    let zipZipMb = 0;
    let exportZipMb = 0;
    for (let round = 1; round <= rounds; round++) {
      const zipOut = path.join(work, 'infozip.zip');
      const zipStart = performance.now();
      await run('zip', ['-r', '-q', zipOut, '.'], { cwd: davRoot, maxBuffer: 1 << 20 });
      zipTimes.push((performance.now() - zipStart) / 1000);
      zipZipMb = (await stat(zipOut)).size / 1e6;
      await rm(zipOut);

      const name = `bench${round}`;
      const exportStart = performance.now();
      const accepted = await call(`${base}/bench/__export`, 'POST', { Name: name });
      if (accepted.status !== 202) throw new Error(`export refused: ${accepted.status} ${await accepted.text()}`);
      const polled = await until(`${base}/bench/__export`, 'exportation in progress');
      exportTimes.push((performance.now() - exportStart) / 1000);
      latencies.push(...polled.latencies);
      const failure = await readFile(path.join(area, `${name}.error`), 'utf8').catch(() => undefined);
      if (failure) throw new Error(`the export failed: ${failure}`);
      exportZipMb = (await stat(path.join(area, `${name}.zip`))).size / 1e6;
      if ((await call(`${base}/bench/__snapshot/${name}.zip`, 'DELETE')).status !== 204) throw new Error(`could not delete ${name}.zip`);
      log(`  round ${round}: zip -r -q ${zipTimes.at(-1)!.toFixed(2)} s, cellar export ${exportTimes.at(-1)!.toFixed(2)} s`);
    }
    const zipSeconds = Math.min(...zipTimes);
    const exportSeconds = Math.min(...exportTimes);
    const peak = await peakRssMb(server.pid!);

    const result: ExportBenchResult = {
      inputMb,
      exportSeconds,
      exportMbPerSecond: inputMb / exportSeconds,
      exportZipMb,
      zipSeconds,
      zipMbPerSecond: inputMb / zipSeconds,
      zipZipMb,
      throughputRatio: zipSeconds / exportSeconds,
      sizeRatio: exportZipMb / zipZipMb,
      peakRssMb: peak,
      statusP99Ms: percentile(latencies, 99),
      statusPolls: latencies.length,
      passed: false,
    };
    result.passed = result.throughputRatio >= targets.throughputRatio && result.sizeRatio <= targets.sizeRatio &&
      result.peakRssMb <= targets.peakRssMb && result.statusP99Ms <= targets.p99Ms;
    const mark = (ok: boolean) => (ok ? 'ok' : 'MISSED');
    log(`  best of ${rounds}:`);
    log(`  cellar export: ${exportSeconds.toFixed(2)} s, ${result.exportMbPerSecond.toFixed(1)} MB/s, ${exportZipMb.toFixed(1)} MB`);
    log(`  zip -r -q:     ${zipSeconds.toFixed(2)} s, ${result.zipMbPerSecond.toFixed(1)} MB/s, ${zipZipMb.toFixed(1)} MB`);
    log(`  throughput ratio ${result.throughputRatio.toFixed(2)}x (target >= ${targets.throughputRatio}x) ${mark(result.throughputRatio >= targets.throughputRatio)}`);
    log(`  size ratio       ${result.sizeRatio.toFixed(3)}x (target <= ${targets.sizeRatio}x) ${mark(result.sizeRatio <= targets.sizeRatio)}`);
    log(`  peak RSS         ${peak.toFixed(0)} MB (target <= ${targets.peakRssMb} MB) ${mark(peak <= targets.peakRssMb)}`);
    log(`  GET __export p99 ${result.statusP99Ms.toFixed(1)} ms over ${latencies.length} polls (target <= ${targets.p99Ms} ms) ${mark(result.statusP99Ms <= targets.p99Ms)}`);
    return result;
  } finally {
    await stopServer(server);
    await rm(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await exportBench();
  process.exitCode = result.passed ? 0 : 1;
}
