// Unit backup benchmark: a generated unit (four cells of the export corpus's kind of files, 1 GB in
// all by default; CELLAR_BENCH_BACKUP_MB for another size, plus a snapshot file per cell) served by
// a server started as `npm start` runs it. Backup: `cellar unit backup` (download, every entry held
// to its size and place in the manifest, file synced) against `tar cf` of the data directory (and
// `tar cf` + `sync -f`, since the command syncs); restore: `cellar unit restore` (SHA-256 checks,
// extraction, sync) against `tar xf` of tar's own archive (and `tar xf` + `sync -f`). The
// server's stream saved by curl is timed too, to tell the server's share from the command's, and so
// is the floor of any download: the backup's file served whole by a plain node server. Rounds
// alternate tool and Cellar; the best of each is compared. Peak RSS: the server's during the
// backups (a fresh process), the restore command's own.
import { execFile, spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { writeCorpus } from './lib/corpus.ts';
import { call, cellRecord, freePort, peakRssMb, startServer, stopServer, token } from './lib/unit-process.ts';

const run = promisify(execFile);
const targets = { throughputRatio: 0.8, peakRssMb: 200 };
const rounds = 3;
const cellNames = ['cell1', 'cell2', 'cell3', 'cell4'];
const cli = path.resolve(import.meta.dirname, '..', 'bin', 'cellar.js');

export interface BackupBenchResult {
  unitMb: number;
  backupSeconds: number;
  tarCfSeconds: number;
  backupRatio: number;
  restoreSeconds: number;
  tarXfSeconds: number;
  restoreRatio: number;
  serverPeakRssMb: number;
  restorePeakRssMb: number;
  passed: boolean;
}

/** Runs a command to its end and returns its peak RSS in MB (VmHWM, read until it exits). */
async function timedProcess(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ seconds: number; peakMb: number }> {
  const started = performance.now();
  const child = spawn(command, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  let peakMb = 0;
  // A process that has exited (a zombie) has no VmHWM: NaN samples are skipped.
  const sampler = setInterval(() => { void peakRssMb(child.pid!).then((mb) => { if (Number.isFinite(mb)) peakMb = Math.max(peakMb, mb); }, () => {}); }, 20);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearInterval(sampler);
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${code}: ${stderr}`);
  return { seconds: (performance.now() - started) / 1000, peakMb };
}

/** Seconds of three `curl -o` of `file` served whole by a plain node:http server in this process. */
async function staticDownloadSeconds(file: string, saved: string): Promise<number[]> {
  const size = (await stat(file)).size;
  const server = http.createServer((_request, response) => {
    response.writeHead(200, { 'content-length': size });
    createReadStream(file, { highWaterMark: 1024 * 1024 }).pipe(response);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  try {
    const seconds: number[] = [];
    for (let round = 0; round < rounds; round++) {
      seconds.push((await timedProcess('curl', ['-s', '-f', '-o', saved, `http://127.0.0.1:${port}/`])).seconds);
      await rm(saved, { force: true });
    }
    return seconds;
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

export async function backupBench(log: (line: string) => void = console.log): Promise<BackupBenchResult> {
  const unitMb = Number(process.env.CELLAR_BENCH_BACKUP_MB ?? 1000);
  const work = await mkdtemp(path.join(os.tmpdir(), 'cellar-bench-backup-'));
  const dataDir = path.join(work, 'data');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let server = await startServer(dataDir, port);
  try {
    log(`backup bench: writing a unit of ${cellNames.length} cells, ${unitMb} MB...`);
    let bytes = 0;
    let files = 0;
    for (const [index, name] of cellNames.entries()) {
      if ((await call(`${base}/__ctl/Cell`, 'POST', { Name: name })).status !== 201) throw new Error(`could not create ${name}`);
      const cell = await cellRecord(dataDir, name);
      const share = (unitMb * 1e6) / cellNames.length;
      const corpus = await writeCorpus(path.join(dataDir, 'cells', cell.id, cell.contentId, 'dav', '__'), {
        files: Math.max(20, Math.round(share / 250_000)), totalBytes: Math.round(share * 0.95), largestFile: 16_000_000, seed: 42 + index,
      });
      const snapshot = path.join(dataDir, 'snapshots', cell.id, 'old.zip');
      await mkdir(path.dirname(snapshot), { recursive: true });
      await copyFile(path.join(dataDir, 'cells', cell.id, cell.contentId, 'dav', '__', 'dir0', 'sub0', 'file0000.bin', 'content'), snapshot);
      bytes += corpus.bytes + (await stat(snapshot)).size;
      files += corpus.files + 1;
    }
    log(`  unit: ${files} files, ${(bytes / 1e6).toFixed(0)} MB`);
    // A fresh server, so that its peak RSS is the backups'.
    await stopServer(server);
    server = await startServer(dataDir, port);

    const env = { ...process.env, CELLAR_URL: base, CELLAR_TOKEN: token };
    const tarOut = path.join(work, 'tar.tar');
    const cellarOut = path.join(work, 'cellar.tar');
    const times = { floor: [] as number[], tarCf: [] as number[], tarCfSync: [] as number[], backup: [] as number[], curl: [] as number[], tarXf: [] as number[], restore: [] as number[], tarXfSync: [] as number[] };
    let restorePeak = 0;
    for (let round = 0; round < rounds; round++) {
      await rm(tarOut, { force: true });
      await rm(cellarOut, { force: true });
      const tarCf = await timedProcess('tar', ['cf', tarOut, '-C', dataDir, 'cells', 'snapshots', 'unit.json']);
      // The command syncs its file before the rename; tar does not: its figure with a sync too.
      const synced = performance.now();
      await run('sync', ['-f', tarOut]);
      times.tarCfSync.push(tarCf.seconds + (performance.now() - synced) / 1000);
      const backup = await timedProcess(process.execPath, [cli, '-q', 'unit', 'backup', cellarOut], env);
      // The server's stream alone, as any HTTP client saves it (no checks, no sync, no node start-up).
      const curl = await timedProcess('curl', ['-s', '-f', '-o', path.join(work, 'curl.tar'), '-H', `Authorization: Bearer ${token}`, `${base}/__backup`]);
      await rm(path.join(work, 'curl.tar'), { force: true });
      times.tarCf.push(tarCf.seconds);
      times.backup.push(backup.seconds);
      times.curl.push(curl.seconds);
      log(`  round ${round + 1}: tar cf ${tarCf.seconds.toFixed(2)} s (with sync -f ${times.tarCfSync.at(-1)!.toFixed(2)} s), cellar unit backup ${backup.seconds.toFixed(2)} s, curl of GET __backup ${curl.seconds.toFixed(2)} s`);
    }
    const serverPeak = await peakRssMb(server.pid!);
    await stopServer(server);
    // The floor of any download: the last backup's file served as it is by a plain node server
    // (no tar, no hash, no checks) and saved by curl.
    const floor = await staticDownloadSeconds(cellarOut, path.join(work, 'static.tar'));
    times.floor = floor;
    log(`  floor: the same ${((await stat(cellarOut)).size / 1e6).toFixed(0)} MB as one file from a plain node server, saved by curl: ${floor.map((value) => value.toFixed(2)).join(', ')} s`);
    // Each round into folders of its own, all removed at the end: on ext4 without a journal,
    // creating files just after removing many is several times slower (freed inodes are scanned
    // past for a minute or more), and whichever tool followed a removal would lose by it.
    for (let round = 0; round < rounds; round++) {
      const untarred = path.join(work, `untarred-${round + 1}`);
      const restored = path.join(work, `restored-${round + 1}`);
      await mkdir(untarred);
      const tarXf = await timedProcess('tar', ['xf', tarOut, '-C', untarred]);
      const started = performance.now();
      await run('sync', ['-f', untarred]);
      times.tarXfSync.push(tarXf.seconds + (performance.now() - started) / 1000);
      const restore = await timedProcess(process.execPath, [cli, '-q', 'unit', 'restore', cellarOut, '--data-dir', restored]);
      times.tarXf.push(tarXf.seconds);
      times.restore.push(restore.seconds);
      restorePeak = Math.max(restorePeak, restore.peakMb);
      log(`  round ${round + 1}: tar xf ${tarXf.seconds.toFixed(2)} s (with sync -f ${times.tarXfSync.at(-1)!.toFixed(2)} s), cellar unit restore ${restore.seconds.toFixed(2)} s, ${restore.peakMb.toFixed(0)} MB`);
      const registry = JSON.parse(await readFile(path.join(restored, 'unit.json'), 'utf8')) as { cells: unknown[] };
      if (registry.cells.length !== cellNames.length) throw new Error('the restored unit does not list every cell');
    }

    const best = (values: number[]) => Math.min(...values);
    const mb = bytes / 1e6;
    const result: BackupBenchResult = {
      unitMb: mb,
      backupSeconds: best(times.backup), tarCfSeconds: best(times.tarCf), backupRatio: best(times.tarCf) / best(times.backup),
      restoreSeconds: best(times.restore), tarXfSeconds: best(times.tarXf), restoreRatio: best(times.tarXf) / best(times.restore),
      serverPeakRssMb: serverPeak, restorePeakRssMb: restorePeak, passed: false,
    };
    const met = {
      backup: result.backupRatio >= targets.throughputRatio,
      restore: result.restoreRatio >= targets.throughputRatio,
      server: serverPeak <= targets.peakRssMb,
      restoreRss: restorePeak <= targets.peakRssMb,
    };
    result.passed = Object.values(met).every(Boolean);
    const mark = (ok: boolean) => (ok ? 'ok' : 'MISSED');
    log(`  best of ${rounds}:`);
    log(`  cellar unit backup:  ${result.backupSeconds.toFixed(2)} s, ${(mb / result.backupSeconds).toFixed(0)} MB/s; tar cf ${result.tarCfSeconds.toFixed(2)} s, ${(mb / result.tarCfSeconds).toFixed(0)} MB/s`);
    log(`  backup throughput ratio ${result.backupRatio.toFixed(2)}x (target >= ${targets.throughputRatio}x) ${mark(met.backup)}; against tar cf + sync -f ${(best(times.tarCfSync) / result.backupSeconds).toFixed(2)}x; the server's stream alone (curl) ${best(times.curl).toFixed(2)} s, ${(result.tarCfSeconds / best(times.curl)).toFixed(2)}x`);
    log(`  floor of a download (a static file of the same size): ${best(times.floor).toFixed(2)} s, ${(result.tarCfSeconds / best(times.floor)).toFixed(2)}x of tar cf`);
    log(`  cellar unit restore: ${result.restoreSeconds.toFixed(2)} s, ${(mb / result.restoreSeconds).toFixed(0)} MB/s; tar xf ${result.tarXfSeconds.toFixed(2)} s, ${(mb / result.tarXfSeconds).toFixed(0)} MB/s`);
    log(`  restore throughput ratio ${result.restoreRatio.toFixed(2)}x (target >= ${targets.throughputRatio}x) ${mark(met.restore)}; against tar xf + sync -f ${(best(times.tarXfSync) / result.restoreSeconds).toFixed(2)}x`);
    log(`  server peak RSS during the backups ${serverPeak.toFixed(0)} MB (target <= ${targets.peakRssMb} MB) ${mark(met.server)}`);
    log(`  restore command peak RSS ${restorePeak.toFixed(0)} MB (target <= ${targets.peakRssMb} MB) ${mark(met.restoreRss)}`);
    return result;
  } finally {
    await stopServer(server);
    await rm(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await backupBench();
  process.exitCode = result.passed ? 0 : 1;
}
