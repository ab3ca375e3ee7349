// Writes one zip entry to a new file ('wx': never over something) and says what it wrote: its
// size, SHA-256 and CRC-32, for the caller to hold against 00_checksums.json, or against the
// zip's own CRC-32 when the snapshot has no such list. Small entries (at most 1 MiB), the bulk of a
// cell, are read from the reader's cached blocks and handed raw to the import's file writer
// threads, which inflate, measure and write them (file-writer.ts). Larger entries stream with
// backpressure, so memory stays flat whatever the file size.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32, createInflateRaw } from 'node:zlib';
import type { Entry, ZipFile } from 'yauzl';
import { isOutOfSpace, personiumError, type PersoniumError } from '../../core/errors.ts';
import { readAt } from './block-reader.ts';
import type { DigestKind, FileWriters } from './file-writer.ts';
import { DamagedEntryError, inflateEntry } from './inflate-entry.mjs';

/** Entries up to this size (both compressed and expanded) are handled whole, in memory. */
export const wholeEntryLimit = 1024 * 1024;
const streamChunk = 256 * 1024;


export interface Written {
  size: number;
  /** Raw bytes; computed only when the snapshot has a SHA-256 list. */
  sha256?: Buffer | undefined;
  /** What the zip's own CRC-32 must be, for a snapshot without a SHA-256 list; computed only then. */
  crc32?: number | undefined;
}

function damaged(entry: Entry, reason: string): PersoniumError {
  return personiumError('PR400-SN-0006', `${entry.fileName}: ${reason}`);
}

/** Whole-entry buffers, reused: big short-lived buffers are what the garbage collector frees last. */
const spareBuffers: Buffer[] = [];
const keptSpares = 4;

async function withBuffer<T>(use: (memory: Buffer) => Promise<T>): Promise<T> {
  const memory = spareBuffers.pop() ?? Buffer.allocUnsafe(wholeEntryLimit);
  try {
    return await use(memory);
  } finally {
    if (spareBuffers.length < keptSpares) spareBuffers.push(memory);
  }
}

const localHeaderBytes = 30;
const localHeaderSignature = 0x04034b50;

/**
 * The entry's raw bytes, in `memory`: as stored, or deflated. A local header's name and extra
 * field are nearly always as long as the central directory's, so one read brings the header and
 * the data together; when they are not, the header is read first, as yauzl reads it.
 */
async function readRaw(zip: ZipFile, entry: Entry, memory: Buffer): Promise<Buffer> {
  const guess = localHeaderBytes + entry.fileNameLength + entry.extraFieldLength + entry.compressedSize;
  if (guess <= memory.length) {
    const span = memory.subarray(0, guess);
    const bytesRead = await readAt(zip, span, entry.relativeOffsetOfLocalHeader).catch((error: Error) => { throw damaged(entry, error.message); });
    if (bytesRead >= localHeaderBytes) {
      const signature = span.readUInt32LE(0);
      if (signature !== localHeaderSignature) throw damaged(entry, `invalid local file header signature: 0x${signature.toString(16)}`);
      const start = localHeaderBytes + span.readUInt16LE(26) + span.readUInt16LE(28);
      if (start + entry.compressedSize <= bytesRead) return storedSizeHeld(entry, span.subarray(start, start + entry.compressedSize));
    }
  }
  const { fileDataStart } = await zip.readLocalFileHeaderPromise(entry, { minimal: true }).catch((error: Error) => { throw damaged(entry, error.message); });
  const raw = memory.subarray(0, entry.compressedSize);
  // Served from the cached block it is in (block-reader.ts).
  const bytesRead = await readAt(zip, raw, fileDataStart).catch((error: Error) => { throw damaged(entry, error.message); });
  if (bytesRead !== raw.length) throw damaged(entry, 'the zip ends inside the entry');
  return storedSizeHeld(entry, raw);
}

function storedSizeHeld(entry: Entry, raw: Buffer): Buffer {
  if (entry.compressionMethod === 0 && raw.length !== entry.uncompressedSize) throw damaged(entry, `stored size ${raw.length} is not the declared ${entry.uncompressedSize}`);
  return raw;
}

/** The entry's bytes (in `memory` when stored), no more than its central-directory size says. */
async function readWhole(zip: ZipFile, entry: Entry, memory: Buffer): Promise<Buffer> {
  const raw = await readRaw(zip, entry, memory);
  if (entry.compressionMethod === 0) return raw;
  try {
    return inflateEntry(raw, entry.uncompressedSize);
  } catch (error) {
    throw damaged(entry, (error as Error).message);
  }
}
/** The stages that inflate an entry and measure it: size (held to the declared one), SHA-256, CRC-32. */
async function measuredStages(zip: ZipFile, entry: Entry, progress: (bytes: number) => void) {
  const hash = createHash('sha256');
  const declared = entry.uncompressedSize;
  let size = 0;
  let crc = 0;
  // The expanded size is held to the declared one here, as yauzl's validateEntrySizes would.
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      size += chunk.length;
      if (size > declared) return done(new Error(`too many bytes in the stream. expected ${declared}. got at least ${size}`));
      hash.update(chunk);
      crc = crc32(chunk, crc);
      progress(chunk.length);
      done(null, chunk);
    },
    flush(done) {
      done(size < declared ? new Error(`not enough bytes in the stream. expected ${declared}. got only ${size}`) : null);
    },
  });
  // Inflated here rather than by yauzl, in 256 KiB pieces instead of zlib's default 16 KiB.
  const deflated = entry.compressionMethod === 8;
  const raw = await zip.openReadStreamPromise(entry, deflated ? { decompress: false } : {});
  const stages = deflated ? [raw, createInflateRaw({ chunkSize: streamChunk }), meter] as const : [raw, meter] as const;
  return { stages, written: (): Written => ({ size, sha256: hash.digest(), crc32: crc }) };
}

async function streamEntry(zip: ZipFile, entry: Entry, target: string, progress: (bytes: number) => void): Promise<Written> {
  await mkdir(path.dirname(target), { recursive: true });
  try {
    const { stages, written } = await measuredStages(zip, entry, progress);
    await pipeline([...stages, createWriteStream(target, { flags: 'wx', mode: 0o600, highWaterMark: streamChunk })]);
    return written();
  } catch (error) {
    // A full disk is not a damaged zip: it keeps its errno for the one mapping to 507.
    if (isOutOfSpace(error)) throw error;
    throw damaged(entry, (error as Error).message);
  }
}

/** What `writeEntry` would write and say, read the same way, with nothing written (`cellar snapshot verify`). */
export async function digestEntry(zip: ZipFile, entry: Entry): Promise<Written> {
  if (entry.uncompressedSize > wholeEntryLimit || entry.compressedSize > wholeEntryLimit) {
    try {
      const { stages, written } = await measuredStages(zip, entry, () => {});
      await pipeline([...stages, new Writable({ write: (_chunk, _encoding, done) => done() })]);
      return written();
    } catch (error) {
      throw damaged(entry, (error as Error).message);
    }
  }
  return withBuffer(async (memory) => {
    const data = await readWhole(zip, entry, memory);
    return { size: data.length, sha256: createHash('sha256').update(data).digest(), crc32: crc32(data) };
  });
}

/**
 * Writes a zip entry to `target` and says what it wrote. A small entry goes to the file writer
 * threads as its raw bytes, and they inflate and measure it (`digest`: the check the import
 * makes); one whose bytes are rewritten first is read here. Large entries stream.
 */
export async function writeEntry(zip: ZipFile, entry: Entry, target: string, files: FileWriters, progress: (bytes: number) => void, digest: DigestKind, rewrite?: (data: Buffer) => Buffer): Promise<Written> {
  if (entry.uncompressedSize > wholeEntryLimit || entry.compressedSize > wholeEntryLimit) return streamEntry(zip, entry, target, progress);
  if (rewrite) return rewriteEntry(zip, entry, target, files, progress, rewrite);
  // `expand` copies the bytes before it returns, so the reused buffer is free while the thread works.
  const expanded = await withBuffer(async (memory) => {
    const raw = await readRaw(zip, entry, memory);
    return { written: files.expand(target, raw, { deflated: entry.compressionMethod === 8, size: entry.uncompressedSize, digest }) };
  });
  try {
    const written = await expanded.written;
    progress(written.size);
    return written;
  } catch (error) {
    if (error instanceof DamagedEntryError) throw damaged(entry, error.message);
    throw error;
  }
}

/** A small entry read and inflated here, checked as the snapshot holds it, written as `rewrite` makes it. */
async function rewriteEntry(zip: ZipFile, entry: Entry, target: string, files: FileWriters, progress: (bytes: number) => void, rewrite: (data: Buffer) => Buffer): Promise<Written> {
  const { written, size, sha256, crc } = await withBuffer(async (memory) => {
    const data = await readWhole(zip, entry, memory);
    return { written: files.write(target, rewrite(data)), size: data.length, sha256: createHash('sha256').update(data).digest(), crc: crc32(data) };
  });
  await written;
  progress(size);
  return { size, sha256, crc32: crc };
}
