// The import's own walk of a zip's central directory (central-directory.ts) against yauzl's walk of
// the same file: the same entries with the same fields, or the same error at the same record.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { crc32 } from 'node:zlib';
import test from 'ava';
import yauzl, { type Entry } from 'yauzl';
import { centralDirectory } from '../plugins/import/central-directory.ts';
import { openZip } from '../plugins/import/inspect.ts';
import { buildZip, type ZipEntrySpec } from './helpers/snapshot-zip.ts';

const run = promisify(execFile);
const fields = ['fileName', 'generalPurposeBitFlag', 'compressionMethod', 'lastModFileTime', 'lastModFileDate', 'crc32', 'compressedSize', 'uncompressedSize', 'externalFileAttributes', 'relativeOffsetOfLocalHeader', 'extraFieldLength', 'fileComment'] as const;

type Walk = { entries: Array<Partial<Entry>>; error?: string };

function picked(entry: Entry): Partial<Entry> & { date: number } {
  return { ...Object.fromEntries(fields.map((field) => [field, entry[field]])), date: entry.getLastModDate().getTime() };
}

async function yauzlWalk(file: string): Promise<Walk> {
  const zip = await yauzl.openPromise(file, { lazyEntries: true, strictFileNames: true, validateEntrySizes: true, autoClose: false });
  const entries: Array<Partial<Entry>> = [];
  try {
    for await (const entry of zip.eachEntry()) entries.push(picked(entry));
    return { entries };
  } catch (error) {
    return { entries, error: (error as Error).message };
  } finally {
    zip.close();
  }
}

async function ourWalk(file: string): Promise<Walk> {
  const zip = await openZip(file);
  const entries: Array<Partial<Entry>> = [];
  try {
    for (const entry of centralDirectory(zip)) {
      t_isEntry(entry);
      entries.push(picked(entry));
    }
    return { entries };
  } catch (error) {
    return { entries, error: (error as Error).message };
  } finally {
    zip.close();
  }
}

/** Each entry is a yauzl Entry, so that yauzl can stream it. */
function t_isEntry(entry: Entry): void {
  if (!(entry instanceof yauzl.Entry)) throw new Error('not a yauzl Entry');
}

async function tempDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cellar-cd-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The zip's end record moved behind a Zip64 end record and locator, as a zip of more than 65,535 entries has. */
function withZip64End(zip: Buffer): Buffer {
  const end = zip.subarray(zip.length - 22);
  const count = end.readUInt16LE(10);
  const directorySize = end.readUInt32LE(12);
  const directoryOffset = end.readUInt32LE(16);
  const record = Buffer.alloc(56);
  record.writeUInt32LE(0x06064b50, 0);
  record.writeBigUInt64LE(44n, 4);
  record.writeUInt16LE(45, 12);
  record.writeUInt16LE(45, 14);
  record.writeBigUInt64LE(BigInt(count), 24);
  record.writeBigUInt64LE(BigInt(count), 32);
  record.writeBigUInt64LE(BigInt(directorySize), 40);
  record.writeBigUInt64LE(BigInt(directoryOffset), 48);
  const locator = Buffer.alloc(20);
  locator.writeUInt32LE(0x07064b50, 0);
  locator.writeBigUInt64LE(BigInt(zip.length - 22), 8);
  locator.writeUInt32LE(1, 16);
  const newEnd = Buffer.from(end);
  newEnd.writeUInt16LE(0xffff, 8);
  newEnd.writeUInt16LE(0xffff, 10);
  newEnd.writeUInt32LE(0xffffffff, 16);
  return Buffer.concat([zip.subarray(0, zip.length - 22), record, locator, newEnd]);
}

/** The central record of entry `index` (each record followed by its name and extra field). */
function centralRecordAt(zip: Buffer, index: number): number {
  let at = zip.readUInt32LE(zip.length - 6);
  for (let skipped = 0; skipped < index; skipped += 1) at += 46 + zip.readUInt16LE(at + 28) + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
  return at;
}

/** A Zip64 extended information field giving `size`, `size` and `offset`, and the record's fields set to 0xffffffff. */
function zip64Sizes(zip: Buffer, index: number): Buffer {
  const at = centralRecordAt(zip, index);
  const out = Buffer.from(zip);
  for (const field of [20, 24, 42]) out.writeUInt32LE(0xffffffff, at + field);
  return out;
}

function zip64Field(size: number, offset: number): Buffer {
  const field = Buffer.alloc(28);
  field.writeUInt16LE(0x0001, 0);
  field.writeUInt16LE(24, 2);
  field.writeBigUInt64LE(BigInt(size), 4);
  field.writeBigUInt64LE(BigInt(size), 12);
  field.writeBigUInt64LE(BigInt(offset), 20);
  return field;
}

function unicodePath(rawName: Buffer, name: string, crc = crc32(rawName)): Buffer {
  const utf8 = Buffer.from(name, 'utf8');
  const field = Buffer.alloc(4 + 5 + utf8.length);
  field.writeUInt16LE(0x7075, 0);
  field.writeUInt16LE(5 + utf8.length, 2);
  field.writeUInt8(1, 4);
  field.writeUInt32LE(crc >>> 0, 5);
  utf8.copy(field, 9);
  return field;
}

async function sameWalk(t: import('ava').ExecutionContext, file: string, label: string, expectError?: RegExp): Promise<Walk> {
  const ours = await ourWalk(file);
  t.deepEqual(ours, await yauzlWalk(file), label);
  if (expectError) t.regex(ours.error ?? '', expectError, label);
  else t.is(ours.error, undefined, label);
  return ours;
}

test('Info-ZIP archives (extra fields, non-ASCII names, empty files, folders) walk as yauzl walks them', async (t) => {
  const dir = await tempDir(t);
  const tree = path.join(dir, 'tree');
  await mkdir(path.join(tree, 'dossier é', 'sub'), { recursive: true });
  await writeFile(path.join(tree, 'dossier é', 'vide'), '');
  await writeFile(path.join(tree, 'dossier é', 'sub', 'texte 日本.txt'), 'bonjour\n'.repeat(500));
  await writeFile(path.join(tree, 'plain'), 'x');
  await run('zip', ['-r', '-q', path.join(dir, 'a.zip'), '.'], { cwd: tree });
  const { entries } = await sameWalk(t, path.join(dir, 'a.zip'), 'zip -r');
  // This Info-ZIP marks no name as UTF-8: both read them as CP437. Every record has extra fields (times, owners).
  t.is(entries.length, 5);
  t.true(entries.some((entry) => entry.fileName === 'plain'));
  t.true(entries.every((entry) => (entry.extraFieldLength ?? 0) > 0));
});

test('names as yauzl decodes them: CP437 without the UTF-8 flag, an Info-ZIP Unicode path field when its CRC holds, not when it does not', async (t) => {
  const dir = await tempDir(t);
  const cp437 = Buffer.from([0x63, 0x61, 0x66, 0x82, 0x2f, 0x81, 0x62, 0x65, 0x72]); // "café/über" in CP437
  const specs: ZipEntrySpec[] = [
    { name: 'cp437', nameBytes: cp437, utf8: false, data: 'a' },
    { name: 'unicode', nameBytes: Buffer.from('old name'), utf8: false, centralExtra: unicodePath(Buffer.from('old name'), 'nouveau/nom é'), data: 'b' },
    { name: 'stale', nameBytes: Buffer.from('kept name'), utf8: false, centralExtra: unicodePath(Buffer.from('kept name'), 'ignored', 12345), data: 'c' },
  ];
  await writeFile(path.join(dir, 'n.zip'), buildZip(specs));
  const { entries } = await sameWalk(t, path.join(dir, 'n.zip'), 'names');
  t.deepEqual(entries.map((entry) => entry.fileName), ['café/über', 'nouveau/nom é', 'kept name']);
});

test('Zip64: sizes and offsets from the extended information field, and the count and offset from the Zip64 end record', async (t) => {
  const dir = await tempDir(t);
  const plain = buildZip([{ name: 'a/content', data: 'first' }, { name: 'b/content', data: 'second!' }]);
  const secondOffset = 30 + 'a/content'.length + 5;
  const sized = buildZip([{ name: 'a/content', data: 'first' }, { name: 'b/content', data: 'second!', centralExtra: zip64Field(7, secondOffset) }]);
  await writeFile(path.join(dir, 'end.zip'), withZip64End(plain));
  await writeFile(path.join(dir, 'field.zip'), withZip64End(zip64Sizes(sized, 1)));
  for (const name of ['end.zip', 'field.zip']) {
    const { entries } = await sameWalk(t, path.join(dir, name), name);
    t.deepEqual(entries.map((entry) => [entry.fileName, entry.uncompressedSize, entry.relativeOffsetOfLocalHeader]), [['a/content', 5, 0], ['b/content', 7, secondOffset]], name);
  }
  // A field too short for what the record leaves to it.
  const short = buildZip([{ name: 'a/content', data: 'first', centralExtra: zip64Field(5, 0).subarray(0, 12) }]);
  short.writeUInt16LE(8, centralRecordAt(short, 0) + 46 + 'a/content'.length + 2);
  await writeFile(path.join(dir, 'short.zip'), zip64Sizes(short, 0));
  await sameWalk(t, path.join(dir, 'short.zip'), 'short', /^zip64 extended information extra field does not include compressed size$/);
});

test('records yauzl refuses are refused with its message, after the same entries', async (t) => {
  const dir = await tempDir(t);
  const good: ZipEntrySpec = { name: 'ok/content', data: 'fine' };
  const cases: Array<[string, Buffer, RegExp]> = [];
  const badSignature = buildZip([good, { name: 'x/content', data: 'y' }]);
  badSignature.writeUInt32LE(0x12345678, centralRecordAt(badSignature, 1));
  cases.push(['signature', badSignature, /^invalid central directory file header signature: 0x12345678$/]);
  const strong = buildZip([good, { name: 'x/content', data: 'y' }]);
  strong.writeUInt16LE(0x0840, centralRecordAt(strong, 1) + 8);
  cases.push(['strong encryption', strong, /^strong encryption is not supported$/]);
  cases.push(['extra field', buildZip([good, { name: 'x/content', data: 'y', centralExtra: Buffer.from([0x99, 0x99, 0xff, 0x00, 1, 2]) }]), /^extra field length exceeds extra field buffer size$/]);
  cases.push(['backslash', buildZip([good, { name: 'a\\b', data: 'y' }]), /^invalid characters in fileName: a\\b$/]);
  cases.push(['absolute', buildZip([good, { name: '/etc/passwd', data: 'y' }]), /^absolute path: \/etc\/passwd$/]);
  cases.push(['drive', buildZip([good, { name: 'C:/x', data: 'y' }]), /^absolute path: C:\/x$/]);
  cases.push(['relative', buildZip([good, { name: 'a/../../x', data: 'y' }]), /^invalid relative path: a\/..\/..\/x$/]);
  cases.push(['stored size', buildZip([good, { name: 'x/content', data: 'twelve bytes', declaredSize: 3 }]), /^compressed\/uncompressed size mismatch for stored file: 12 != 3$/]);
  // One more entry counted than there are records: the walk runs into the end record.
  const overCounted = buildZip([good]);
  overCounted.writeUInt16LE(2, overCounted.length - 12);
  overCounted.writeUInt16LE(2, overCounted.length - 14);
  cases.push(['count', overCounted, /^unexpected EOF$/]);
  for (const [label, zip, message] of cases) {
    const file = path.join(dir, `${label}.zip`);
    await writeFile(file, zip);
    const walk = await sameWalk(t, file, label, message);
    t.deepEqual(walk.entries.map((entry) => entry.fileName), ['ok/content'], label);
  }
});
