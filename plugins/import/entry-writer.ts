// Writes one zip entry to a new file ('wx': never over something) and says what it wrote: its
// size, SHA-256 and CRC-32, for the caller to hold against 00_checksums.json, or against the
// zip's own CRC-32 when the snapshot has no such list. Small entries (at most
// 1 MiB), the bulk of a cell, are read from the reader's cached blocks and inflated on the main
// thread, synchronously (cheaper than a round trip to zlib's thread for so little), and written by
// the import's file writer thread. Larger entries stream with backpressure, so memory stays flat
// whatever the file size.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32, createInflateRaw, inflateRawSync } from 'node:zlib';
import type { Entry, ZipFile } from 'yauzl';
import { isOutOfSpace, personiumError, type PersoniumError } from '../../core/errors.ts';
import { readAt } from './block-reader.ts';
import type { FileWriterThread } from './file-writer.ts';

/** Entries up to this size (both compressed and expanded) are handled whole, in memory. */
export const wholeEntryLimit = 1024 * 1024;
const streamChunk = 256 * 1024;


export interface Written {
  size: number;
  /** Raw bytes. */
  sha256: Buffer;
  /** What the zip's own CRC-32 must be, for a snapshot without a SHA-256 list. */
  crc32: number;
}

function damaged(entry: Entry, reason: string): PersoniumError {
  return personiumError('PR400-SN-0006', `${entry.fileName}: ${reason}`);
}

/** The entry's bytes, no more than its central-directory size says (a lie is an error). */
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

/** The entry's bytes (in `memory` when stored), no more than its central-directory size says. */
async function readWhole(zip: ZipFile, entry: Entry, memory: Buffer): Promise<Buffer> {
  const { fileDataStart } = await zip.readLocalFileHeaderPromise(entry, { minimal: true }).catch((error: Error) => { throw damaged(entry, error.message); });
  const raw = memory.subarray(0, entry.compressedSize);
  // Served from the cached block it is in (block-reader.ts).
  const bytesRead = await readAt(zip, raw, fileDataStart).catch((error: Error) => { throw damaged(entry, error.message); });
  if (bytesRead !== raw.length) throw damaged(entry, 'the zip ends inside the entry');
  if (entry.compressionMethod === 0) {
    if (raw.length !== entry.uncompressedSize) throw damaged(entry, `stored size ${raw.length} is not the declared ${entry.uncompressedSize}`);
    return raw;
  }
  let data: Buffer;
  try {
    // One byte more than declared is enough to catch an entry that expands beyond its size; an
    // output chunk of that size makes the result one buffer, not 16 KiB pieces joined by a copy.
    const room = Math.max(64, entry.uncompressedSize + 1);
    data = inflateRawSync(raw, { maxOutputLength: room, chunkSize: room });
  } catch (error) {
    throw damaged(entry, (error as Error).message);
  }
  if (data.length !== entry.uncompressedSize) throw damaged(entry, `expands to ${data.length > entry.uncompressedSize ? 'more than' : data.length} bytes, not the declared ${entry.uncompressedSize}`);
  return data;
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

export async function writeEntry(zip: ZipFile, entry: Entry, target: string, files: FileWriterThread, progress: (bytes: number) => void, rewrite?: (data: Buffer) => Buffer): Promise<Written> {
  if (entry.uncompressedSize > wholeEntryLimit || entry.compressedSize > wholeEntryLimit) return streamEntry(zip, entry, target, progress);
  const { written, size, sha256, crc } = await withBuffer(async (memory) => {
    const data = await readWhole(zip, entry, memory);
    // `write` copies the data before it returns, so the reused buffer is free while the file is
    // written. What is checked is the entry as the snapshot holds it, before any `rewrite`.
    return { written: files.write(target, rewrite ? rewrite(data) : data), size: data.length, sha256: createHash('sha256').update(data).digest(), crc: crc32(data) };
  });
  await written;
  progress(size);
  return { size, sha256, crc32: crc };
}
