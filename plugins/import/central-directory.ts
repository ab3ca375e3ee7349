// A zip's central directory walked in one synchronous pass through a window of the file, as
// yauzl's own walk would read it, without its two reads, three buffers, event and promise per
// entry: at 30,000 entries that walk took about 100 ms and most of an import's garbage, twice
// (once to inspect, once to extract). Each record is judged with yauzl's own low-level functions
// (its extra fields, its name as yauzl decodes it, yauzl's name checks), with yauzl's messages, and
// becomes a yauzl Entry, so that the zip's entries still stream through yauzl. The zip must have
// been opened by openBlockZip, which also had yauzl find the end of the central directory.
import yauzl, { type Entry, type ZipFile } from 'yauzl';
import { zipSize, zipWindow } from './block-reader.ts';
import { FileWindow } from './local-entry.mjs';

const endSignature = 0x06054b50;
const endBytes = 22;
const zip64LocatorSignature = 0x07064b50;
const zip64LocatorBytes = 20;
const zip64EndSignature = 0x06064b50;
const centralSignature = 0x02014b50;
const centralBytes = 46;

function readUInt64(buffer: Buffer, at: number): number {
  return buffer.readUInt32LE(at) + buffer.readUInt32LE(at + 4) * 0x100000000;
}

/** `length` bytes at `position`, or the error yauzl gives a zip that ends too soon. */
function bytesAt(window: FileWindow, position: number, length: number): Buffer {
  const bytes = window.view(position, length);
  if (bytes.length < length) throw new Error('unexpected EOF');
  return bytes;
}

/** Where the central directory starts and how many records it has, found as yauzl finds them. */
function locate(window: FileWindow, size: number): { offset: number; count: number } {
  const tailLength = Math.min(zip64LocatorBytes + endBytes + 0xffff, size);
  const tail = Buffer.from(bytesAt(window, size - tailLength, tailLength));
  for (let at = tailLength - endBytes; at >= 0; at -= 1) {
    if (tail.readUInt32LE(at) !== endSignature) continue;
    if (at >= zip64LocatorBytes && tail.readUInt32LE(at - zip64LocatorBytes) === zip64LocatorSignature) {
      const record = bytesAt(window, readUInt64(tail, at - zip64LocatorBytes + 8), 56);
      if (record.readUInt32LE(0) !== zip64EndSignature) throw new Error('invalid zip64 end of central directory record signature');
      return { count: readUInt64(record, 32), offset: readUInt64(record, 48) };
    }
    return { count: tail.readUInt16LE(at + 10), offset: tail.readUInt32LE(at + 16) };
  }
  throw new Error('End of central directory record signature not found. Either not a zip file, or file is truncated.');
}

/** The Zip64 extended information field's sizes and offset, where the record says 0xffffffff. */
function applyZip64(entry: Entry, extraFields: Array<{ id: number; data: Buffer }>): void {
  const field = extraFields.find((extra) => extra.id === 0x0001);
  if (!field) return;
  let at = 0;
  const take = (what: string): number => {
    if (at + 8 > field.data.length) throw new Error(`zip64 extended information extra field does not include ${what}`);
    const value = readUInt64(field.data, at);
    at += 8;
    return value;
  };
  if (entry.uncompressedSize === 0xffffffff) entry.uncompressedSize = take('uncompressed size');
  if (entry.compressedSize === 0xffffffff) entry.compressedSize = take('compressed size');
  if (entry.relativeOffsetOfLocalHeader === 0xffffffff) entry.relativeOffsetOfLocalHeader = take('relative header offset');
}

/**
 * Whether yauzl's name checks could refuse `name`: they look for a backslash, a drive letter or a
 * leading slash, and a `..` segment; a name with none of the characters they need passes them.
 * Nearly every name does, and a test of a few characters costs a tenth of theirs.
 */
function mayBeRefused(name: string): boolean {
  return name.charCodeAt(0) === 0x2f || name.charCodeAt(1) === 0x3a || name.includes('\\') || name.includes('..');
}

/** Entries walked between turns of the event loop, so that a walk of 200,000 never holds the unit's other requests back for long. */
export const entriesPerTurn = 1024;

/**
 * The zip's entries in central-directory order, each judged as yauzl judges it (strict file
 * names, sizes of stored entries); throws yauzl's error for the first record that is not sound.
 */
export function* centralDirectory(zip: ZipFile): Generator<Entry> {
  // A window of its own, so that entries read meanwhile do not move it off the directory.
  const window = new FileWindow(zipWindow(zip).fd);
  const { offset, count } = locate(window, zipSize(zip));
  if (count !== zip.entryCount) throw new Error(`the central directory holds ${count} entries, not ${zip.entryCount}`);
  let cursor = offset;
  for (let index = 0; index < count; index += 1) {
    const record = bytesAt(window, cursor, centralBytes);
    const signature = record.readUInt32LE(0);
    if (signature !== centralSignature) throw new Error(`invalid central directory file header signature: 0x${signature.toString(16)}`);
    const entry = new yauzl.Entry();
    entry.versionMadeBy = record.readUInt16LE(4);
    entry.versionNeededToExtract = record.readUInt16LE(6);
    entry.generalPurposeBitFlag = record.readUInt16LE(8);
    entry.compressionMethod = record.readUInt16LE(10);
    entry.lastModFileTime = record.readUInt16LE(12);
    entry.lastModFileDate = record.readUInt16LE(14);
    entry.crc32 = record.readUInt32LE(16);
    entry.compressedSize = record.readUInt32LE(20);
    entry.uncompressedSize = record.readUInt32LE(24);
    entry.fileNameLength = record.readUInt16LE(28);
    entry.extraFieldLength = record.readUInt16LE(30);
    entry.fileCommentLength = record.readUInt16LE(32);
    entry.internalFileAttributes = record.readUInt16LE(36);
    entry.externalFileAttributes = record.readUInt32LE(38);
    entry.relativeOffsetOfLocalHeader = record.readUInt32LE(42);
    if (entry.generalPurposeBitFlag & 0x40) throw new Error('strong encryption is not supported');
    const nameLength = entry.fileNameLength;
    const extraLength = entry.extraFieldLength;
    const variable = bytesAt(window, cursor + centralBytes, nameLength + extraLength + entry.fileCommentLength);
    cursor += centralBytes + variable.length;
    // Copied out of the window, which the next record moves.
    const raw = Buffer.from(variable);
    entry.fileNameRaw = raw.subarray(0, nameLength);
    entry.extraFieldRaw = raw.subarray(nameLength, nameLength + extraLength);
    entry.fileCommentRaw = raw.subarray(nameLength + extraLength);
    const extraFields = extraLength === 0 ? [] : yauzl.parseExtraFields(entry.extraFieldRaw);
    entry.extraFields = extraFields;
    entry.fileName = yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, extraFields, true);
    // A comment is decoded as a name is (CP437 or UTF-8), without the Unicode path field.
    entry.fileComment = entry.fileCommentLength === 0 ? '' : yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileCommentRaw, [], true);
    entry.comment = entry.fileComment;
    const problem = mayBeRefused(entry.fileName) ? yauzl.validateFileName(entry.fileName) : null;
    if (problem !== null) throw new Error(problem);
    applyZip64(entry, extraFields);
    if (entry.compressionMethod === 0) {
      const expected = entry.uncompressedSize + (entry.isEncrypted() ? 12 : 0);
      if (entry.compressedSize !== expected) throw new Error(`compressed/uncompressed size mismatch for stored file: ${entry.compressedSize} != ${entry.uncompressedSize}`);
    }
    yield entry;
  }
}
