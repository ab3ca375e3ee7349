// An uncaught exception in a real server process: it is logged, the unit stops taking requests,
// the running import ends in its documented terminal state, and the process exits with 1. An
// unhandled rejection changes nothing: a later clean stop exits 0.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { buildZip, snapshotEntries } from './helpers/snapshot-zip.ts';
import { call, kill, startServerProcess } from './helpers/server-process.ts';

const faults = ['--import', path.resolve('test/fixtures/fault-on-signal.mjs')];

async function dataDirFor(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cellar-fatal-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('an uncaught exception is logged, the running import ends as import failed (shutting down), and the process exits 1', async (t) => {
  const dataDir = await dataDirFor(t);
  const server = await startServerProcess(dataDir, { nodeArgs: faults });
  t.teardown(() => { void kill(server); });
  t.is((await call(server.url, 'POST', '/__ctl/Cell', '{"Name":"cell1"}')).status, 201);
  const cellId = JSON.parse((await call(server.url, 'GET', "/__ctl/Cell('cell1')")).text).d.results.__id as string;
  const zip = buildZip(snapshotEntries({
    change: (entries) => [
      ...entries,
      ...Array.from({ length: 120 }, (_, i) => [
        { name: `20_webdav/__/f${i}/` },
        { name: `20_webdav/__/f${i}/.pmeta`, data: JSON.stringify({ i: `f${i}`, t: 'dav.file', a: null, d: {}, p: 1, u: 1, v: 1, ct: 'application/octet-stream', cl: 1048576 }) },
        { name: `20_webdav/__/f${i}/content`, data: randomBytes(1024 * 1024) },
      ]).flat(),
    ],
  }));
  await writeFile(path.join(dataDir, 'snapshots', cellId, 'big.zip'), zip);
  t.is((await call(server.url, 'POST', '/cell1/__import', '{"Name":"big"}')).status, 202);
  let seen = '';
  for (let i = 0; i < 400 && !seen.includes('importation in progress'); i++) seen = (await call(server.url, 'GET', '/cell1/__import')).text;
  t.regex(seen, /importation in progress/);

  server.child.kill('SIGUSR2');
  t.is(await server.exited, 1);
  t.regex(server.output(), /"level":60[^\n]*a bug nobody caught[^\n]*uncaught exception: the unit stops taking requests/);
  t.regex(server.output(), /stopped after an uncaught exception/);
  await t.throwsAsync(fetch(`${server.url}/__health`), undefined, 'nothing listens any more');

  const again = await startServerProcess(dataDir);
  t.teardown(() => { void kill(again); });
  const status = JSON.parse((await call(again.url, 'GET', '/cell1/__import')).text);
  t.is(status.status, 'import failed');
  t.is(status.message.code, 'PR503-SV-0002', 'the import ended itself, as on a shutdown, before the process exited');
  await kill(again, 'SIGTERM');
});

test('after an unhandled rejection the unit goes on, and a clean stop still exits 0', async (t) => {
  const dataDir = await dataDirFor(t);
  const server = await startServerProcess(dataDir, { nodeArgs: faults });
  t.teardown(() => { void kill(server); });
  server.child.kill('SIGWINCH');
  for (let i = 0; i < 100 && !server.output().includes('unhandled rejection'); i++) await new Promise((resolve) => setTimeout(resolve, 20));
  t.regex(server.output(), /a rejection nobody handled[^\n]*unhandled rejection; the unit goes on/);
  t.is((await call(server.url, 'POST', '/__ctl/Cell', '{"Name":"cell1"}')).status, 201);
  t.is(await kill(server, 'SIGTERM'), 0);
});
