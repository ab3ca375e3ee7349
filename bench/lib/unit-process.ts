// A unit server as a child process, the way `npm start` runs it (same node flags), for the benchmarks: start it on
// a free loopback port, call it with the master token, read its peak RSS.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

export const token = 'bench-master-token-0123456789';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

const repository = path.resolve(import.meta.dirname, '..', '..');

/** What `npm start` runs: the variables it sets, then node's arguments (its flags and the script), from package.json. */
async function startCommand(): Promise<{ env: Record<string, string>; args: string[] }> {
  const manifest = JSON.parse(await readFile(path.join(repository, 'package.json'), 'utf8')) as { scripts: { start: string } };
  const words = manifest.scripts.start.split(/\s+/);
  const env: Record<string, string> = {};
  for (let assignment = /^([A-Z_]+)=(\S*)$/.exec(words[0]!); assignment; assignment = /^([A-Z_]+)=(\S*)$/.exec(words[0]!)) {
    env[assignment[1]!] = assignment[2]!;
    words.shift();
  }
  const [command, ...args] = words;
  if (command !== 'node') throw new Error(`the start script does not run node: ${manifest.scripts.start}`);
  return { env, args };
}

/** Starts the server as `npm start` does; `nodeFlags` go before the start script's own. */
export async function startServer(dataDir: string, port: number, nodeFlags: string[] = []): Promise<ChildProcess> {
  const start = await startCommand();
  const child = spawn(process.execPath, [...nodeFlags, ...start.args], {
    cwd: repository,
    env: { ...process.env, ...start.env, CELLAR_DATA_DIR: dataDir, CELLAR_PORT: String(port), CELLAR_HOST: '127.0.0.1', CELLAR_MASTER_TOKEN: token, CELLAR_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const ok = await fetch(`http://127.0.0.1:${port}/__health`).then((res) => res.ok, () => false);
    if (ok) return child;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill('SIGTERM');
  throw new Error('the server did not start');
}

export async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
}

export async function call(url: string, method = 'GET', body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  const payload = body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  return fetch(url, { method, headers: { authorization: `Bearer ${token}`, ...headers }, body: payload as string | undefined });
}

/** The process's peak resident set (VmHWM), in MB. */
export async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

export function median(values: number[]): number {
  return percentile(values, 50);
}

/** How often the benches ask a status URL while a job runs (a client would ask every few seconds). */
export const pollIntervalMs = 50;

/** Polls a status URL until it leaves `busy`; returns the last body and every poll's latency. */
export async function until(url: string, busy: string): Promise<{ body: Record<string, unknown>; latencies: number[] }> {
  const latencies: number[] = [];
  for (;;) {
    const asked = performance.now();
    const body = (await (await call(url)).json()) as Record<string, unknown>;
    latencies.push(performance.now() - asked);
    if (body.status !== busy) return { body, latencies };
    await new Promise((resolve) => setTimeout(resolve, pollIntervalMs));
  }
}

interface UnitFile { cells: Array<{ id: string; name: string; contentId: string; status: string }> }

/** A cell's record, read from the unit's store file. */
export async function cellRecord(dataDir: string, name: string): Promise<UnitFile['cells'][number]> {
  const unit = JSON.parse(await readFile(path.join(dataDir, 'unit.json'), 'utf8')) as UnitFile;
  const cell = unit.cells.find((candidate) => candidate.name === name);
  if (!cell) throw new Error(`no cell ${name} in the store`);
  return cell;
}

/**
 * Writes out every dirty page of the machine before a timed run, outside its time: the import
 * syncs its file system before the swap, and must not pay for what the round before it (unzip's
 * files, the replaced content's removal) left unwritten.
 */
export async function settleDisk(): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn('sync', [], { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`sync exited with ${code}`))));
  });
}
