// The status poll during a large export: a cell of about 3 GB (300 files of about 10 MB, half
// random bytes, half text) exported once by a real server (a child process, as `npm start` runs
// it), GET __export polled every 50 ms all along; prints the poll latencies' p99 and the export's
// time and peak RSS. `CELLAR_BENCH_LARGE_MB` sets the cell's size. Generated, never committed.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { writeCorpus } from './lib/corpus.ts';
import { call, cellRecord, freePort, peakRssMb, percentile, startServer, stopServer, until } from './lib/unit-process.ts';

const targets = { p99Ms: 50, peakRssMb: 200 };

export async function exportStatusBench(log: (line: string) => void = console.log): Promise<{ passed: boolean; p99Ms: number }> {
  const totalMb = Number(process.env.CELLAR_BENCH_LARGE_MB ?? 3000);
  const work = await mkdtemp(path.join(os.tmpdir(), 'cellar-bench-large-'));
  const dataDir = path.join(work, 'data');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = await startServer(dataDir, port);
  try {
    if ((await call(`${base}/__ctl/Cell`, 'POST', { Name: 'large' })).status !== 201) throw new Error('could not create the cell');
    const cell = await cellRecord(dataDir, 'large');
    log(`export status bench: writing a cell of ${totalMb} MB...`);
    const files = Math.max(2, Math.round(totalMb / 10));
    const corpus = await writeCorpus(path.join(dataDir, 'cells', cell.id, cell.contentId, 'dav', '__'), { files, totalBytes: totalMb * 1e6, largestFile: 30_000_000, seed: 11 });
    const started = performance.now();
    if ((await call(`${base}/large/__export`, 'POST', { Name: 'large' })).status !== 202) throw new Error('export refused');
    const { latencies } = await until(`${base}/large/__export`, 'exportation in progress');
    const seconds = (performance.now() - started) / 1000;
    const zipMb = (await stat(path.join(dataDir, 'snapshots', cell.id, 'large.zip'))).size / 1e6;
    const p99Ms = percentile(latencies, 99);
    const peak = await peakRssMb(server.pid!);
    const mark = (ok: boolean) => (ok ? 'ok' : 'MISSED');
    log(`  ${corpus.files} files, ${(corpus.bytes / 1e6).toFixed(0)} MB exported in ${seconds.toFixed(1)} s (${(corpus.bytes / 1e6 / seconds).toFixed(0)} MB/s), zip ${zipMb.toFixed(0)} MB`);
    log(`  GET __export p99 ${p99Ms.toFixed(1)} ms over ${latencies.length} polls every 50 ms (target <= ${targets.p99Ms} ms) ${mark(p99Ms <= targets.p99Ms)}`);
    log(`  peak RSS ${peak.toFixed(0)} MB (target <= ${targets.peakRssMb} MB) ${mark(peak <= targets.peakRssMb)}`);
    return { passed: p99Ms <= targets.p99Ms && peak <= targets.peakRssMb, p99Ms };
  } finally {
    await stopServer(server);
    await rm(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { passed } = await exportStatusBench();
  process.exitCode = passed ? 0 : 1;
}
