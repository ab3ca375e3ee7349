import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { BackgroundFlush, flushEveryBytes, metadataBytesPerEntry, syncFileSystem } from '../plugins/import/file-system-sync.ts';

test('the file system is flushed in the background every 32 MiB extracted, one flush at a time', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cellar-flush-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const flush = new BackgroundFlush(dir);
  flush.add(flushEveryBytes - 1);
  t.is(flush.started, 0);
  flush.add(1);
  t.is(flush.started, 1);
  // While that flush runs, more data starts none.
  flush.add(flushEveryBytes * 3);
  t.is(flush.started, 1);
  await flush.settle();
  flush.add(1);
  t.is(flush.started, 2, 'the bytes written meanwhile are due at once');
  await flush.settle();
  flush.add(flushEveryBytes - 1);
  t.is(flush.started, 2);
});

test('new files and folders count 4 KiB each toward the next flush, beside their bytes', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cellar-flush-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const flush = new BackgroundFlush(dir);
  const entries = flushEveryBytes / metadataBytesPerEntry;
  t.is(metadataBytesPerEntry, 4096);
  flush.add(0, entries - 1);
  flush.add(metadataBytesPerEntry - 1);
  t.is(flush.started, 0);
  flush.add(1, 0);
  t.is(flush.started, 1);
  await flush.settle();
});

test('a background flush that fails is left to the final sync: settle does not throw', async (t) => {
  const flush = new BackgroundFlush(path.join(os.tmpdir(), 'cellar-flush-missing-folder'));
  flush.add(flushEveryBytes);
  t.is(flush.started, 1);
  await t.notThrowsAsync(flush.settle());
});

test('a sync of a folder that does not exist fails with the reason', async (t) => {
  await t.throwsAsync(syncFileSystem(path.join(os.tmpdir(), 'cellar-flush-missing-folder')), { message: /No such file/ });
});
