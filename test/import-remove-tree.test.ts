import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { removeTree } from '../core/remove-tree.ts';

test('a tree of folders, files and links goes entirely, links not followed, and a missing root is no error', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cellar-remove-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const root = path.join(dir, 'tree');
  for (let folder = 0; folder < 5; folder++) {
    for (let file = 0; file < 40; file++) {
      await mkdir(path.join(root, `c${folder}`, `r${file}`), { recursive: true });
      await writeFile(path.join(root, `c${folder}`, `r${file}`, 'content'), 'x');
    }
  }
  await mkdir(path.join(root, 'empty', 'deeper'), { recursive: true });
  await mkdir(path.join(dir, 'outside'));
  await writeFile(path.join(dir, 'outside', 'kept'), 'k');
  await symlink(path.join(dir, 'outside'), path.join(root, 'link'));
  await removeTree(root);
  t.deepEqual((await readdir(dir)).sort(), ['outside']);
  t.deepEqual(await readdir(path.join(dir, 'outside')), ['kept']);
  await t.notThrowsAsync(removeTree(root));
});
