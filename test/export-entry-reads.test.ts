import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { looksRandom, readSmall, smallFileBytes } from '../plugins/export/entry-reads.ts';

test('random bytes look random; text, JSON in any script and short entries do not', (t) => {
  t.true(looksRandom(randomBytes(4096)));
  t.false(looksRandom(Buffer.from('the quick brown fox jumps over the lazy dog. '.repeat(40))));
  t.false(looksRandom(Buffer.from(JSON.stringify({ name: '日本語のメモ、カフェ ☕ crème brûlée', tags: ['ελληνικά', 'русский'] }).repeat(20))));
  t.false(looksRandom(Buffer.alloc(4096)));
  t.false(looksRandom(randomBytes(511)), 'too short to judge: deflate decides');
});

test('a small file is read whole; a larger one only gives its size', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cellar-reads-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const small = randomBytes(smallFileBytes);
  await writeFile(path.join(dir, 'small'), small);
  await writeFile(path.join(dir, 'large'), randomBytes(smallFileBytes + 1));
  t.true(readSmall(path.join(dir, 'small')).bytes!.equals(small));
  t.deepEqual(readSmall(path.join(dir, 'large')), { size: smallFileBytes + 1 });
  t.throws(() => readSmall(path.join(dir, 'missing')), { code: 'ENOENT' });
});
