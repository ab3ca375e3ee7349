import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { FileWriterThread, bufferSizeFor } from '../plugins/import/file-writer.ts';

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
  const files = new FileWriterThread();
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
  const files = new FileWriterThread();
  t.teardown(() => files.close());
  const data = Buffer.from('first');
  const written = files.write(path.join(dir, 'a'), data);
  data.write('later');
  await written;
  t.is(await readFile(path.join(dir, 'a'), 'utf8'), 'first');
});

test('folders are made, and a file that exists is never written over: the error says EEXIST', async (t) => {
  const dir = await tempDir(t);
  const files = new FileWriterThread();
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
  const files = new FileWriterThread();
  await writeFile(path.join(dir, 'plain'), 'x');
  const error = await t.throwsAsync(files.write(path.join(dir, 'plain', 'below'), Buffer.from('y')));
  t.is((error as NodeJS.ErrnoException).code, 'ENOTDIR');
  await files.close();
  await t.throwsAsync(files.write(path.join(dir, 'late'), Buffer.from('z')), { message: /closed/ });
});
