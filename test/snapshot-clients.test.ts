// Real WebDAV clients against the snapshot area. rclone sends the Bearer token itself. cadaver
// (0.24, neon 0.32) speaks only Basic and Digest and has no option for an extra header, so it goes
// through its own `-p` HTTP proxy option to a loopback proxy that adds the token; it still talks
// to the unit's real URL and follows the unit's own hrefs. Each test is skipped, saying so, only
// when its binary is missing.
import { execFile, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { startBearerProxy } from './helpers/bearer-proxy.ts';
import { masterToken, startUnit } from './helpers/unit.ts';

const run = promisify(execFile);
function runWithInput(command: string, args: string[], input: string, env: NodeJS.ProcessEnv): Promise<{ stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'inherit'] });
    let stdout = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.on('data', (chunk) => { stdout += String(chunk); });
    child.once('error', reject);
    child.once('close', () => { clearTimeout(timer); resolve({ stdout }); });
    child.stdin.end(input);
  });
}

const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
/** The test, or a skipped one whose title says which binary is missing. */
const withBinary = (tool: string) => (has(tool) ? test : (title: string, _body: unknown) => test.skip(`${title} [skipped: ${tool} is not installed]`, () => {}));

withBinary('rclone')('rclone lists the area, uploads a file, downloads it byte-identical and deletes it', async (t) => {
  const unit = await startUnit({ unitUrl: '' });
  t.teardown(() => unit.stop());
  const url = await unit.listen();
  await unit.createCell('cell1');
  const work = await mkdtemp(path.join(os.tmpdir(), 'cellar-rclone-'));
  t.teardown(() => rm(work, { recursive: true, force: true }));
  const content = randomBytes(300_000);
  await writeFile(path.join(work, 'up.zip'), content);
  const remote = `:webdav,url='${url}/cell1/__snapshot/',bearer_token='${masterToken}':`;
  const rclone = (...args: string[]) => run('rclone', ['--config', '/dev/null', '--low-level-retries', '1', '--retries', '1', ...args], { timeout: 30_000 });

  await rclone('copyto', path.join(work, 'up.zip'), `${remote}up.zip`);
  const listed = await rclone('lsl', remote);
  t.regex(listed.stdout, /300000 .* up\.zip/);
  await rclone('copyto', `${remote}up.zip`, path.join(work, 'down.zip'));
  t.deepEqual(await readFile(path.join(work, 'down.zip')), content);
  await rclone('deletefile', `${remote}up.zip`);
  t.is((await rclone('lsf', remote)).stdout.trim(), '');
  const { store, contents } = unit.server.cellar;
  t.deepEqual((await readdir(contents.snapshotDir(store.findCell('cell1')!.id))).filter((name) => !name.startsWith('.')), []);
});

withBinary('cadaver')('cadaver lists the area, uploads a file, downloads it byte-identical and deletes it', async (t) => {
  const unit = await startUnit({ unitUrl: '' });
  const url = await unit.listen();
  const proxy = await startBearerProxy(masterToken, url);
  t.teardown(async () => { await proxy.close(); await unit.stop(); });
  await unit.createCell('cell1');
  const work = await mkdtemp(path.join(os.tmpdir(), 'cellar-cadaver-'));
  t.teardown(() => rm(work, { recursive: true, force: true }));
  const content = randomBytes(200_000);
  await writeFile(path.join(work, 'up.zip'), content);
  const script = [`put ${path.join(work, 'up.zip')} up.zip`, 'ls', `get up.zip ${path.join(work, 'down.zip')}`, 'delete up.zip', 'ls', 'quit'].join('\n');
  // Never spawnSync here: the unit answers from this very process.
  const result = await runWithInput('cadaver', ['-p', new URL(proxy.url).host, `${url}/cell1/__snapshot/`], `${script}\n`, { ...process.env, HOME: work });
  t.log(result.stdout.split('\n').filter((line) => /Uploading|Downloading|Deleting|up\.zip/.test(line)).join('\n'));
  t.regex(result.stdout, /up\.zip\s+200000/);
  t.deepEqual(await readFile(path.join(work, 'down.zip')), content);
  t.regex(result.stdout, /Deleting .up\.zip.: succeeded/);
  t.regex(result.stdout, /collection is empty/);
  const { store, contents } = unit.server.cellar;
  t.deepEqual((await readdir(contents.snapshotDir(store.findCell('cell1')!.id))).filter((name) => !name.startsWith('.')), []);
});
