// Soak: 50 clients for 60 s over box files, snapshot files and cells of a real server (a child
// process, as `npm start` runs it) while a cell is exported and imported back again and again.
// Prints requests, errors, latency, /__health latency and the server's peak RSS, then restarts
// the server and checks byte for byte every file whose last PUT was acknowledged.
// CELLAR_SOAK_SECONDS and CELLAR_SOAK_CLIENTS change the duration and the number of clients;
// CELLAR_SOAK_JOBS=0 leaves the export and import out (to tell what the clients cost alone);
// CELLAR_SOAK_CELL_MB sets the size of the exported cell (default 60).
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { seeded, writeCorpus } from './lib/corpus.ts';
import { call, cellRecord, freePort, peakRssMb, percentile, startServer, stopServer } from './lib/unit-process.ts';

const seconds = Number(process.env.CELLAR_SOAK_SECONDS ?? 60);
const clients = Number(process.env.CELLAR_SOAK_CLIENTS ?? 50);
const withJobs = process.env.CELLAR_SOAK_JOBS !== '0';
const cellMb = Number(process.env.CELLAR_SOAK_CELL_MB ?? 60);
const workCells = 10;
const goals = { errors: 0, healthP99Ms: 100, peakRssMb: 200, lost: 0 };

interface Tally {
  requests: number;
  errors: string[];
  latencies: number[];
}

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** One request, timed and counted; `ok` lists the statuses that are right for it. */
async function timed(tally: Tally, what: string, ok: number[], run: () => Promise<Response>): Promise<Response | undefined> {
  const started = performance.now();
  try {
    const res = await run();
    tally.latencies.push(performance.now() - started);
    tally.requests += 1;
    if (!ok.includes(res.status)) {
      tally.errors.push(`${what}: ${res.status} ${(await res.text()).slice(0, 120)}`);
      return undefined;
    }
    return res;
  } catch (error) {
    tally.requests += 1;
    tally.errors.push(`${what}: ${(error as Error).message}`);
    return undefined;
  }
}

/** What the clients believe is stored: path → sha256 of the body of the last acknowledged PUT. */
type Expected = Map<string, string>;

async function client(base: string, id: number, until: number, tally: Tally, expected: Expected): Promise<void> {
  const random = seeded(1000 + id);
  const cell = `w${id % workCells}`;
  let serial = 0;
  while (performance.now() < until) {
    const roll = random();
    const body = randomBytes(1024 + Math.floor(random() * 63 * 1024));
    if (roll < 0.25) {
      const url = `/${cell}/box/c${id}-${serial++ % 8}.bin`;
      const res = await timed(tally, 'box PUT', [201, 204], () => call(`${base}${url}`, 'PUT', body, { 'content-type': 'application/octet-stream' }));
      if (res) { await res.arrayBuffer(); expected.set(url, sha(body)); }
    } else if (roll < 0.45) {
      const url = `/${cell}/__snapshot/c${id}-${serial++ % 8}.bin`;
      const res = await timed(tally, 'snapshot PUT', [201, 204], () => call(`${base}${url}`, 'PUT', body, { 'content-type': 'application/octet-stream' }));
      if (res) { await res.arrayBuffer(); expected.set(url, sha(body)); }
    } else if (roll < 0.7) {
      const known = [...expected.keys()].filter((url) => url.includes(`/c${id}-`));
      if (!known.length) continue;
      const url = known[Math.floor(random() * known.length)]!;
      const res = await timed(tally, 'GET', [200], () => call(`${base}${url}`));
      if (res) {
        const got = sha(Buffer.from(await res.arrayBuffer()));
        if (got !== expected.get(url)) tally.errors.push(`GET ${url}: content differs from the last PUT`);
      }
    } else if (roll < 0.8) {
      const res = await timed(tally, 'snapshot PROPFIND', [207], () => call(`${base}/${cell}/__snapshot/`, 'PROPFIND', undefined, { depth: '1' }));
      if (res) await res.arrayBuffer();
    } else if (roll < 0.87) {
      const known = [...expected.keys()].filter((url) => url.includes('__snapshot') && url.includes(`/c${id}-`));
      if (!known.length) continue;
      const url = known[Math.floor(random() * known.length)]!;
      const res = await timed(tally, 'snapshot DELETE', [204], () => call(`${base}${url}`, 'DELETE'));
      if (res) expected.delete(url);
    } else if (roll < 0.93) {
      const name = `t${id}x${serial++}`;
      const created = await timed(tally, 'cell POST', [201], () => call(`${base}/__ctl/Cell`, 'POST', { Name: name }));
      if (created) {
        await created.arrayBuffer();
        await timed(tally, 'box POST', [201], () => call(`${base}/${name}/__ctl/Box`, 'POST', { Name: 'b' })).then((res) => res?.arrayBuffer());
        await timed(tally, 'cell DELETE', [204], () => call(`${base}/__ctl/Cell('${name}')`, 'DELETE', undefined, { 'x-personium-recursive': 'true' }));
      }
    } else {
      const res = await timed(tally, 'cell list', [200], () => call(`${base}/__ctl/Cell`));
      if (res) await res.arrayBuffer();
    }
  }
}

/** Exports the `big` cell and imports the zip back into it, again and again, until `until`. */
async function jobs(base: string, until: number, tally: Tally): Promise<{ exports: number; imports: number }> {
  const done = { exports: 0, imports: 0 };
  const wait = async (kind: 'export' | 'import') => {
    for (;;) {
      const res = await call(`${base}/big/__${kind}`);
      const body = (await res.json()) as { status: string; message?: unknown };
      if (!body.status.includes('in progress')) return body;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  };
  for (let round = 0; performance.now() < until; round++) {
    const name = `soak${round}`;
    const started = await timed(tally, 'export POST', [202], () => call(`${base}/big/__export`, 'POST', { Name: name }));
    if (!started) break;
    const exported = await wait('export');
    if (exported.status !== 'ready') { tally.errors.push(`export: ${JSON.stringify(exported)}`); break; }
    done.exports += 1;
    const imported = await timed(tally, 'import POST', [202], () => call(`${base}/big/__import`, 'POST', { Name: name }));
    if (!imported) break;
    const status = await wait('import');
    if (status.status !== 'ready') { tally.errors.push(`import: ${JSON.stringify(status)}`); break; }
    done.imports += 1;
    await call(`${base}/big/__snapshot/${name}.zip`, 'DELETE');
  }
  return done;
}

/** /__health latencies, measured by a process of its own (see lib/health-poller.mjs). */
async function healthPoller(base: string, forSeconds: number, latencies: number[]): Promise<void> {
  const child = spawn(process.execPath, [path.join(import.meta.dirname, 'lib', 'health-poller.mjs'), `${base}/__health`, String(forSeconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (chunk) => { output += String(chunk); });
  await new Promise((resolve) => child.once('exit', resolve));
  latencies.push(...(JSON.parse(output || '[]') as number[]));
}

export async function soakBench(log: (line: string) => void = console.log): Promise<{ passed: boolean }> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'cellar-bench-soak-'));
  const dataDir = path.join(work, 'data');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let server = await startServer(dataDir, port);
  try {
    for (const name of ['big', ...Array.from({ length: workCells }, (_, i) => `w${i}`)]) {
      if ((await call(`${base}/__ctl/Cell`, 'POST', { Name: name })).status !== 201) throw new Error(`could not create ${name}`);
      if (name !== 'big' && (await call(`${base}/${name}/__ctl/Box`, 'POST', { Name: 'box' })).status !== 201) throw new Error(`could not create a box in ${name}`);
    }
    const big = await cellRecord(dataDir, 'big');
    const corpus = await writeCorpus(path.join(dataDir, 'cells', big.id, big.contentId, 'dav', '__'), { files: Math.max(50, Math.round(cellMb * 7)), totalBytes: cellMb * 1000 * 1000, largestFile: 2_200_000, seed: 7 });
    log(`soak: ${clients} clients for ${seconds} s over ${workCells} cells, while a cell of ${corpus.files} files / ${(corpus.bytes / 1e6).toFixed(0)} MB is exported and imported back`);

    const tally: Tally = { requests: 0, errors: [], latencies: [] };
    const health: number[] = [];
    const expected: Expected = new Map();
    const until = performance.now() + seconds * 1000;
    const [, done] = await Promise.all([
      Promise.all(Array.from({ length: clients }, (_, id) => client(base, id, until, tally, expected))),
      withJobs ? jobs(base, until, tally) : Promise.resolve({ exports: 0, imports: 0 }),
      healthPoller(base, seconds, health),
    ]);
    const rss = await peakRssMb(server.pid!);

    await stopServer(server);
    server = await startServer(dataDir, port);
    let lost = 0;
    for (const [url, hash] of expected) {
      const res = await call(`${base}${url}`);
      const got = res.status === 200 ? sha(Buffer.from(await res.arrayBuffer())) : undefined;
      if (got !== hash) {
        lost += 1;
        if (lost <= 5) log(`  lost: ${url} (${res.status})`);
      }
    }

    const p = (values: number[], q: number) => percentile(values, q).toFixed(1);
    log(`  requests ${tally.requests} (${(tally.requests / seconds).toFixed(0)}/s), errors ${tally.errors.length}, exports ${done.exports}, imports ${done.imports}`);
    log(`  latency p50 ${p(tally.latencies, 50)} ms, p99 ${p(tally.latencies, 99)} ms; /__health p99 ${p(health, 99)} ms (${health.length} polls)`);
    log(`  server peak RSS ${rss.toFixed(0)} MB; files checked after a restart ${expected.size}, lost ${lost}`);
    for (const error of tally.errors.slice(0, 10)) log(`  error: ${error}`);
    const misses = [
      tally.errors.length > goals.errors ? `errors ${tally.errors.length} > ${goals.errors}` : '',
      percentile(health, 99) > goals.healthP99Ms ? `/__health p99 > ${goals.healthP99Ms} ms` : '',
      rss > goals.peakRssMb ? `peak RSS > ${goals.peakRssMb} MB` : '',
      lost > goals.lost ? `${lost} files lost` : '',
    ].filter(Boolean);
    log(misses.length ? `  soak goals missed: ${misses.join('; ')}` : '  soak goals met (0 errors, /__health p99 <= 100 ms, peak RSS <= 200 MB, 0 lost)');
    return { passed: misses.length === 0 };
  } finally {
    await stopServer(server);
    await rm(work, { recursive: true, force: true });
  }
}
