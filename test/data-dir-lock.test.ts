// One server per data directory: a second process refuses to start and names the first; a lock
// left by a killed process is taken over.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { DataDirLock, DataDirLockedError, lockFileName } from '../core/data-dir-lock.ts';
import { call, kill, spawnServer, startServerProcess } from './helpers/server-process.ts';

async function dataDirFor(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cellar-lock-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('a second server on the same data directory refuses to start, names the first, and the first keeps its cells', async (t) => {
  const dataDir = await dataDirFor(t);
  const first = await startServerProcess(dataDir);
  t.teardown(() => { void kill(first); });
  t.is((await call(first.url, 'POST', '/__ctl/Cell', '{"Name":"cell1"}')).status, 201);

  const second = spawnServer(dataDir);
  t.teardown(() => { void kill(second); });
  t.is(await second.exited, 4);
  t.regex(second.output(), new RegExp(`refusing to start: the data directory is in use by process ${first.child.pid} `));
  t.notRegex(second.output(), /\n\s+at /, 'no stack trace');

  t.is((await call(first.url, 'POST', '/__ctl/Cell', '{"Name":"cell2"}')).status, 201);
  t.is(await kill(first, 'SIGTERM'), 0);
  await t.throwsAsync(readFile(path.join(dataDir, lockFileName)), { code: 'ENOENT' }, 'a clean stop removes the lock');

  const third = await startServerProcess(dataDir);
  t.teardown(() => { void kill(third); });
  const names = JSON.parse((await call(third.url, 'GET', '/__ctl/Cell')).text).d.results.map((cell: { Name: string }) => cell.Name);
  t.deepEqual(names.sort(), ['cell1', 'cell2']);
  await kill(third, 'SIGTERM');
});

test('the lock of a killed server is taken over by the next one, which names itself in it', async (t) => {
  const dataDir = await dataDirFor(t);
  const first = await startServerProcess(dataDir);
  t.teardown(() => { void kill(first); });
  t.is(JSON.parse(await readFile(path.join(dataDir, lockFileName), 'utf8')).pid, first.child.pid);
  await kill(first, 'SIGKILL');

  const second = await startServerProcess(dataDir);
  t.teardown(() => { void kill(second); });
  t.is(JSON.parse(await readFile(path.join(dataDir, lockFileName), 'utf8')).pid, second.child.pid);
  t.is((await call(second.url, 'GET', '/__ctl/Cell')).status, 200);
  await kill(second, 'SIGTERM');
});

test('a lock naming a live process is refused; one naming a reused pid or an unreadable file is taken over', async (t) => {
  const dataDir = await dataDirFor(t);
  const held = await DataDirLock.acquire(dataDir);
  const refused = await t.throwsAsync(DataDirLock.acquire(dataDir), { instanceOf: DataDirLockedError });
  t.is(refused.holder.pid, process.pid);
  await held.release();

  // Same pid, another start time: the pid was reused by a process that is not a server.
  await writeFile(path.join(dataDir, lockFileName), JSON.stringify({ pid: process.pid, started: '1', host: hostname(), nonce: 'old' }));
  const takenOver = await DataDirLock.acquire(dataDir);
  t.not(JSON.parse(await readFile(path.join(dataDir, lockFileName), 'utf8')).nonce, 'old');
  await takenOver.release();

  await writeFile(path.join(dataDir, lockFileName), 'garbage');
  const afterGarbage = await DataDirLock.acquire(dataDir);
  t.is(JSON.parse(await readFile(path.join(dataDir, lockFileName), 'utf8')).pid, process.pid);
  await afterGarbage.release();
  await t.throwsAsync(readFile(path.join(dataDir, lockFileName)), { code: 'ENOENT' });
});
