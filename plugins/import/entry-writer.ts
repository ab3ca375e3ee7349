// Writes one zip entry to a new file ('wx': never over something) and says what it wrote: its
// size, SHA-256 and CRC-32, for the caller to hold against 00_checksums.json, or against the
// zip's own CRC-32 when the snapshot has no such list. Small entries (at most 1 MiB), the bulk of a
// cell, are read synchronously from the reader's window of the file and handed raw to the
// import's file writer threads, which inflate, measure and write them (file-writer.ts). Larger entries stream with
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
import { readAtSync } from './block-reader.ts';
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

const localHeaderBytes = 30;
const localHeaderSignature = 0x04034b50;

/** Room for a local header with the longest name and extra field, and the largest small entry. */
const scratch = Buffer.allocUnsafe(localHeaderBytes + 2 * 0xffff + wholeEntryLimit);

/**
 * A small entry's raw bytes (stored, or deflated), read synchronously into `memory`: its local
 * header, then its data, both from the reader's window of the file (block-reader.ts). Every small
 * entry is read this way, so that reading it, handing it to a thread and going on to the next
 * takes no turn of the event loop.
 */
function readRawSync(zip: ZipFile, entry: Entry, memory: Buffer): Buffer {
  const at = entry.relativeOffsetOfLocalHeader;
  const header = memory.subarray(0, localHeaderBytes);
  let read: number;
  try {
    read = readAtSync(zip, header, at);
  } catch (error) {
    throw damaged(entry, (error as Error).message);
  }
  if (read !== localHeaderBytes) throw damaged(entry, 'the zip ends inside the entry');
  const signature = header.readUInt32LE(0);
  if (signature !== localHeaderSignature) throw damaged(entry, `invalid local file header signature: 0x${signature.toString(16)}`);
  const raw = memory.subarray(0, entry.compressedSize);
  try {
    read = readAtSync(zip, raw, at + localHeaderBytes + header.readUInt16LE(26) + header.readUInt16LE(28));
  } catch (error) {
    throw damaged(entry, (error as Error).message);
  }
  if (read !== raw.length) throw damaged(entry, 'the zip ends inside the entry');
  return storedSizeHeld(entry, raw);
}

/** Whether writeSmallEntry takes the entry (both its sizes at most wholeEntryLimit). */
export function isSmallEntry(entry: Entry): boolean {
  return entry.uncompressedSize <= wholeEntryLimit && entry.compressedSize <= wholeEntryLimit;
}

/**
 * A small entry to the file writer threads, read synchronously: no promise per step, for the
 * cells of many small files where those steps cost more than the work. The returned promise says
 * what was written; the bytes were copied before this returns.
 */
export function writeSmallEntry(zip: ZipFile, entry: Entry, target: string, files: FileWriters, digest: DigestKind): Promise<Written> {
  const raw = readRawSync(zip, entry, scratch);
  return files.expand(target, raw, { deflated: entry.compressionMethod === 8, size: entry.uncompressedSize, digest }).catch((error: unknown) => {
    throw error instanceof DamagedEntryError ? damaged(entry, error.message) : error;
  });
}

function storedSizeHeld(entry: Entry, raw: Buffer): Buffer {
  if (entry.compressionMethod === 0 && raw.length !== entry.uncompressedSize) throw damaged(entry, `stored size ${raw.length} is not the declared ${entry.uncompressedSize}`);
  return raw;
}

/** A small entry's bytes (in `scratch` when stored), no more than its central-directory size says. */
function readWhole(zip: ZipFile, entry: Entry): Buffer {
  const raw = readRawSync(zip, entry, scratch);
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
  if (!isSmallEntry(entry)) {
    try {
      const { stages, written } = await measuredStages(zip, entry, () => {});
      await pipeline([...stages, new Writable({ write: (_chunk, _encoding, done) => done() })]);
      return written();
    } catch (error) {
      throw damaged(entry, (error as Error).message);
    }
  }
  const data = readWhole(zip, entry);
  return { size: data.length, sha256: createHash('sha256').update(data).digest(), crc32: crc32(data) };
}

/**
 * Writes a zip entry to `target` and says what it wrote: a small one through writeSmallEntry (or
 * read here when its bytes are rewritten first), a large one streamed.
 */
export async function writeEntry(zip: ZipFile, entry: Entry, target: string, files: FileWriters, progress: (bytes: number) => void, digest: DigestKind, rewrite?: (data: Buffer) => Buffer): Promise<Written> {
  if (!isSmallEntry(entry)) return streamEntry(zip, entry, target, progress);
  if (rewrite) return rewriteEntry(zip, entry, target, files, progress, rewrite);
  const written = await writeSmallEntry(zip, entry, target, files, digest);
  progress(written.size);
  return written;
}

/** A small entry read and inflated here, checked as the snapshot holds it, written as `rewrite` makes it. */
async function rewriteEntry(zip: ZipFile, entry: Entry, target: string, files: FileWriters, progress: (bytes: number) => void, rewrite: (data: Buffer) => Buffer): Promise<Written> {
  const data = readWhole(zip, entry);
  // `write` copies the bytes before it returns: the scratch buffer is free again.
  const written = files.write(target, rewrite(data));
  const measured = { size: data.length, sha256: createHash('sha256').update(data).digest(), crc32: crc32(data) };
  await written;
  progress(measured.size);
  return measured;
}
