import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { FileWriterPool, FileWriters, bufferSizeFor } from '../plugins/import/file-writer.ts';
import { EntryBatches } from '../plugins/import/entry-batches.ts';
import { zipWindow } from '../plugins/import/block-reader.ts';
import { openZip } from '../plugins/import/inspect.ts';
import { centralDirectory } from '../plugins/import/central-directory.ts';
import { ChecksumTable, nameKey } from '../plugins/import/key-table.ts';
import { errorBody, type ErrorCode, type PersoniumError } from '../core/errors.ts';
import { buildZip, type ZipEntrySpec } from './helpers/snapshot-zip.ts';

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

test('missing folders are made, and a file that exists is never written over: the error says EEXIST', async (t) => {
  const dir = await tempDir(t);
  const files = new FileWriters();
  t.teardown(() => files.close());
  await files.write(path.join(dir, 'x', 'y', 'z', 'file'), Buffer.from('deep'));
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

/** The entries of `zip` (written to `dir`) through EntryBatches into `dir/out`, each file listed in `checksums` when given. */
async function extractAll(dir: string, zip: Buffer, checksums?: ChecksumTable, writers?: FileWriters): Promise<{ bytes: number; fd: number; error?: unknown }> {
  const file = path.join(dir, 's.zip');
  await writeFile(file, zip);
  const opened = await openZip(file);
  const files = writers ?? new FileWriters();
  const fd = zipWindow(opened).fd;
  let bytes = 0;
  const batches = new EntryBatches(files, zipWindow(opened).fd, checksums, (count) => { bytes += count; });
  try {
    for await (const entry of opened.eachEntry()) {
      const wait = batches.add(entry, path.join(dir, 'out', entry.fileName), entry.fileName.endsWith('/') ? -1 : checksums?.slotOf(entry.fileName) ?? -1);
      if (wait) await wait;
    }
    await batches.drain();
    return { bytes, fd };
  } catch (error) {
    return { bytes, fd, error };
  } finally {
    if (!writers) await files.close();
    opened.close();
  }
}

function tableOf(lines: Array<[string, Buffer]>): ChecksumTable {
  const table = new ChecksumTable(lines.length + 1);
  for (const [name, data] of lines) table.set(nameKey(name), data.length, createHash('sha256').update(data).digest('hex'));
  return table;
}

test('the threads read small entries from the zip themselves, inflate them, hold them to their CRC-32 and write them, batch after batch', async (t) => {
  const dir = await tempDir(t);
  // More entries than a batch, over both threads, deflated and stored, and an empty file.
  const specs: ZipEntrySpec[] = [];
  for (let folder = 0; folder < 30; folder += 1) {
    specs.push({ name: `f${folder}/` });
    for (let file = 0; file < 10; file += 1) specs.push({ name: `f${folder}/r${file}`, data: file === 9 ? '' : `folder ${folder} file ${file}\n`.repeat(file * 40 + 1), deflate: file % 2 === 0 });
  }
  const { bytes, error } = await extractAll(dir, buildZip(specs));
  t.is(error, undefined);
  let total = 0;
  for (const spec of specs) {
    const target = path.join(dir, 'out', spec.name);
    if (spec.name.endsWith('/')) t.true((await stat(target)).isDirectory(), spec.name);
    else t.is(await readFile(target, 'utf8'), spec.data as string, spec.name);
    total += Buffer.byteLength((spec.data as string | undefined) ?? '');
  }
  t.is(bytes, total);
});

test.serial('a pool keeps one sound set of writers between jobs: the next job gets the same threads, which read its zip afresh even under the old descriptor number', async (t) => {
  const pool = new FileWriterPool(60_000);
  t.teardown(() => pool.close());
  const first = pool.take();
  // Same names and sizes, other bytes: threads reading the new zip through what they kept of the old one would write the old bytes.
  const specs = (fill: string): ZipEntrySpec[] => [{ name: 'a/' }, ...Array.from({ length: 40 }, (_, index) => ({ name: `a/f${index}`, data: `${fill}${index}`.repeat(100), deflate: index % 2 === 0 }))];
  const one = await tempDir(t);
  const done = await extractAll(one, buildZip(specs('x')), undefined, first);
  t.is(done.error, undefined);
  await pool.give(first);
  const second = pool.take();
  t.is(second, first);
  // Into the same place again, so that the same thread takes the files.
  const two = one;
  await rm(path.join(two, 'out'), { recursive: true });
  const again = await extractAll(two, buildZip(specs('y')), undefined, second);
  t.is(again.error, undefined);
  t.is(again.fd, done.fd, 'the second zip has the first one\'s descriptor number');
  for (let index = 0; index < 40; index += 1) t.is(await readFile(path.join(two, 'out', 'a', `f${index}`), 'utf8'), `y${index}`.repeat(100));
  // While one set is out, a second job gets a set of its own, closed when given back beside the kept one.
  const third = pool.take();
  t.not(third, second);
  await pool.give(second);
  await pool.give(third);
  await t.throwsAsync(third.write(path.join(two, 'late'), Buffer.from('z')), { message: /closed/ });
  const last = pool.take();
  t.is(last, second);
  await pool.give(last);
});

test.serial('a pool closes writers that failed, closes the kept set once idle or when it is closed, and then hands out sets of one use', async (t) => {
  const dir = await tempDir(t);
  const pool = new FileWriterPool(50);
  t.teardown(() => pool.close());
  const broken = pool.take();
  await broken.close();
  t.true(broken.failed);
  await pool.give(broken);
  const fresh = pool.take();
  t.not(fresh, broken);
  await fresh.write(path.join(dir, 'a'), Buffer.from('a'));
  await pool.give(fresh);
  // Idle past idleMs: the kept set is closed (looked at until it is, for 5 s at most).
  for (let waited = 0; !fresh.failed && waited < 5000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
  await t.throwsAsync(fresh.write(path.join(dir, 'b'), Buffer.from('b')), { message: /closed/ });
  const next = pool.take();
  t.not(next, fresh);
  await pool.give(next);
  await pool.close();
  await t.throwsAsync(next.write(path.join(dir, 'c'), Buffer.from('c')), { message: /closed/ });
  const after = pool.take();
  t.not(after, next);
  await pool.give(after);
  t.true(after.failed, 'a set given back to a closed pool is closed');
});

test('with a checksum list the threads hold each file to its line: a mismatch, an unusable line or a size lie fails naming the entry, and that file is not written', async (t) => {
  const good = Buffer.from('the listed content\n'.repeat(50));
  const other = Buffer.from('something else');
  const cases: Array<[string, ZipEntrySpec, Array<[string, Buffer]>, ErrorCode]> = [
    ['digest', { name: 'a/content', data: good, deflate: true }, [['a/content', other]], 'PR400-SN-0005'],
    ['stored', { name: 'a/content', data: good }, [['a/content', Buffer.concat([good, Buffer.from('x')])]], 'PR400-SN-0005'],
  ];
  for (const [label, spec, lines, code] of cases) {
    const dir = await tempDir(t);
    const { error } = await extractAll(dir, buildZip([{ name: 'a/' }, spec]), tableOf(lines));
    t.deepEqual((error as PersoniumError).data, errorBody(code, ['a/content']), label);
    await t.throwsAsync(stat(path.join(dir, 'out', 'a', 'content')), { code: 'ENOENT' }, label);
  }
  // A line that holds no usable SHA-256 matches nothing.
  const dir = await tempDir(t);
  const table = new ChecksumTable(4);
  table.set(nameKey('a/content'), good.length, 'not hex');
  const { error } = await extractAll(dir, buildZip([{ name: 'a/content', data: good }]), table);
  t.deepEqual((error as PersoniumError).data, errorBody('PR400-SN-0005', ['a/content']));
  // The listed file itself passes.
  const passing = await tempDir(t);
  t.is((await extractAll(passing, buildZip([{ name: 'a/content', data: good, deflate: true }]), tableOf([['a/content', good]]))).error, undefined);
  t.true((await readFile(path.join(passing, 'out', 'a', 'content'))).equals(good));
});

test('a small entry that is damaged fails as PR400-SN-0006 with what the thread found, and is written nowhere', async (t) => {
  const content = Buffer.alloc(5000, 7);
  const cases: Array<[string, ZipEntrySpec, string]> = [
    ['more', { name: 'x/content', data: content, deflate: true, declaredSize: 4999 }, 'x/content: expands to more than its declared 4999 bytes'],
    ['fewer', { name: 'x/content', data: content, deflate: true, declaredSize: 5001 }, 'x/content: expands to 5000 bytes, not the declared 5001'],
    ['crc', { name: 'x/content', data: content, method: 8 }, 'x/content: invalid block type'],
  ];
  for (const [label, spec, message] of cases) {
    const dir = await tempDir(t);
    const { error } = await extractAll(dir, buildZip([spec]));
    t.deepEqual((error as PersoniumError).data, errorBody('PR400-SN-0006', [message]), label);
    await t.throwsAsync(stat(path.join(dir, 'out', 'x', 'content')), { code: 'ENOENT' }, label);
  }
  // Without a list, data that does not match the zip's CRC-32.
  const dir = await tempDir(t);
  const zip = buildZip([{ name: 'x/content', data: content }]);
  const flipped = 30 + 'x/content'.length + 100;
  zip[flipped] = zip[flipped]! ^ 1;
  const { error } = await extractAll(dir, zip);
  t.deepEqual((error as PersoniumError).data, errorBody('PR400-SN-0006', ['x/content: its CRC-32 does not match its data']));
});

test('a batch whose targets do not match its entries one for one writes nothing; a target with NUL is refused before it is sent', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 's.zip');
  await writeFile(file, buildZip([{ name: 'x/content', data: 'one' }, { name: 'y/content', data: 'two' }]));
  const opened = await openZip(file);
  const files = new FileWriters();
  t.teardown(async () => { await files.close(); opened.close(); });
  const entries = [...centralDirectory(opened)];
  // Two entries' numbers, three targets: what a NUL inside one target would make of it.
  const numbers = new Float64Array(2 * 5);
  entries.forEach((entry, index) => numbers.set([entry.relativeOffsetOfLocalHeader, entry.compressedSize, entry.uncompressedSize, 0, entry.crc32], index * 5));
  const targets = [path.join(dir, 'out', 'x'), path.join(dir, 'elsewhere'), path.join(dir, 'out', 'y')].join('\0');
  const failure = await files.extract(0, { fd: zipWindow(opened).fd, targets, numbers });
  t.like(failure, { index: 0, kind: 'io' });
  for (const written of ['out', 'elsewhere']) await t.throwsAsync(stat(path.join(dir, written)), { code: 'ENOENT' }, written);
  const batches = new EntryBatches(files, zipWindow(opened).fd, undefined, () => {});
  t.throws(() => batches.add(entries[0]!, `${path.join(dir, 'out', 'x')}\0${path.join(dir, 'elsewhere')}`, -1), { message: /NUL in a target path/ });
});

test('a file the threads cannot create fails with its system error', async (t) => {
  const dir = await tempDir(t);
  await mkdir(path.join(dir, 'out', 'x'), { recursive: true });
  await writeFile(path.join(dir, 'out', 'x', 'content'), 'already here');
  const { error } = await extractAll(dir, buildZip([{ name: 'x/content', data: 'new' }]));
  t.is((error as NodeJS.ErrnoException).code, 'EEXIST');
  t.is(await readFile(path.join(dir, 'out', 'x', 'content'), 'utf8'), 'already here');
});
