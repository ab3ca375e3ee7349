// The walk of a tar file's headers (bin/cellar/tar-walk.ts) against tar-stream's parser and GNU
// tar: the same entries, names, kinds, sizes, modes and times, and each entry's bytes where the
// walk says they start; a file still being written gives the same entries once whole; each kind
// of damage is refused with its own message. Also the writer threads' copy batches
// (plugins/import/file-writer.ts `copy`), which read those bytes, hash and write them.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import test, { type ExecutionContext } from 'ava';
import tar from 'tar-stream';
import { needMore, TarFileWalk, TarFormatError, type TarHeader } from '../bin/cellar/tar-walk.ts';
import { copyFields } from '../plugins/import/entry-layout.mjs';
import { FileWriters } from '../plugins/import/file-writer.ts';

async function folder(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cellar-tar-walk-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** An entry as a header says it, and its bytes' SHA-256 (files). */
type Seen = Omit<TarHeader, 'dataOffset'> & { sha256?: string };

const digest = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** What tar-stream's parser finds in `archive`. */
async function parsed(archive: Buffer): Promise<Seen[]> {
  const extract = tar.extract();
  const seen: Seen[] = [];
  const reading = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry as AsyncIterable<Buffer>) chunks.push(chunk);
      const { name, type, size, mode, mtime, linkname } = entry.header;
      seen.push({
        name, type: type!, size: size ?? 0, mode: mode ?? 0, mtime: Math.floor(mtime!.getTime() / 1000),
        ...(linkname ? { linkname } : {}), ...(type === 'file' ? { sha256: digest(Buffer.concat(chunks)) } : {}),
      });
    }
  })();
  extract.end(archive);
  await reading;
  return seen;
}

/** What the walk finds in the file, each file's bytes read where it says they start. */
async function walked(file: string): Promise<Seen[]> {
  const handle = await open(file, 'r');
  try {
    const data = await readFile(file);
    const walk = new TarFileWalk(handle.fd, data.length);
    const seen: Seen[] = [];
    for (let header = walk.next(); header; header = walk.next()) {
      if (header === needMore) throw new Error('a whole file never needs more');
      seen.push(asSeen(header, data));
    }
    return seen;
  } finally {
    await handle.close();
  }
}

function asSeen(header: TarHeader, data: Buffer): Seen {
  const { name, type, size, mode, mtime, linkname, dataOffset } = header;
  return {
    name, type, size, mode, mtime, ...(linkname ? { linkname } : {}),
    ...(type === 'file' ? { sha256: digest(data.subarray(dataOffset, dataOffset + size)) } : {}),
  };
}

async function packed(entries: Array<{ header: Partial<tar.Header> & Pick<tar.Header, 'name'>; body?: Buffer }>): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const collected = (async () => { for await (const chunk of pack as AsyncIterable<Buffer>) chunks.push(chunk); })();
  for (const { header, body } of entries) {
    await new Promise<void>((resolve, reject) => {
      if (body) pack.entry(header, body, (error) => (error ? reject(error) : resolve()));
      else pack.entry(header, (error) => (error ? reject(error) : resolve()));
    });
  }
  pack.finalize();
  await collected;
  return Buffer.concat(chunks);
}

const mtime = new Date(1_700_000_123_000);
/** Too long for a ustar header (its last segment alone is over 100 bytes): a pax header holds it. */
const longName = `cells/${'a'.repeat(40)}/${'b'.repeat(80)}/${'c'.repeat(120)}.txt`;

function sampleEntries(): Array<{ header: Partial<tar.Header> & Pick<tar.Header, 'name'>; body?: Buffer }> {
  return [
    { header: { name: 'cells', type: 'directory', mtime, mode: 0o755 } },
    { header: { name: 'cells/empty', type: 'file', mtime, mode: 0o600 }, body: Buffer.alloc(0) },
    { header: { name: 'cells/日本語 ファイル.txt', type: 'file', mtime, mode: 0o644 }, body: Buffer.from('こんにちは\n') },
    { header: { name: longName, type: 'file', mtime, mode: 0o640 }, body: randomBytes(3000) },
    { header: { name: `${'p'.repeat(120)}/${'q'.repeat(60)}`, type: 'file', mtime, mode: 0o600 }, body: randomBytes(511) },
    { header: { name: 'cells/big.bin', type: 'file', mtime, mode: 0o600 }, body: randomBytes(3 * 1024 * 1024 + 7) },
    { header: { name: 'cells/link', type: 'symlink', linkname: `/${'l'.repeat(150)}`, mtime, mode: 0o777 } },
    { header: { name: 'cells/dir/', type: 'directory', mtime, mode: 0o700 } },
  ];
}

test('the walk finds what tar-stream parses in its own archives: long and non-ASCII names (pax), empty and large files, links', async (t) => {
  const dir = await folder(t);
  const archive = await packed(sampleEntries());
  await writeFile(path.join(dir, 'a.tar'), archive);
  const expected = await parsed(archive);
  t.is(expected.length, 8);
  t.true(expected.some((entry) => entry.name === longName));
  t.deepEqual(await walked(path.join(dir, 'a.tar')), expected);
});

for (const format of ['gnu', 'pax', 'ustar'] as const) {
  test(`the walk finds what tar-stream parses in GNU tar's ${format} archives`, async (t) => {
    const dir = await folder(t);
    const tree = path.join(dir, 'tree');
    // ustar holds names of up to 100 characters after a prefix of 155 at most.
    const long = format === 'ustar' ? `${'d'.repeat(90)}/${'e'.repeat(90)}` : `${'d'.repeat(90)}/${'e'.repeat(90)}/${'f'.repeat(120)}`;
    await mkdir(path.join(tree, long), { recursive: true });
    await writeFile(path.join(tree, long, 'file.bin'), randomBytes(70_000));
    await writeFile(path.join(tree, 'small.txt'), 'small');
    await writeFile(path.join(tree, 'empty'), '');
    await promisify(execFile)('tar', ['cf', path.join(dir, 'g.tar'), `--format=${format}`, '-C', tree, '.']);
    const expected = await parsed(await readFile(path.join(dir, 'g.tar')));
    t.true(expected.some((entry) => entry.name.endsWith(`${long}/file.bin`)), JSON.stringify(expected.map((entry) => entry.name)));
    t.deepEqual(await walked(path.join(dir, 'g.tar')), expected);
  });
}

test('a file still being written gives needMore until each entry is in, then the same entries', async (t) => {
  const dir = await folder(t);
  const archive = await packed(sampleEntries());
  const file = path.join(dir, 'growing.tar');
  await writeFile(file, '');
  const handle = await open(file, 'r+');
  t.teardown(() => handle.close());
  const walk = new TarFileWalk(handle.fd, 0, false);
  const seen: Seen[] = [];
  let waits = 0;
  // Pieces of odd sizes, so that headers, pax records and bytes are cut anywhere.
  for (let at = 0; ; ) {
    const header = walk.next();
    if (header === undefined) break;
    if (header !== needMore) {
      seen.push(asSeen(header, archive));
      continue;
    }
    waits += 1;
    const piece = Math.min(archive.length - at, 700 + (waits % 5) * 613);
    await handle.write(archive, at, piece, at);
    at += piece;
    walk.grow(at, at === archive.length);
  }
  t.true(waits > 8);
  t.deepEqual(seen, await parsed(archive));
  t.is(walk.position, archive.length);
});

test('a walk that needs more names the size it waits for: one byte short it waits for the same, at that size it goes on', async (t) => {
  const dir = await folder(t);
  const archive = await packed(sampleEntries());
  const file = path.join(dir, 'growing.tar');
  await writeFile(file, archive);
  const handle = await open(file, 'r');
  t.teardown(() => handle.close());
  const walk = new TarFileWalk(handle.fd, 0, false);
  const seen: Seen[] = [];
  let size = 0;
  let waits = 0;
  for (let header = walk.next(); header !== undefined; header = walk.next()) {
    if (header !== needMore) {
      seen.push(asSeen(header, archive));
      continue;
    }
    waits += 1;
    const needed = Math.min(walk.needed, archive.length);
    t.true(needed > size, `waits for more than the ${size} bytes it has`);
    if (needed - 1 > size) {
      walk.grow(needed - 1, false);
      t.is(walk.next(), needMore);
      t.is(Math.min(walk.needed, archive.length), needed);
    }
    size = needed;
    walk.grow(size, size === archive.length);
  }
  t.deepEqual(seen, await parsed(archive));
  // A wait for each header and each entry's bytes (and a pax header's records), never byte by byte.
  t.true(waits > 8 && waits <= 4 * (seen.length + 1), `${waits} waits for ${seen.length} entries`);
});

/** The walk's error on `archive`, written to a file. */
async function walkError(t: ExecutionContext, archive: Buffer): Promise<string> {
  const dir = await folder(t);
  await writeFile(path.join(dir, 'bad.tar'), archive);
  const error = await t.throwsAsync(walked(path.join(dir, 'bad.tar')), { instanceOf: TarFormatError });
  return error!.message;
}

/** Gives the header at `at` its right checksum again after a change. */
function reseal(archive: Buffer, at: number): void {
  archive.fill(32, at + 148, at + 156);
  let sum = 0;
  for (let index = at; index < at + 512; index += 1) sum += archive[index]!;
  archive.write(`${sum.toString(8).padStart(6, '0')}\0 `, at + 148, 'latin1');
}

test('damaged archives are refused, each with its own message', async (t) => {
  const archive = await packed([
    { header: { name: 'one', type: 'file', mtime }, body: Buffer.from('first file') },
    { header: { name: 'two', type: 'file', mtime }, body: randomBytes(2000) },
  ]);
  const flipped = Buffer.from(archive);
  flipped[512 + 512 + 3]! ^= 0x20;
  t.regex(await walkError(t, flipped), /the header at byte 1024 does not match its checksum: the archive is damaged/);
  t.regex(await walkError(t, archive.subarray(0, 1024 + 512 + 100)), /the archive is truncated: it ends inside \[two\]/);
  t.regex(await walkError(t, archive.subarray(0, 1024 + 200)), /the archive is truncated: it ends inside a header/);
  const unknown = Buffer.from(archive);
  unknown.fill(0, 257, 263);
  reseal(unknown, 0);
  t.regex(await walkError(t, unknown), /the header at byte 0 is of an unknown format/);
  const notOctal = Buffer.from(archive);
  notOctal.write('00000009999', 124, 'latin1');
  reseal(notOctal, 0);
  t.regex(await walkError(t, notOctal), /a header holds a number that is not octal/);
});

test('damaged or oversized pax headers are refused', async (t) => {
  const archive = await packed([{ header: { name: longName, type: 'file', mtime }, body: Buffer.from('x') }]);
  // The pax header's data starts right after its header: "NN path=...\n".
  const broken = Buffer.from(archive);
  broken.write('99', 512, 'latin1');
  t.regex(await walkError(t, broken), /a pax header is damaged/);
  const oversized = Buffer.from(archive);
  oversized.write('00004000001', 124, 'latin1');
  reseal(oversized, 0);
  t.regex(await walkError(t, oversized), /a pax-header of 1048577 bytes is larger than 1048576/);
});

test('copy batches hash ranges of a file, write them with their mode and time, and stop at the first failure, naming it', async (t) => {
  const dir = await folder(t);
  const parts = [randomBytes(100), Buffer.alloc(0), randomBytes(2 * 1024 * 1024 + 5), randomBytes(4000)];
  const source = path.join(dir, 'source');
  await writeFile(source, Buffer.concat(parts));
  const handle = await open(source, 'r');
  t.teardown(() => handle.close());
  const writers = new FileWriters();
  t.teardown(() => writers.close());
  const offsets = parts.map((_, index) => parts.slice(0, index).reduce((sum, part) => sum + part.length, 0));
  const numbers = (count: number, extra: number[] = []) => Float64Array.from([
    ...parts.slice(0, count).flatMap((part, index) => [offsets[index]!, part.length, 0o640, 1_600_000_000_000 + index * 1000, 0]), ...extra,
  ]);
  const hex = (digests: Uint8Array, index: number) => Buffer.from(digests.buffer, digests.byteOffset + index * 32, 32).toString('hex');

  const hashed = await writers.copy(0, { fd: handle.fd, numbers: numbers(4) });
  t.is(hashed.failure, undefined);
  t.deepEqual(parts.map((_, index) => hex(hashed.digests, index)), parts.map(digest));

  const out = path.join(dir, 'out');
  const targets = [path.join(out, 'a'), path.join(out, 'sub', 'b'), path.join(out, 'c'), path.join(out, 'd')];
  const written = await writers.copy(1, { fd: handle.fd, targets: [...targets, path.join(out, 'folder')].join('\0'), numbers: numbers(4, [0, 0, 0o700, 0, 1]) });
  t.is(written.failure, undefined);
  for (const [index, part] of parts.entries()) {
    t.deepEqual(await readFile(targets[index]!), part);
    const info = await stat(targets[index]!);
    t.is(info.mode & 0o777, 0o640);
    t.is(info.mtimeMs, 1_600_000_000_000 + index * 1000);
  }
  const made = await stat(path.join(out, 'folder'));
  t.true(made.isDirectory());
  t.is(made.mode & 0o777, 0o700);

  // The second entry's folder is a file: it fails, and the entries after it are not written.
  await writeFile(path.join(dir, 'plain'), 'a file');
  const failed = await writers.copy(0, { fd: handle.fd, targets: [path.join(dir, 'x1'), path.join(dir, 'plain', 'x2'), path.join(dir, 'x3')].join('\0'), numbers: numbers(3) });
  t.like(failed.failure, { index: 1, code: 'ENOTDIR' });
  t.is(hex(failed.digests, 0), digest(parts[0]!));
  await t.throwsAsync(stat(path.join(dir, 'x3')), { code: 'ENOENT' });

  const beyond = await writers.copy(0, { fd: handle.fd, numbers: Float64Array.from([offsets[3]!, parts[3]!.length + 1, 0o600, 0, 0]) });
  t.like(beyond.failure, { index: 0, message: 'the archive ends inside the entry' });

  const mismatched = await writers.copy(0, { fd: handle.fd, targets: path.join(dir, 'only-one'), numbers: numbers(2) });
  t.like(mismatched.failure, { index: 0, message: 'a batch whose targets do not match its entries' });
  await t.throwsAsync(stat(path.join(dir, 'only-one')), { code: 'ENOENT' });
});

test('the copy layout has one number per field', (t) => {
  t.is(copyFields.count as number, Object.keys(copyFields).length - 1);
});
