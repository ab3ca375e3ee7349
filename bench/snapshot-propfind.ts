// Snapshot-area PROPFIND benchmark: Depth 1 over 10,000 small files, the unit against
// `rclone serve webdav` on the same folder in the same run (medians of 10 requests after a
// warm-up), and the latency of a small request sent while a big PROPFIND is being answered.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { call, freePort, median, startServer, stopServer, token } from './lib/unit-process.ts';

const files = 10_000;
const runs = 10;
const targets = { ratio: 1.0, smallRequestMs: 50 };

async function timed(request: () => Promise<Response>): Promise<{ ms: number; bytes: number }> {
  const started = performance.now();
  const res = await request();
  const body = await res.arrayBuffer();
  if (res.status !== 207) throw new Error(`PROPFIND answered ${res.status}`);
  return { ms: performance.now() - started, bytes: body.byteLength };
}

async function series(request: () => Promise<Response>): Promise<{ median: number; bytes: number }> {
  await timed(request);
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < runs; i++) {
    const result = await timed(request);
    times.push(result.ms);
    bytes = result.bytes;
  }
  return { median: median(times), bytes };
}

export interface PropfindBenchResult { cellarMs: number; rcloneMs: number; ratio: number; smallRequestMs: number; passed: boolean }

export async function snapshotPropfindBench(log: (line: string) => void = console.log): Promise<PropfindBenchResult> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'cellar-bench-propfind-'));
  const dataDir = path.join(work, 'data');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = await startServer(dataDir, port);
  const rclonePort = await freePort();
  let rclone: ReturnType<typeof spawn> | undefined;
  try {
    if ((await call(`${base}/__ctl/Cell`, 'POST', { Name: 'bench' })).status !== 201) throw new Error('could not create the cell');
    const unit = JSON.parse(await readFile(path.join(dataDir, 'unit.json'), 'utf8')) as { cells: Array<{ id: string; name: string }> };
    const area = path.join(dataDir, 'snapshots', unit.cells.find((cell) => cell.name === 'bench')!.id);
    await mkdir(area, { recursive: true });
    log(`snapshot PROPFIND bench: ${files} files of 100-2000 bytes`);
    for (let i = 0; i < files; i += 500) {
      await Promise.all(Array.from({ length: Math.min(500, files - i) }, (_, j) => writeFile(path.join(area, `snapshot-${String(i + j).padStart(5, '0')}.zip`), randomBytes(100 + ((i + j) * 7919) % 1900))));
    }
    rclone = spawn('rclone', ['--config', '/dev/null', 'serve', 'webdav', area, '--addr', `127.0.0.1:${rclonePort}`], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      if (await fetch(`http://127.0.0.1:${rclonePort}/`, { method: 'PROPFIND', headers: { depth: '0' } }).then((res) => res.status === 207, () => false)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const cellar = await series(() => call(`${base}/bench/__snapshot/`, 'PROPFIND', undefined, { depth: '1' }));
    const reference = await series(() => fetch(`http://127.0.0.1:${rclonePort}/`, { method: 'PROPFIND', headers: { depth: '1' } }));

    // A small request sent while the big PROPFIND is being answered; it counts only if the
    // PROPFIND was still under way when the small answer came back.
    const smallTimes: number[] = [];
    let overlapped = 0;
    for (let i = 0; i < 10; i++) {
      let bigDone = false;
      const big = timed(() => call(`${base}/bench/__snapshot/`, 'PROPFIND', undefined, { depth: '1' })).then(() => { bigDone = true; });
      await new Promise((resolve) => setTimeout(resolve, 20 + i * 8));
      const started = performance.now();
      await (await fetch(`${base}/__health`)).arrayBuffer();
      const ms = performance.now() - started;
      if (!bigDone) {
        overlapped++;
        smallTimes.push(ms);
      }
      await big;
    }
    if (smallTimes.length === 0) throw new Error('no small request overlapped a PROPFIND');
    const smallRequestMs = Math.max(...smallTimes);
    const ratio = cellar.median / reference.median;
    const passed = ratio <= targets.ratio && smallRequestMs < targets.smallRequestMs;
    const mark = (ok: boolean) => (ok ? 'ok' : 'MISSED');
    log(`  cellar PROPFIND Depth 1: median ${cellar.median.toFixed(0)} ms, ${(cellar.bytes / 1e6).toFixed(2)} MB`);
    log(`  rclone PROPFIND Depth 1: median ${reference.median.toFixed(0)} ms, ${(reference.bytes / 1e6).toFixed(2)} MB`);
    log(`  ratio ${ratio.toFixed(2)}x rclone (target <= ${targets.ratio}x) ${mark(ratio <= targets.ratio)}`);
    log(`  GET /__health during a PROPFIND: median ${median(smallTimes).toFixed(1)} ms, worst of ${overlapped} ${smallRequestMs.toFixed(1)} ms (target < ${targets.smallRequestMs} ms) ${mark(smallRequestMs < targets.smallRequestMs)}`);
    return { cellarMs: cellar.median, rcloneMs: reference.median, ratio, smallRequestMs, passed };
  } finally {
    rclone?.kill('SIGTERM');
    await stopServer(server);
    await rm(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await snapshotPropfindBench();
  process.exitCode = result.passed ? 0 : 1;
}

export { token };
