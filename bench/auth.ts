// Authentication benchmark: a small authenticated GET (a 100-byte box file) with a cell-local
// token (decrypted, its account and roles looked up, the cell ACL checked at every request)
// against the same GET with the master token, alternating rounds, best of 5 (target: within
// 10%); and the latency of a password login (scrypt N=16384), 20 logins (target: each < 200 ms).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { call, freePort, percentile, startServer, stopServer, token as masterToken } from './lib/unit-process.ts';

const rounds = 5;
const requestsPerRound = 3000;
const concurrency = 8;
const targets = { ratio: 0.9, loginMs: 200 };
const password = 'bench-pass-1';

async function requestsPerSecond(url: string, bearer: string): Promise<number> {
  let left = requestsPerRound;
  const started = performance.now();
  const worker = async () => {
    while (left-- > 0) {
      const res = await fetch(url, { headers: { authorization: `Bearer ${bearer}` } });
      if (res.status !== 200) throw new Error(`GET answered ${res.status}`);
      await res.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return requestsPerRound / ((performance.now() - started) / 1000);
}

async function login(base: string): Promise<{ ms: number; token: string }> {
  const started = performance.now();
  const res = await fetch(`${base}/bench/__token`, { method: 'POST', body: new URLSearchParams({ grant_type: 'password', username: 'owner', password }) });
  const body = (await res.json()) as { access_token?: string };
  if (res.status !== 200 || !body.access_token) throw new Error(`login answered ${res.status}`);
  return { ms: performance.now() - started, token: body.access_token };
}

async function setUp(base: string): Promise<void> {
  const steps: Array<[string, string, unknown, Record<string, string>?]> = [
    ['/__ctl/Cell', 'POST', { Name: 'bench' }],
    ['/bench/__ctl/Box', 'POST', { Name: 'box1' }],
    ['/bench/box1/small.txt', 'PUT', 'x'.repeat(100), { 'content-type': 'text/plain' }],
    ['/bench/__ctl/Account', 'POST', { Name: 'owner' }, { 'x-personium-credential': password }],
    ['/bench/__ctl/Role', 'POST', { Name: 'owners' }],
    ["/bench/__ctl/Account('owner')/$links/_Role", 'POST', { uri: "Role('owners')" }],
    ['/bench/', 'ACL', `<D:acl xmlns:D="DAV:" xmlns:p="urn:x-personium:xmlns" xml:base="${base}/bench/__role/__/"><D:ace><D:principal><D:href>owners</D:href></D:principal><D:grant><D:privilege><p:root/></D:privilege></D:grant></D:ace></D:acl>`],
  ];
  for (const [url, method, body, headers] of steps) {
    const res = await call(`${base}${url}`, method, body, headers);
    if (res.status >= 300) throw new Error(`${method} ${url} answered ${res.status}`);
  }
}

export async function authBench(log: (line: string) => void = console.log): Promise<{ passed: boolean }> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'cellar-bench-auth-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = await startServer(path.join(work, 'data'), port);
  try {
    await setUp(base);
    const logins: number[] = [];
    let cellToken = '';
    for (let i = 0; i < 20; i++) {
      const { ms, token } = await login(base);
      logins.push(ms);
      cellToken = token;
    }
    const url = `${base}/bench/box1/small.txt`;
    await requestsPerSecond(url, masterToken);
    let master = 0;
    let cell = 0;
    for (let round = 0; round < rounds; round++) {
      master = Math.max(master, await requestsPerSecond(url, masterToken));
      cell = Math.max(cell, await requestsPerSecond(url, cellToken));
    }
    const ratio = cell / master;
    const worstLogin = Math.max(...logins);
    const mark = (ok: boolean) => (ok ? 'ok' : 'MISSED');
    log(`auth bench: GET of a 100-byte box file, ${requestsPerRound} requests x ${concurrency} clients, best of ${rounds} alternating rounds`);
    log(`  master token ${master.toFixed(0)} req/s, cell-local token ${cell.toFixed(0)} req/s: ratio ${ratio.toFixed(2)} (target >= ${targets.ratio}) ${mark(ratio >= targets.ratio)}`);
    log(`  password login: median ${percentile(logins, 50).toFixed(0)} ms, worst ${worstLogin.toFixed(0)} ms of ${logins.length} (target < ${targets.loginMs} ms) ${mark(worstLogin < targets.loginMs)}`);
    return { passed: ratio >= targets.ratio && worstLogin < targets.loginMs };
  } finally {
    await stopServer(server);
    await rm(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { passed } = await authBench();
  process.exitCode = passed ? 0 : 1;
}
