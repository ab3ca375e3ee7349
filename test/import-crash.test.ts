// A real server process is killed (SIGKILL) in the middle of an import, then started again.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { buildZip, snapshotEntries } from './helpers/snapshot-zip.ts';

const token = 'crash-test-master-token-0123';

async function startProcess(dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/server.ts'], {
    env: { ...process.env, CELLAR_DATA_DIR: dataDir, CELLAR_PORT: '0', CELLAR_HOST: '127.0.0.1', CELLAR_MASTER_TOKEN: token, CELLAR_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`no start: ${output}`)), 30_000);
    child.stdout!.on('data', (chunk) => {
      output += String(chunk);
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)\//.exec(output);
      if (match) { clearTimeout(timer); resolve(match[1]!); }
    });
  });
  return { child, url };
}

async function call(url: string, method: string, path_: string, body?: string | Buffer): Promise<{ status: number; text: string }> {
  const res = await fetch(`${url}${path_}`, { method, body, headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, text: await res.text() };
}

test('a server killed during an import comes back with the cell import failed, the old content whole, and a re-import succeeds', async (t) => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'cellar-crash-'));
  let { child, url } = await startProcess(dataDir);
  t.teardown(() => { child.kill('SIGKILL'); });
  t.is((await call(url, 'POST', '/__ctl/Cell', '{"Name":"cell1"}')).status, 201);
  t.is((await call(url, 'PUT', '/cell1/__/keep.txt', 'old content')).status, 201);
  const cellId = JSON.parse((await call(url, 'GET', "/__ctl/Cell('cell1')")).text).d.results.__id as string;

  // Big enough to be caught in the middle: 160 files of 1 MiB, stored.
  const zip = buildZip(snapshotEntries({
    change: (entries) => [
      ...entries,
      ...Array.from({ length: 160 }, (_, i) => [
        { name: `20_webdav/__/f${i}/` },
        { name: `20_webdav/__/f${i}/.pmeta`, data: JSON.stringify({ i: `f${i}`, t: 'dav.file', a: null, d: {}, p: 1, u: 1, v: 1, ct: 'application/octet-stream', cl: 1048576 }) },
        { name: `20_webdav/__/f${i}/content`, data: randomBytes(1024 * 1024) },
      ]).flat(),
    ],
  }));
  await writeFile(path.join(dataDir, 'snapshots', cellId, 'big.zip'), zip);
  t.is((await call(url, 'POST', '/cell1/__import', '{"Name":"big"}')).status, 202);
  let seen = '';
  for (let i = 0; i < 400 && !seen.includes('importation in progress'); i++) {
    seen = (await call(url, 'GET', '/cell1/__import')).text;
  }
  t.regex(seen, /importation in progress/);
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));

  ({ child, url } = await startProcess(dataDir));
  const status = JSON.parse((await call(url, 'GET', '/cell1/__import')).text);
  t.is(status.status, 'import failed');
  t.is(status.importation_name, 'big');
  t.regex(status.message.message.value, /stopped while the import was running/);
  t.is((await call(url, 'GET', '/cell1/__ctl/Box')).status, 409, 'the import-failed gate holds');

  const unit = JSON.parse(await readFile(path.join(dataDir, 'unit.json'), 'utf8'));
  const record = unit.cells.find((cell: { name: string }) => cell.name === 'cell1');
  t.deepEqual(await readdir(path.join(dataDir, 'cells', cellId)), [record.contentId], 'no staging folder is left');
  t.is(await readFile(path.join(dataDir, 'cells', cellId, record.contentId, 'dav', '__', 'keep.txt', 'content'), 'utf8'), 'old content', 'the old content is whole');

  t.is((await call(url, 'POST', '/cell1/__import', '{"Name":"big"}')).status, 202);
  let final = '';
  for (let i = 0; i < 600; i++) {
    final = (await call(url, 'GET', '/cell1/__import')).text;
    if (!final.includes('in progress')) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  t.deepEqual(JSON.parse(final), { status: 'ready' });
  t.is((await call(url, 'GET', '/cell1/__/top.txt')).text, 'top');
  t.is((await call(url, 'GET', '/cell1/__/f7')).status, 200);
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
});
