// Writes a snapshot zip to a file with archiver, one entry at a time: each entry is appended only
// after the previous one is in the archive, so at most one source file is open and memory stays
// flat whatever the cell's size (archiver's pipe to the file carries the backpressure). Every file
// entry is hashed while it streams through, so no file is read twice for 00_checksums.json.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { deflateRaw } from 'node:zlib';
import { ZipArchive } from 'archiver';
import { ChecksumSpool } from './checksum-spool.ts';

const deflateRawAsync = promisify(deflateRaw);

/**
 * How much of a file's start is test-compressed to decide between deflate and store. 16 KiB
 * rather than 64 KiB: zlib level 1 takes ~1.1 ms on 64 KiB of random bytes but ~0.09 ms on
 * 16 KiB (measured), and over thousands of files that difference is seconds of CPU.
 */
export const probeBytes = 16 * 1024;
/** A first block that deflates to more than this share of its size is stored, not deflated. */
export const incompressibleRatio = 0.97;
/** Past this, offsets and sizes need ZIP64 records (the 32-bit fields top out at 0xFFFFFFFF). */
export const zip64Threshold = 0xffffffff;
/** Entries waiting in archiver's queue at most, the one being written included. */
export const queuedEntries = 8;
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
 * Gathers archiver's output into blocks before it reaches the file: zip headers arrive as many
 * writes of a few bytes, and each would otherwise cost a system call on the thread pool.
 */
class BlockWriter extends Transform {
  readonly #chunks: Buffer[] = [];
  #size = 0;

  constructor(private readonly blockBytes: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    if (this.#size >= this.blockBytes) this.#push();
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
 * what level 1 cannot shrink, no level shrinks enough to pay for itself.
 */
export async function isCompressible(head: Buffer): Promise<boolean> {
  if (head.length === 0) return false;
  const deflated = await deflateRawAsync(head, { level: 1 });
  return deflated.length <= head.length * incompressibleRatio;
}

export class SnapshotZipWriter {
  readonly #archive: ZipArchive;
  readonly #written: Promise<void>;
  readonly #checksums: ChecksumSpool;
  /** Resolvers of the appended entries archiver has not finished, oldest first. */
  readonly #pending: Array<() => void> = [];
  readonly #inFlight: Array<Promise<void>> = [];
  readonly #sources = new Set<Readable>();
  #failure: Error | undefined;
  #failed: Promise<never>;
  #fail!: (error: Error) => void;

  constructor(readonly file: string, private readonly options: ZipWriterOptions) {
    this.#archive = new ZipArchive({ zlib: { level: options.level }, forceZip64: options.forceZip64 });
    this.#checksums = new ChecksumSpool(`${file}-checksums`);
    this.#failed = new Promise<never>((_resolve, reject) => {
      this.#fail = (error) => {
        this.#failure ??= error;
        reject(this.#failure);
      };
    });
    this.#failed.catch(() => {});
    // archiver takes entries in order, one at a time, so each 'entry' event ends the oldest one.
    this.#archive.on('entry', () => this.#pending.shift()?.());
    this.#archive.on('error', (error: Error) => this.#fail(error));
    this.#archive.on('warning', (error: Error) => this.#fail(error));
    this.#written = pipeline(this.#archive, new BlockWriter(outputBlockBytes), createWriteStream(file, { flags: 'wx', mode: 0o600 }));
    this.#written.catch((error: Error) => this.#fail(error));
    options.signal?.addEventListener('abort', () => this.#fail(abortReason(options.signal!)), { once: true });
  }

  async addDirectory(name: string): Promise<void> {
    await this.#append(Buffer.alloc(0), { name: name.endsWith('/') ? name : `${name}/`, type: 'directory', date: this.options.date });
  }

  /** A small entry built in memory (manifest, OData files, `.pmeta`-sized things). */
  async addBuffer(name: string, content: Buffer | string): Promise<void> {
    const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    this.#checksums.add(name, bytes.length, createHash('sha256').update(bytes).digest('hex'));
    const { written } = await this.#append(bytes, { name, date: this.options.date, store: bytes.length < 64 });
    void written.then(() => this.options.onBytes?.(bytes.length), () => {});
  }

  /**
   * Streams a file into the archive; its size must still be `expectedSize` when it has been read.
   * The file is opened and its first block test-compressed now, while earlier entries stream.
   */
  async addFile(name: string, filePath: string, expectedSize: number): Promise<void> {
    await this.#addFile(name, filePath, expectedSize, true);
  }

  async #addFile(name: string, filePath: string, expectedSize: number, listed: boolean): Promise<void> {
    this.#throwIfFailed();
    let handle: FileHandle | undefined = await open(filePath, 'r');
    try {
      const head = Buffer.alloc(Math.min(probeBytes, Math.max(expectedSize, 1)));
      const { bytesRead } = await handle.read(head, 0, head.length, 0);
      if (bytesRead === 0) {
        if (expectedSize !== 0) throw new SizeChangedError(`${name} shrank while it was exported`);
        if (listed) await this.addBuffer(name, Buffer.alloc(0));
        else await this.#append(Buffer.alloc(0), { name, date: this.options.date });
        return;
      }
      const store = !(await isCompressible(head.subarray(0, bytesRead)));
      const source: Readable = handle.createReadStream({ start: 0, autoClose: true });
      handle = undefined;
      const hashing = new HashingPassThrough(this.options.onBytes);
      this.#sources.add(source);
      pipeline(source, hashing).then(() => this.#sources.delete(source), (error: Error) => this.#fail(error));
      const { written } = await this.#append(hashing, { name, date: this.options.date, store });
      void written.then(() => {
        if (hashing.size !== expectedSize) return this.#fail(new SizeChangedError(`${name} changed size while it was exported`));
        if (listed) this.#checksums.add(name, hashing.size, hashing.digest());
      }, () => {});
    } finally {
      await handle?.close();
    }
  }

  /**
   * Writes 00_checksums.json and the central directory, and waits until the file holds them.
   * 00_checksums.json is the last entry rather than the second, as the spec lists it: its content is
   * known only once every file has streamed through, and zip readers find entries through the
   * central directory, so the order of entries in the file does not matter to them.
   */
  async finish(checksumsName: string): Promise<void> {
    await Promise.race([Promise.all(this.#inFlight), this.#failed]);
    this.#throwIfFailed();
    const size = await this.#checksums.close();
    await this.#addFile(checksumsName, this.#checksums.file, size, false);
    await Promise.race([Promise.all(this.#inFlight), this.#failed]);
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

  #throwIfFailed(): void {
    if (this.#failure) throw this.#failure;
  }

  /**
   * Queues one entry; `written` settles once archiver has put all of it into the archive. At most
   * `queuedEntries` wait in archiver's queue: memory stays flat, and the next files are opened
   * and test-compressed while the current one streams.
   */
  async #append(source: Buffer | Readable, data: { name: string; date: Date; store?: boolean; type?: 'directory' }): Promise<{ written: Promise<void> }> {
    this.#throwIfFailed();
    while (this.#inFlight.length >= queuedEntries) await Promise.race([this.#inFlight[0], this.#failed]);
    const done = new Promise<void>((resolve) => this.#pending.push(resolve));
    const tracked = done.then(() => {
      this.#inFlight.splice(this.#inFlight.indexOf(tracked), 1);
    });
    this.#inFlight.push(tracked);
    this.#archive.append(source, data);
    return { written: tracked };
  }
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('the export was aborted');
}
