import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';
import test from 'ava';
import { FileWriters, bufferSizeFor } from '../plugins/import/file-writer.ts';
import { DamagedEntryError } from '../plugins/import/inflate-entry.mjs';

async function tempDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cellar-writer-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('buffers come in powers of two from 4 KiB', (t) => {
  t.is(bufferSizeFor(0), 4096);
  t.is(bufferSizeFor(4096), 4096);
  t.is(bufferSizeFor(4097), 8192);
  t.is(bufferSizeFor(1024 * 1024), 1024 * 1024);
});

test('the writer thread creates files byte for byte, with their folders, mode 0600, reusing its buffers', async (t) => {
  const dir = await tempDir(t);
  const files = new FileWriters();
  t.teardown(() => files.close());
  // More files than spare buffers, of sizes that share buffer sizes, written in waves so that
  // later files go out in buffers that came back: each must hold its own bytes only.
  const contents = Array.from({ length: 60 }, (_, index) => randomBytes([0, 10, 5000, 4096, 70_000, 1024 * 1024][index % 6]!));
  for (let wave = 0; wave < 3; wave++) {
    await Promise.all(contents.map((content, index) => files.write(path.join(dir, `w${wave}`, `f${index}`, 'content'), content)));
  }
  t.true(files.spareBytes > 0);
  for (let wave = 0; wave < 3; wave++) {
    for (const [index, content] of contents.entries()) {
      const target = path.join(dir, `w${wave}`, `f${index}`, 'content');
      t.true((await readFile(target)).equals(content), target);
      t.is((await stat(target)).mode & 0o777, 0o600);
    }
  }
});

test('a data buffer the caller changes after write() returns does not change the file', async (t) => {
  const dir = await tempDir(t);
  const files = new FileWriters();
  t.teardown(() => files.close());
  const data = Buffer.from('first');
  const written = files.write(path.join(dir, 'a'), data);
  data.write('later');
  await written;
  t.is(await readFile(path.join(dir, 'a'), 'utf8'), 'first');
});

test('folders are made, and a file that exists is never written over: the error says EEXIST', async (t) => {
  const dir = await tempDir(t);
  const files = new FileWriters();
  t.teardown(() => files.close());
  await files.mkdir(path.join(dir, 'x', 'y', 'z'));
  t.true((await stat(path.join(dir, 'x', 'y', 'z'))).isDirectory());
  await writeFile(path.join(dir, 'taken'), 'old');
  const error = await t.throwsAsync(files.write(path.join(dir, 'taken'), Buffer.from('new')));
  t.is((error as NodeJS.ErrnoException).code, 'EEXIST');
  t.is(await readFile(path.join(dir, 'taken'), 'utf8'), 'old');
  // The thread goes on after a failed request.
  await files.write(path.join(dir, 'next'), Buffer.from('ok'));
  t.is(await readFile(path.join(dir, 'next'), 'utf8'), 'ok');
});

test('a file under a path that is a file fails with the system error; after close, writes are refused', async (t) => {
  const dir = await tempDir(t);
  const files = new FileWriters();
  await writeFile(path.join(dir, 'plain'), 'x');
  const error = await t.throwsAsync(files.write(path.join(dir, 'plain', 'below'), Buffer.from('y')));
  t.is((error as NodeJS.ErrnoException).code, 'ENOTDIR');
  await files.close();
  await t.throwsAsync(files.write(path.join(dir, 'late'), Buffer.from('z')), { message: /closed/ });
});

test('a deflated entry is inflated, measured and written by the threads; a stored one is written as it is', async (t) => {
  const dir = await tempDir(t);
  const files = new FileWriters();
  t.teardown(() => files.close());
  const content = Buffer.from('a line of a small file\n'.repeat(200));
  const deflated = await files.expand(path.join(dir, 'd', 'content'), deflateRawSync(content), { deflated: true, size: content.length, digest: 'sha256' });
  t.deepEqual(deflated, { size: content.length, sha256: createHash('sha256').update(content).digest(), crc32: undefined });
  const stored = await files.expand(path.join(dir, 's', 'content'), content, { deflated: false, size: content.length, digest: 'crc32' });
  t.deepEqual(stored, { size: content.length, sha256: undefined, crc32: crc32(content) });
  t.true((await readFile(path.join(dir, 'd', 'content'))).equals(content));
  t.true((await readFile(path.join(dir, 's', 'content'))).equals(content));
});

test('a deflated entry that expands to more or fewer bytes than declared, or not at all, is damaged and written nowhere', async (t) => {
  const dir = await tempDir(t);
  const files = new FileWriters();
  t.teardown(() => files.close());
  const content = Buffer.alloc(5000, 7);
  const cases: Array<[string, Buffer, number, RegExp]> = [
    ['more', deflateRawSync(content), 4999, /^expands to more than its declared 4999 bytes$/],
    ['fewer', deflateRawSync(content), 5001, /^expands to 5000 bytes, not the declared 5001$/],
    ['garbage', Buffer.from('not deflate data at all'), 10, /^invalid block type$/],
  ];
  for (const [name, raw, size, message] of cases) {
    const error = await t.throwsAsync(files.expand(path.join(dir, name, 'content'), raw, { deflated: true, size, digest: 'sha256' }), { instanceOf: DamagedEntryError });
    t.regex(error!.message, message, name);
    await t.throwsAsync(stat(path.join(dir, name, 'content')), { code: 'ENOENT' }, name);
  }
  // The threads go on.
  await files.write(path.join(dir, 'after'), Buffer.from('ok'));
  t.is(await readFile(path.join(dir, 'after'), 'utf8'), 'ok');
});

test('a write may give the file its mode and time, and a folder its mode', async (t) => {
  const dir = await tempDir(t);
  const files = new FileWriters();
  t.teardown(() => files.close());
  const mtime = new Date('2024-02-29T12:34:56.000Z');
  await files.write(path.join(dir, 'kept', 'file'), Buffer.from('x'), { mode: 0o640, mtime });
  await files.mkdir(path.join(dir, 'folder'), { mode: 0o750 });
  const file = await stat(path.join(dir, 'kept', 'file'));
  t.is(file.mode & 0o777, 0o640 & ~process.umask());
  t.is(file.mtime.getTime(), mtime.getTime());
  t.is((await stat(path.join(dir, 'folder'))).mode & 0o777, 0o750 & ~process.umask());
});
