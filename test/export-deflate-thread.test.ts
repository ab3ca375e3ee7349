// The export's deflating thread (plugins/export/deflate-thread.ts): small entries handed over in a
// ring of shared memory come back deflated (or stored when they look random or do not shrink) in
// the order they went in, byte for byte once inflated, across many turns of the ring; a full ring
// says so rather than waiting; the thread measures the tree it is given, as measureTree does; and
// a zip written with the thread holds the same files as one written without it.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inflateRawSync } from 'node:zlib';
import test, { type ExecutionContext } from 'ava';
import { measureTree } from '../plugins/export/cell-tree.mjs';
import { DeflateThread, ringBytes, threadEntryBytes } from '../plugins/export/deflate-thread.ts';
import { methodDeflated, methodStored } from '../plugins/export/zip-records.ts';
import { SnapshotZipWriter } from '../plugins/export/zip-writer.ts';
import { repositoryFile } from '../core/repository-files.ts';
import { readZip } from './helpers/zip.ts';

const workerFile = repositoryFile('plugins/export/deflate-worker.mjs');

async function folder(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cellar-deflate-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function thread(t: ExecutionContext): DeflateThread {
  const deflater = new DeflateThread(workerFile, { level: 1, memLevel: 9 });
  t.teardown(() => deflater.close());
  return deflater;
}

const text = (length: number, seed: number) => Buffer.from(`note ${seed}: the quick brown fox jumps over the lazy dog\n`.repeat(Math.ceil(length / 40)).slice(0, length));

test('entries come back in order, deflated or stored, byte for byte, over many turns of the ring', async (t) => {
  const deflater = thread(t);
  // About 12 MiB in all through a 1 MiB ring: each is taken back before the ring runs out.
  const entries = Array.from({ length: 3000 }, (_, index) => (index % 4 === 3 ? randomBytes(1024 + (index % 7) * 500) : text(1024 + (index * 37) % 7000, index)));
  const pending: Array<{ sequence: number; bytes: Buffer }> = [];
  const methods = new Set<number>();
  const take = async () => {
    const { sequence, bytes } = pending.shift()!;
    await deflater.waitFor(sequence);
    const { method, data } = deflater.oldest(sequence);
    methods.add(method);
    t.true((method === methodDeflated ? inflateRawSync(data) : data).equals(bytes), `entry ${sequence}`);
    if (method === methodStored) t.is(data.length, bytes.length);
    deflater.release();
  };
  for (const bytes of entries) {
    let sequence = deflater.submit(bytes, 13);
    while (sequence === undefined) {
      await take();
      sequence = deflater.submit(bytes, 13);
    }
    pending.push({ sequence, bytes });
    if (pending.length > 200) await take();
  }
  while (pending.length > 0) await take();
  t.deepEqual([...methods].sort(), [methodStored, methodDeflated].sort());
});

test('a full ring is said at once, entries must be taken in order, and larger entries are left to the export thread', async (t) => {
  const deflater = thread(t);
  t.is(deflater.submit(text(threadEntryBytes + 1, 0), 15), undefined, 'larger than the thread takes');
  const entry = text(threadEntryBytes, 1);
  const sequences: number[] = [];
  for (let sequence = deflater.submit(entry, 15); sequence !== undefined; sequence = deflater.submit(entry, 15)) sequences.push(sequence);
  t.deepEqual(sequences, Array.from({ length: ringBytes / threadEntryBytes }, (_, index) => index), 'the ring holds exactly so many');
  await deflater.waitFor(sequences.at(-1)!);
  t.throws(() => deflater.oldest(1), { message: /taken in order: 1 is not the oldest done/ });
  t.true(inflateRawSync(deflater.oldest(0).data).equals(entry));
  deflater.release();
  // The ring's start is free again, up to the second entry (which is not yet taken).
  t.is(deflater.submit(entry, 15), undefined, 'the ring never fills up to the entry after it');
  t.is(deflater.submit(text(threadEntryBytes - 10, 4), 15), sequences.length, 'the room came back');
});

test('the thread measures the tree it is given as measureTree does, and one it cannot walk fails only its totals', async (t) => {
  const dir = await folder(t);
  for (const name of ['a', 'a/b', 'c']) await mkdir(path.join(dir, name), { recursive: true });
  await writeFile(path.join(dir, 'a', 'b', 'content'), randomBytes(5000));
  await writeFile(path.join(dir, 'a', '.pmeta'), '{}');
  await writeFile(path.join(dir, 'c', 'content'), 'x');
  await writeFile(path.join(dir, '.content.tmp-1'), 'a temporary');
  t.deepEqual(await thread(t).measure(dir), measureTree(dir));
  t.like(measureTree(dir), { files: 3, directories: 4, bytes: 5001, largestFile: 5000 });

  const lost = thread(t);
  await t.throwsAsync(lost.measure(path.join(dir, 'missing')), { message: /ENOENT/ });
  const sequence = lost.submit(text(4000, 2), 12)!;
  await lost.waitFor(sequence);
  t.is(lost.oldest(sequence).method, methodDeflated);
});

test('one thread serves export after export: each measure is of its own tree, a later one drops the one under way, and settle forgets the entries an export left', async (t) => {
  const dir = await folder(t);
  for (let index = 0; index < 300; index += 1) {
    await mkdir(path.join(dir, 'big', `r${index}`), { recursive: true });
    await writeFile(path.join(dir, 'big', `r${index}`, 'content'), text(100 + index, index));
  }
  await mkdir(path.join(dir, 'small', 'only'), { recursive: true });
  await writeFile(path.join(dir, 'small', 'only', 'content'), 'x');
  const deflater = thread(t);
  const dropped = deflater.measure(path.join(dir, 'big'));
  const small = deflater.measure(path.join(dir, 'small'));
  await t.throwsAsync(dropped, { message: 'a later measure replaced this one' });
  t.deepEqual(await small, measureTree(path.join(dir, 'small')));
  // An export that failed half-way: entries submitted, some never taken.
  const left = [text(3000, 1), text(5000, 2), text(7000, 3)].map((entry) => deflater.submit(entry, 13)!);
  await deflater.waitFor(left[0]!);
  deflater.oldest(left[0]!);
  deflater.release();
  await deflater.settle();
  // The next export starts from an empty ring: its first entry is the oldest, its bytes its own.
  t.deepEqual(await deflater.measure(path.join(dir, 'big')), measureTree(path.join(dir, 'big')));
  const next = text(9000, 4);
  const sequence = deflater.submit(next, 14)!;
  await deflater.waitFor(sequence);
  const { method, data } = deflater.oldest(sequence);
  t.is(method, methodDeflated);
  t.true(inflateRawSync(data).equals(next));
  deflater.release();
  // A closed thread fails a measure asked of it.
  await deflater.close();
  await t.throwsAsync(deflater.measure(dir), { message: 'the deflating thread was closed' });
  t.true(deflater.failed);
});

test('a closed thread fails what waits for it', async (t) => {
  const deflater = new DeflateThread(workerFile, { level: 1, memLevel: 9 });
  await deflater.close();
  t.is(deflater.submit(text(2000, 3), 11), undefined);
  await t.throwsAsync(deflater.waitFor(0), { message: 'the deflating thread was closed' });
});

test('a zip written with the deflating thread holds the files one written without it holds', async (t) => {
  const dir = await folder(t);
  const files = Array.from({ length: 400 }, (_, index) => (index % 3 === 0 ? randomBytes(500 + index * 40) : text(200 + index * 90, index)));
  for (const [index, content] of files.entries()) await writeFile(path.join(dir, `f${index}`), content);
  const write = async (file: string, deflater?: DeflateThread) => {
    const writer = new SnapshotZipWriter(path.join(dir, file), { level: 1, forceZip64: false, date: new Date(0), ...(deflater ? { deflater } : {}) });
    for (const index of files.keys()) {
      if (index % 50 === 0) await writer.addDirectory(`20_webdav/d${index}`);
      await writer.addFile(`20_webdav/f${index}`, path.join(dir, `f${index}`));
    }
    await writer.finish('00_checksums.json');
    return readZip(path.join(dir, file));
  };
  const threaded = await write('threaded.zip', thread(t));
  const alone = await write('alone.zip');
  t.deepEqual([...threaded.keys()], [...alone.keys()]);
  for (const [name, entry] of alone) t.true(threaded.get(name)!.data.equals(entry.data), name);
  t.true(threaded.get('00_checksums.json')!.data.equals(alone.get('00_checksums.json')!.data));
});
