// Writes one zip entry to a new file ('wx': never over something) and says what it wrote: its
// size, SHA-256 and CRC-32, for the caller to hold against 00_checksums.json, or against the
// zip's own CRC-32 when the snapshot has no such list. Small entries (at most 1 MiB) are read whole,
// synchronously, from the reader's window of the file; most of them, the bulk of a cell, never come
// here: the file writer threads read, check and write them (entry-batches.ts). Larger entries
// stream with backpressure, so memory stays flat whatever the file size.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32, createInflateRaw } from 'node:zlib';
import type { Entry, ZipFile } from 'yauzl';
import { isOutOfSpace, personiumError, type PersoniumError } from '../../core/errors.ts';
import { zipWindow } from './block-reader.ts';
import type { FileWriters } from './file-writer.ts';
import { DamagedEntryError } from './inflate-entry.mjs';
import { entryData, readRawEntry } from './local-entry.mjs';

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

/** Room for a local header and the largest small entry. */
const scratch = Buffer.allocUnsafe(wholeEntryLimit + 64);

/** Whether an entry is small enough to be handled whole (both its sizes at most wholeEntryLimit). */
export function isSmallEntry(entry: Entry): boolean {
  return entry.uncompressedSize <= wholeEntryLimit && entry.compressedSize <= wholeEntryLimit;
}

/**
 * A small entry's bytes (in `scratch` when stored), no more than its central-directory size says,
 * read synchronously from the zip's window.
 */
function readWhole(zip: ZipFile, entry: Entry): Buffer {
  try {
    const raw = readRawEntry(zipWindow(zip), scratch, entry.relativeOffsetOfLocalHeader, entry.compressedSize);
    return entryData(raw, entry.compressionMethod === 8, entry.uncompressedSize);
  } catch (error) {
    throw error instanceof DamagedEntryError ? damaged(entry, error.message) : error;
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
 * Writes a zip entry to `target` and says what it wrote: a large one streamed, a small one read
 * here and written by a file writer thread as `rewrite` makes it (the bulk of the small entries go
 * to the threads whole, in batches: entry-batches.ts).
 */
export async function writeEntry(zip: ZipFile, entry: Entry, target: string, files: FileWriters, progress: (bytes: number) => void, rewrite: (data: Buffer) => Buffer = (data) => data): Promise<Written> {
  if (!isSmallEntry(entry)) return streamEntry(zip, entry, target, progress);
  const data = readWhole(zip, entry);
  // `write` copies the bytes before it returns: the scratch buffer is free again.
  const written = files.write(target, rewrite(data));
  const measured = { size: data.length, sha256: createHash('sha256').update(data).digest(), crc32: crc32(data) };
  await written;
  progress(measured.size);
  return measured;
}
