// Writes a snapshot zip to a file with archiver, one entry at a time. Files of a few MiB at most are
// read whole and handed to archiver as one buffer, so zlib deflates each in one go on its thread
// while the next files are read and hashed; larger files stream. A bounded queue (entries and
// bytes) keeps memory flat whatever the cell's size, and archiver's pipe to the file carries the
// backpressure. Every file is hashed as it is read, so none is read twice for 00_checksums.json.
import { createHash } from 'node:crypto';
import { closeSync, createWriteStream, openSync, readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { once } from 'node:events';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { deflateRawSync } from 'node:zlib';
import { ZipArchive } from 'archiver';
import { ChecksumSpool } from './checksum-spool.ts';

/**
 * How much of a file's start is test-compressed to decide between deflate and store. 16 KiB
 * rather than 64 KiB: zlib level 1 takes ~1.1 ms on 64 KiB of random bytes but ~0.09 ms on
 * 16 KiB (measured), and over thousands of files that difference is seconds of CPU.
 */
export const probeBytes = 16 * 1024;
/**
 * Entries smaller than this are stored: deflating a few hundred bytes saves a few dozen, and each
 * deflated entry costs round trips to zlib's thread, 0.84 ms per `.pmeta` against 0.22 ms stored
 * (measured on the bench corpus), which for thousands of `.pmeta` files was a third of an export.
 */
export const storeBelowBytes = 1024;
/** A first block that deflates to more than this share of its size is stored, not deflated. */
export const incompressibleRatio = 0.97;
/** Past this, offsets and sizes need ZIP64 records (the 32-bit fields top out at 0xFFFFFFFF). */
export const zip64Threshold = 0xffffffff;
/** Entries in flight at most: being read, waiting their turn, or in archiver's queue. */
export const queuedEntries = 32;
/** Bytes of whole-file buffers in flight at most (one larger file may pass it alone). */
export const queuedBytes = 8 * 1024 * 1024;
/**
 * Files up to this size are read whole and appended as one buffer. Streamed in 64 KiB chunks, each
 * chunk costs a round trip to zlib's thread and back; whole, the 300 MB bench corpus exported in
 * 4.1 s instead of 7.7 s (measured, level 1).
 */
export const wholeFileBytes = 4 * 1024 * 1024;
/**
 * Files up to this size are read with synchronous calls: open, read and close of a small file take
 * about 7 µs together, against about 90 µs as three thread-pool round trips (measured), and with
 * thousands of `.pmeta` files that is most of an export's time on the main thread.
 */
export const smallFileBytes = 64 * 1024;
/**
 * zlib's largest hash table (about 256 KiB more, for the one entry being deflated): the same
 * output, about 10% faster at level 1 on the bench corpus's text (measured).
 */
export const deflateMemLevel = 9;
/** Read chunk of streamed (larger) files, and zlib's output chunk. */
export const streamChunkBytes = 256 * 1024;
/** Output is written to the file in blocks of about this size. */
export const outputBlockBytes = 256 * 1024;

export interface ZipWriterOptions {
  /** zlib level for deflated entries. */
  level: number;
  /** ZIP64 end records from the start, for archives that may pass 4 GiB. */
  forceZip64: boolean;
  /** Date stamped on every entry. */
  date: Date;
  /** Called with the number of source bytes each time a chunk has gone into the archive. */
  onBytes?: (bytes: number) => void;
  /** Stops the current entry and fails the archive. */
  signal?: AbortSignal;
}

/**
 * Gathers archiver's small writes into blocks before they reach the file: zip headers arrive as
 * many writes of a few bytes, and each would otherwise cost a system call on the thread pool.
 * Large chunks (file data) go through as they are, after what was gathered before them, so the
 * bulk of the archive is not copied once more on its way out.
 */
class BlockWriter extends Transform {
  readonly #chunks: Buffer[] = [];
  #size = 0;

  constructor(private readonly blockBytes: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (chunk.length >= this.blockBytes / 4) {
      if (this.#size > 0) this.#push();
      this.push(chunk);
    } else {
      this.#chunks.push(chunk);
      this.#size += chunk.length;
      if (this.#size >= this.blockBytes) this.#push();
    }
    callback();
  }

  override _flush(callback: (error?: Error | null) => void): void {
    if (this.#size > 0) this.#push();
    callback();
  }

  #push(): void {
    this.push(Buffer.concat(this.#chunks, this.#size));
    this.#chunks.length = 0;
    this.#size = 0;
  }
}

/** A file's size changed between the walk and the read: the cell was not what was measured. */
export class SizeChangedError extends Error {}

/** Counts and hashes what flows through, reporting each chunk. */
class HashingPassThrough extends Transform {
  readonly #hash = createHash('sha256');
  size = 0;

  constructor(private readonly onBytes?: (bytes: number) => void) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null, data?: Buffer) => void): void {
    this.#hash.update(chunk);
    this.size += chunk.length;
    this.onBytes?.(chunk.length);
    callback(null, chunk);
  }

  digest(): string {
    return this.#hash.digest('hex');
  }
}

/**
 * Whether a file whose first block is `head` is worth deflating. Tested at level 1, the cheapest:
 * what level 1 cannot shrink, no level shrinks enough to pay for itself. Synchronous: at most
 * 16 KiB takes under 0.1 ms, less than a round trip to zlib's thread costs on the main thread.
 */
export function isCompressible(head: Buffer): boolean {
  if (head.length === 0) return false;
  return deflateRawSync(head, { level: 1 }).length <= head.length * incompressibleRatio;
}

/** An entry ready to go into the archive. */
interface PreparedEntry {
  source: Buffer | Readable;
  store: boolean;
  directory?: boolean;
  /** Runs once archiver has written the whole entry, in archive order. */
  written?: () => void;
}

export class SnapshotZipWriter {
  readonly #archive: ZipArchive;
  readonly #written: Promise<void>;
  readonly #opened: Promise<void>;
  readonly #checksums: ChecksumSpool;
  /** Resolvers of the entries handed to archiver and not yet written, oldest first. */
  readonly #pending: Array<() => void> = [];
  /** Entries accepted and not yet written: being read, waiting in order, or in archiver's queue. */
  readonly #inFlight: Array<Promise<void>> = [];
  readonly #sources = new Set<Readable>();
  /** Hands prepared entries to archiver one after the other, in the order they were added. */
  #order: Promise<void> = Promise.resolve();
  #queuedBytes = 0;
  #failure: Error | undefined;
  #failedEntry: string | undefined;
  #failed: Promise<never>;
  #reject!: (error: Error) => void;

  constructor(readonly file: string, private readonly options: ZipWriterOptions) {
    this.#archive = new ZipArchive({ zlib: { level: options.level, memLevel: deflateMemLevel, chunkSize: streamChunkBytes }, forceZip64: options.forceZip64 });
    this.#checksums = new ChecksumSpool(temporariesOf(file)[1]);
    this.#failed = new Promise<never>((_resolve, reject) => {
      this.#reject = reject;
    });
    this.#failed.catch(() => {});
    // archiver takes entries in order, one at a time, so each 'entry' event ends the oldest one.
    this.#archive.on('entry', () => this.#pending.shift()?.());
    this.#archive.on('error', (error: Error) => this.#fail(error));
    this.#archive.on('warning', (error: Error) => this.#fail(error));
    const output = createWriteStream(file, { flags: 'wx', mode: 0o600 });
    this.#opened = once(output, 'ready').then(() => {});
    this.#opened.catch(() => {});
    this.#written = pipeline(this.#archive, new BlockWriter(outputBlockBytes), output);
    this.#written.catch((error: Error) => this.#fail(error));
    options.signal?.addEventListener('abort', () => this.#fail(abortReason(options.signal!)), { once: true });
  }

  /** Resolves once the output file exists on disk. */
  async opened(): Promise<void> {
    await Promise.race([this.#opened, this.#failed]);
  }

  /** The entry whose reading or writing failed first, when the failure belongs to one. */
  get failedEntry(): string | undefined {
    return this.#failedEntry;
  }

  async addDirectory(name: string): Promise<void> {
    const folder = name.endsWith('/') ? name : `${name}/`;
    await this.#add(folder, 0, async () => ({ source: Buffer.alloc(0), store: true, directory: true }));
  }

  /** A small entry built in memory (manifest, OData files). */
  async addBuffer(name: string, content: Buffer | string): Promise<void> {
    const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    await this.#add(name, bytes.length, async () => this.#prepareContent(name, bytes, true));
  }

  /**
   * Adds a file, whose size must still be `expectedSize` when it has been read. Resolves once the
   * file is being read: the next files are read while earlier ones are compressed and written.
   */
  async addFile(name: string, filePath: string, expectedSize: number): Promise<void> {
    await this.#addFile(name, filePath, expectedSize, true);
  }

  async #addFile(name: string, filePath: string, expectedSize: number, listed: boolean): Promise<void> {
    const whole = expectedSize <= wholeFileBytes;
    await this.#add(name, whole ? expectedSize : 0, async () => {
      if (expectedSize <= smallFileBytes) return this.#prepareContent(name, readSmallFile(filePath, expectedSize, name), listed);
      const handle = await open(filePath, 'r');
      let streaming = false;
      try {
        if (whole) return this.#prepareContent(name, await readExactly(handle, expectedSize, name), listed);
        const head = Buffer.alloc(probeBytes);
        const { bytesRead } = await handle.read(head, 0, head.length, 0);
        if (bytesRead < head.length) throw new SizeChangedError(`${name} shrank while it was exported`);
        const store = !isCompressible(head);
        const source: Readable = handle.createReadStream({ start: 0, autoClose: true, highWaterMark: streamChunkBytes });
        streaming = true;
        const hashing = new HashingPassThrough(this.options.onBytes);
        this.#sources.add(source);
        pipeline(source, hashing).then(() => this.#sources.delete(source), (error: Error) => this.#fail(error, name));
        return {
          source: hashing,
          store,
          written: () => {
            if (hashing.size !== expectedSize) return this.#fail(new SizeChangedError(`${name} changed size while it was exported`), name);
            if (listed) this.#checksums.add(name, hashing.size, hashing.digest());
          },
        };
      } finally {
        if (!streaming) await handle.close();
      }
    });
  }

  /** An entry whose whole content is in memory: hashed and test-compressed. */
  #prepareContent(name: string, bytes: Buffer, listed: boolean): PreparedEntry {
    const sha256 = listed ? createHash('sha256').update(bytes).digest('hex') : '';
    const store = bytes.length < storeBelowBytes || !isCompressible(bytes.subarray(0, probeBytes));
    return {
      source: bytes,
      store,
      written: () => {
        if (listed) this.#checksums.add(name, bytes.length, sha256);
        this.options.onBytes?.(bytes.length);
      },
    };
  }

  /**
   * Writes 00_checksums.json and the central directory, and waits until the file holds them.
   * 00_checksums.json is the last entry rather than the second, as the spec lists it: its content is
   * known only once every file has streamed through, and zip readers find entries through the
   * central directory, so the order of entries in the file does not matter to them.
   */
  async finish(checksumsName: string): Promise<void> {
    await this.#drain();
    const size = await this.#checksums.close();
    await this.#addFile(checksumsName, this.#checksums.file, size, false);
    await this.#drain();
    await Promise.race([this.#archive.finalize(), this.#failed]);
    await Promise.race([this.#written, this.#failed]);
    await this.#checksums.remove();
  }

  /** Stops writing; the caller removes the file. Resolves once the output file is closed. */
  async abort(error: Error): Promise<void> {
    this.#fail(error);
    for (const source of this.#sources) source.destroy();
    this.#archive.abort();
    this.#archive.destroy(error);
    await this.#written.catch(() => {});
    await this.#checksums.remove();
  }

  #fail(error: Error, entry?: string): void {
    if (this.#failure) return;
    this.#failure = error;
    this.#failedEntry = entry;
    this.#reject(error);
  }

  #throwIfFailed(): void {
    if (this.#failure) throw this.#failure;
  }

  /** Waits until every accepted entry is in the archive. */
  async #drain(): Promise<void> {
    await Promise.race([Promise.all([this.#order, ...this.#inFlight]), this.#failed]);
    this.#throwIfFailed();
  }

  /**
   * Accepts one entry that holds `weight` bytes in memory: waits for room, starts `prepare` at
   * once, and hands its result to archiver after every earlier entry. At most `queuedEntries`
   * entries and `queuedBytes` bytes are in flight, so memory stays flat whatever the cell's size,
   * while several files are read at once and the next ones are ready when zlib wants them.
   */
  async #add(name: string, weight: number, prepare: () => Promise<PreparedEntry>): Promise<void> {
    this.#throwIfFailed();
    while (this.#inFlight.length >= queuedEntries || (this.#inFlight.length > 0 && this.#queuedBytes + weight > queuedBytes)) {
      await Promise.race([this.#inFlight[0], this.#failed]);
    }
    this.#throwIfFailed();
    this.#queuedBytes += weight;
    const prepared = prepare();
    prepared.catch(() => {});
    const written = new Promise<void>((resolve) => {
      this.#order = this.#order.then(async () => {
        const entry = await prepared;
        this.#throwIfFailed();
        this.#pending.push(() => {
          entry.written?.();
          resolve();
        });
        this.#archive.append(entry.source, { name, date: this.options.date, store: entry.store, ...(entry.directory ? { type: 'directory' as const } : {}) });
      }).catch((error: Error) => this.#fail(error, name));
    });
    const tracked = written.then(() => {
      this.#queuedBytes -= weight;
      this.#inFlight.splice(this.#inFlight.indexOf(tracked), 1);
    });
    this.#inFlight.push(tracked);
  }
}

/** readExactly for a small file, synchronously (see smallFileBytes). */
function readSmallFile(filePath: string, size: number, name: string): Buffer {
  const descriptor = openSync(filePath, 'r');
  try {
    const content = Buffer.allocUnsafe(size + 1);
    let filled = 0;
    for (let read = -1; read !== 0 && filled < content.length; filled += read) {
      read = readSync(descriptor, content, filled, content.length - filled, filled);
    }
    if (filled !== size) throw new SizeChangedError(`${name} changed size while it was exported`);
    return content.subarray(0, size);
  } finally {
    closeSync(descriptor);
  }
}

/** The files a writer of `file` may leave behind when its thread is stopped: the zip and its checksum spool. */
export function temporariesOf(file: string): [string, string] {
  return [file, `${file}-checksums`];
}

/** Reads a file of `size` bytes whole; a file that is now shorter or longer is an error. */
async function readExactly(handle: FileHandle, size: number, name: string): Promise<Buffer> {
  // One byte more than expected, so a file that grew is noticed without reading all of it.
  const content = Buffer.allocUnsafe(size + 1);
  let filled = 0;
  while (filled < content.length) {
    const { bytesRead } = await handle.read(content, filled, content.length - filled, filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  if (filled !== size) throw new SizeChangedError(`${name} changed size while it was exported`);
  return content.subarray(0, size);
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('the export was aborted');
}
