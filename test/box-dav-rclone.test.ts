// rclone (a webdav remote configured through environment variables, the Bearer token as a header)
// copies, checks and syncs a tree with awkward names into a box and back, byte for byte; a second
// sync has nothing to do. Skipped, saying so, only when rclone is missing.
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { masterToken } from './helpers/unit.ts';
import { box, unitWithBox } from './helpers/box.ts';

const run = promisify(execFile);
const hasRclone = spawnSync('sh', ['-c', 'command -v rclone']).status === 0;

const tree: Record<string, Buffer> = {
  'hash#1.txt': Buffer.from('hash'),
  'per%cent 100%.txt': Buffer.from('percent'),
  'plus+sign.bin': randomBytes(70_000),
  'with space/inner file.txt': Buffer.from('space'),
  'café/ünïcödé 日本.txt': Buffer.from('non-ascii'),
  'café/deeper/#%+ .dat': randomBytes(300_000),
  'empty.txt': Buffer.alloc(0),
};

async function writeTree(root: string, files: Record<string, Buffer>): Promise<void> {
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, name)), { recursive: true });
    await writeFile(path.join(root, name), content);
  }
}

async function readTree(root: string, prefix = ''): Promise<Record<string, Buffer>> {
  const found: Record<string, Buffer> = {};
  for (const entry of await readdir(path.join(root, prefix), { withFileTypes: true })) {
    const name = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) Object.assign(found, await readTree(root, name));
    else found[name] = await readFile(path.join(root, name));
  }
  return found;
}

(hasRclone ? test : test.skip)(`rclone copy, check and sync a tree with #, %, +, spaces and non-ASCII names into a box and back, byte-identical${hasRclone ? '' : ' (skipped: rclone is not installed)'}`, async (t) => {
  const unit = await unitWithBox(t, { unitUrl: '', logLevel: 'warn' });
  const url = await unit.listen();
  const work = await mkdtemp(path.join(os.tmpdir(), 'cellar-rclone-box-'));
  t.teardown(() => rm(work, { recursive: true, force: true }));
  const local = path.join(work, 'local');
  const back = path.join(work, 'back');
  await writeTree(local, tree);
  const env = { ...process.env, RCLONE_CONFIG_BOX_TYPE: 'webdav', RCLONE_CONFIG_BOX_URL: `${url}${box}/`, RCLONE_CONFIG_BOX_VENDOR: 'other' };
  const rclone = async (...args: string[]) => {
    try {
      return await run('rclone', ['--config', '/dev/null', '--header', `Authorization: Bearer ${masterToken}`, '--low-level-retries', '1', '--retries', '1', '-v', ...args], { env, timeout: 60_000 });
    } catch (error) {
      const failed = error as { stderr?: string; message: string };
      throw new Error(`rclone ${args.join(' ')} failed: ${failed.stderr ?? failed.message}`);
    }
  };

  await rclone('copy', local, 'box:tree');
  await rclone('check', '--download', local, 'box:tree');
  await rclone('copy', 'box:tree', back);
  t.deepEqual(await readTree(back), await readTree(local), 'the tree came back byte-identical');
  const listed = (await rclone('lsf', '-R', 'box:tree')).stdout.split('\n').filter(Boolean).sort();
  t.true(listed.includes('hash#1.txt'), 'a # in a name is listed whole');
  t.true(listed.includes('café/deeper/#%+ .dat'));

  await writeFile(path.join(local, 'hash#1.txt'), 'changed, and longer');
  await writeFile(path.join(local, 'café/new +#.txt'), 'added');
  await rm(path.join(local, 'plus+sign.bin'));
  const synced = await rclone('sync', local, 'box:tree');
  t.regex(synced.stderr, /new \+#\.txt: Copied \(new\)/);
  t.regex(synced.stderr, /plus\+sign\.bin: Deleted/);
  await rclone('check', '--download', local, 'box:tree');
  await rm(back, { recursive: true, force: true });
  await rclone('copy', 'box:tree', back);
  t.deepEqual(await readTree(back), await readTree(local), 'after the sync too');

  const again = await rclone('sync', local, 'box:tree');
  t.notRegex(again.stderr, /Copied|Deleted|Updated/, 'a second sync transfers nothing');
  t.regex(again.stderr, /There was nothing to transfer|Transferred:\s+0 B \/ 0 B/);
});
