// Box WebDAV benchmark against `rclone serve webdav` in the same run, rounds alternating (rclone,
// Cellar, rclone, Cellar...), best of N reported: PROPFIND Depth 1 over 10,000 files (and the
// unit's RSS, and a small request sent meanwhile), GET and PUT of a 1 GB file with curl, and the
// last MiB of a 2 GB box file. The same files are generated twice: plain for rclone, in the box
// layout (a folder per resource with `.pmeta` and `content`) for Cellar.
import { execFile, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { call, cellRecord, freePort, median, peakRssMb, startServer, stopServer, token } from './lib/unit-process.ts';

const run = promisify(execFile);
const files = 10_000;
const rounds = 5;
const bigBytes = 1024 ** 3;
const hugeBytes = 2 * 1024 ** 3;
const targets = { propfindRatio: 1.0, rssMb: 200, smallRequestMs: 50, transferRatio: 1.0, tailMs: 50 };

function pmeta(type: 'dav.file' | 'col.webdav', extra: Record<string, unknown> = {}): string {
  const now = Date.now();
  return JSON.stringify({ i: randomUUID().replace(/-/g, ''), t: type, a: null, d: {}, p: now, u: now, v: 1, ...extra });
}

async function boxFile(boxDir: string, name: string, content: Buffer | undefined, size: number): Promise<string> {
  const dir = path.join(boxDir, name);
  await mkdir(dir);
  if (content) await writeFile(path.join(dir, 'content'), content);
  await writeFile(path.join(dir, '.pmeta'), pmeta('dav.file', { cl: size, ct: 'application/octet-stream' }));
  return path.join(dir, 'content');
}

/** A file of `size` bytes made of one random MiB repeated (the disk, not the generator, is measured). */
async function bigFile(file: string, size: number): Promise<void> {
  const block = randomBytes(1024 * 1024);
  const out = createWriteStream(file);
  for (let written = 0; written < size; written += block.length) {
    if (!out.write(block)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve, reject) => { out.once('error', reject); out.end(() => resolve()); });
}

async function curlSeconds(args: string[]): Promise<number> {
  const { stdout } = await run('curl', ['-s', '-f', '-o', '/dev/null', '-w', '%{time_total}', ...args], { maxBuffer: 1024 * 1024 });
  return Number(stdout);
}

async function timedPropfind(url: string, headers: Record<string, string>): Promise<number> {
  const started = performance.now();
  const res = await fetch(url, { method: 'PROPFIND', headers: { depth: '1', ...headers } });
  await res.arrayBuffer();
  if (res.status !== 207) throw new Error(`PROPFIND ${url} answered ${res.status}`);
  return performance.now() - started;
}

export interface BoxBenchResult { passed: boolean }

export async function boxDavBench(log: (line: string) => void = console.log): Promise<BoxBenchResult> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'cellar-bench-box-'));
  const dataDir = path.join(work, 'data');
  const plain = path.join(work, 'plain');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = await startServer(dataDir, port);
  const rclonePort = await freePort();
  const rcloneBase = `http://127.0.0.1:${rclonePort}`;
  let rclone: ReturnType<typeof spawn> | undefined;
  const auth = { authorization: `Bearer ${token}` };
  const mark = (ok: boolean) => (ok ? 'ok' : 'MISSED');
  try {
    if ((await call(`${base}/__ctl/Cell`, 'POST', { Name: 'bench' })).status !== 201) throw new Error('could not create the cell');
    const cell = await cellRecord(dataDir, 'bench');
    const boxDir = path.join(dataDir, 'cells', cell.id, cell.contentId, 'dav', '__');
    const listBox = path.join(boxDir, 'many');
    const listPlain = path.join(plain, 'many');
    await mkdir(listBox, { recursive: true });
    await writeFile(path.join(listBox, '.pmeta'), pmeta('col.webdav'));
    await mkdir(listPlain, { recursive: true });
    log(`box WebDAV bench: ${files} files of 100-2000 bytes, a 1 GB file, a 2 GB file; ${rounds} alternating rounds, best of each`);
    for (let i = 0; i < files; i += 500) {
      await Promise.all(Array.from({ length: Math.min(500, files - i) }, async (_, j) => {
        const name = `file-${String(i + j).padStart(5, '0')}.bin`;
        const content = randomBytes(100 + ((i + j) * 7919) % 1900);
        await writeFile(path.join(listPlain, name), content);
        await boxFile(listBox, name, content, content.length);
      }));
    }
    await bigFile(path.join(plain, 'big.bin'), bigBytes);
    await run('cp', ['--reflink=auto', path.join(plain, 'big.bin'), await boxFile(boxDir, 'big.bin', undefined, bigBytes)]);
    const hugeContent = await boxFile(boxDir, 'huge.bin', undefined, hugeBytes);
    const huge = await open(hugeContent, 'w');
    await huge.truncate(hugeBytes - 1024 * 1024);
    await huge.write(randomBytes(1024 * 1024), 0, 1024 * 1024, hugeBytes - 1024 * 1024);
    await huge.close();

    rclone = spawn('rclone', ['--config', '/dev/null', 'serve', 'webdav', plain, '--addr', `127.0.0.1:${rclonePort}`], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      if (await fetch(`${rcloneBase}/`, { method: 'PROPFIND', headers: { depth: '0' } }).then((res) => res.status === 207, () => false)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    const cellarUrl = `${base}/bench/__/many/`;
    await timedPropfind(cellarUrl, auth);
    await timedPropfind(`${rcloneBase}/many/`, {});
    const times = { cellar: [] as number[], rclone: [] as number[] };
    for (let round = 0; round < rounds * 2; round++) {
      times.rclone.push(await timedPropfind(`${rcloneBase}/many/`, {}));
      times.cellar.push(await timedPropfind(cellarUrl, auth));
    }
    const smallTimes: number[] = [];
    for (let i = 0; i < 10; i++) {
      let bigDone = false;
      const big = timedPropfind(cellarUrl, auth).then(() => { bigDone = true; });
      await new Promise((resolve) => setTimeout(resolve, 10 + i * 6));
      const started = performance.now();
      await (await fetch(`${base}/__health`)).arrayBuffer();
      if (!bigDone) smallTimes.push(performance.now() - started);
      await big;
    }
    const rss = await peakRssMb(server.pid!);
    const propfindRatio = Math.min(...times.cellar) / Math.min(...times.rclone);
    const smallMs = smallTimes.length ? Math.max(...smallTimes) : Number.NaN;
    log(`  PROPFIND Depth 1, ${files} files: cellar best ${Math.min(...times.cellar).toFixed(0)} ms (median ${median(times.cellar).toFixed(0)}), rclone best ${Math.min(...times.rclone).toFixed(0)} ms (median ${median(times.rclone).toFixed(0)})`);
    log(`  ratio ${propfindRatio.toFixed(2)}x rclone (target <= ${targets.propfindRatio}x) ${mark(propfindRatio <= targets.propfindRatio)}`);
    log(`  unit peak RSS after the PROPFINDs: ${rss.toFixed(0)} MB (target <= ${targets.rssMb} MB) ${mark(rss <= targets.rssMb)}`);
    log(`  GET /__health during a PROPFIND: worst of ${smallTimes.length} ${smallMs.toFixed(1)} ms (target <= ${targets.smallRequestMs} ms) ${mark(smallMs <= targets.smallRequestMs)}`);

    const get = { cellar: [] as number[], rclone: [] as number[] };
    const put = { cellar: [] as number[], rclone: [] as number[] };
    const source = path.join(plain, 'big.bin');
    for (let round = 0; round < Math.ceil(rounds / 2) + 1; round++) {
      get.rclone.push(await curlSeconds([`${rcloneBase}/big.bin`]));
      get.cellar.push(await curlSeconds(['-H', `Authorization: Bearer ${token}`, `${base}/bench/__/big.bin`]));
      put.rclone.push(await curlSeconds(['-T', source, `${rcloneBase}/put-${round}.bin`]));
      put.cellar.push(await curlSeconds(['-T', source, '-H', `Authorization: Bearer ${token}`, `${base}/bench/__/put-${round}.bin`]));
      await rm(path.join(plain, `put-${round}.bin`), { force: true });
      await call(`${base}/bench/__/put-${round}.bin`, 'DELETE');
    }
    const rate = (seconds: number[]) => bigBytes / Math.min(...seconds) / 1e6;
    const getRatio = rate(get.cellar) / rate(get.rclone);
    const putRatio = rate(put.cellar) / rate(put.rclone);
    log(`  GET 1 GB: cellar ${rate(get.cellar).toFixed(0)} MB/s, rclone ${rate(get.rclone).toFixed(0)} MB/s, ratio ${getRatio.toFixed(2)} (target >= ${targets.transferRatio}) ${mark(getRatio >= targets.transferRatio)}`);
    log(`  PUT 1 GB: cellar ${rate(put.cellar).toFixed(0)} MB/s, rclone ${rate(put.rclone).toFixed(0)} MB/s, ratio ${putRatio.toFixed(2)} (target >= ${targets.transferRatio}) ${mark(putRatio >= targets.transferRatio)}`);

    const tail: number[] = [];
    for (let i = 0; i < 10; i++) {
      tail.push(1000 * await curlSeconds(['-H', `Authorization: Bearer ${token}`, '-H', `Range: bytes=${hugeBytes - 1024 * 1024}-`, `${base}/bench/__/huge.bin`]));
    }
    log(`  last MiB of a 2 GB box file: median ${median(tail).toFixed(1)} ms, worst ${Math.max(...tail).toFixed(1)} ms (target < ${targets.tailMs} ms) ${mark(median(tail) < targets.tailMs)}`);
    const passed = propfindRatio <= targets.propfindRatio && rss <= targets.rssMb && smallMs <= targets.smallRequestMs
      && getRatio >= targets.transferRatio && putRatio >= targets.transferRatio && median(tail) < targets.tailMs;
    return { passed };
  } finally {
    rclone?.kill('SIGTERM');
    await stopServer(server);
    await rm(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await boxDavBench();
  process.exitCode = result.passed ? 0 : 1;
}
