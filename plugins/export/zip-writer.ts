// Writes a snapshot zip to a file, entry after entry, with Cellar's own writer of the two kinds of
// entries the format uses, stored and deflated (zip-records.ts has the byte layout). It runs on the
// export's own thread, so it uses synchronous file calls: a cell of small files is mostly
// `.pmeta` files and folders, and each thread-pool round trip would cost more than the entry.
// Small entries are read, hashed, deflated (or stored) and written in one go; files of up to a
// few MiB are deflated on zlib's thread while the next entries are read, and written in order;
// larger files stream. The central directory and 00_checksums.json are spooled to hidden files
// beside the zip, so memory stays flat whatever the number of entries.
import { hash as digest, createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { once } from 'node:events';
import { createDeflateRaw, crc32, deflateRaw, deflateRawSync } from 'node:zlib';
import { incompressibleRatio, isCompressible, looksRandom, readSmall, readWhole, SizeChangedError, smallFileBytes } from './entry-reads.ts';
import { promisify } from 'node:util';
import { CentralDirectorySpool, writeAll } from './central-directory.ts';
import type { DeflateThread } from './deflate-thread.ts';
import { ChecksumSpool } from './checksum-spool.ts';

export { SizeChangedError, smallFileBytes };
import { dosDateTime, endRecords, localHeaderLength, max32, methodDeflated, methodStored, writeLocalHeader, type EntryRecord } from './zip-records.ts';

const deflateAsync = promisify(deflateRaw);

/**
 * How much of a large file's start is test-compressed to decide between deflate and store. 16 KiB
 * rather than 64 KiB: zlib level 1 takes ~1.1 ms on 64 KiB of random bytes but ~0.09 ms on
 * 16 KiB (measured), and over thousands of files that difference is seconds of CPU.
 */
export const probeBytes = 16 * 1024;
/**
 * Entries smaller than this are stored: deflating a few hundred bytes saves a few dozen, at about
 * 20 µs of zlib set-up each (measured), and a cell has one `.pmeta` per resource.
 */
export const storeBelowBytes = 1024;
/** Files from this size on get ZIP64 sizes in their local header: their deflated size is known only after. */
const zip64LocalBytes = 0xf0000000;
/** Entries being deflated on zlib's thread at most, waiting their turn to be written. */
export const queuedEntries = 32;
/**
 * Entries in line at most, and their bytes (one larger file may pass it alone): behind a small
 * entry on the deflating thread wait the folders and `.pmeta` files that come before the next.
 * A longer line bought no speed (the thread keeps up) and held more memory: peak RSS 146 MB at
 * 1,024 entries against 125 MB at 64 for the 10,000-file cell (measured).
 */
export const lineEntries = 128;
export const queuedBytes = 8 * 1024 * 1024;
/** Files up to this size are read whole; larger ones stream. */
export const wholeFileBytes = 4 * 1024 * 1024;
/** zlib's largest hash table: the same output, about 10% faster at level 1 on text (measured). */
export const deflateMemLevel = 9;
/** Read chunk of streamed (larger) files, and zlib's output chunk. */
export const streamChunkBytes = 256 * 1024;
/** Output is written to the file in blocks of about this size. */
export const outputBlockBytes = 1024 * 1024;

export interface ZipWriterOptions {
  /** zlib level for deflated entries. */
  level: number;
  /** ZIP64 records on every entry and at the end, as for archives that may pass 4 GiB. */
  forceZip64: boolean;
  /** Date stamped on every entry. */
  date: Date;
  /** Called with the number of source bytes once an entry has gone into the archive. */
  onBytes?: (bytes: number) => void;
  /** Stops the archive at the next entry. */
  signal?: AbortSignal;
  /** Small entries are deflated on this thread (which the caller closes); without it, here. */
  deflater?: DeflateThread;
  /** Awaited before a large file streams (the export's progress needs its totals by then). */
  beforeStream?: () => Promise<void>;
}

/** An entry whose bytes are ready, or being deflated, waiting to be written in order. */
interface Ready {
  name: string;
  record: EntryRecord;
  data: Buffer;
  /** Source bytes, for progress. */
  bytes: number;
  /** What 00_checksums.json gets once the entry is written, if it is listed. */
  checksum?: string;
}

interface Queued {
  name: string;
  weight: number;
  ready: Ready | undefined;
  done: Promise<void>;
  /** Being deflated on zlib's thread. */
  onZlib?: boolean;
  /** A small entry on the deflating thread: all of its Ready but the bytes and method. */
  deflating?: { sequence: number; crc: number; size: number; checksum: string | undefined };
}

export class SnapshotZipWriter {
  readonly #fd: number;
  readonly #stamp: { time: number; date: number };
  readonly #directory: CentralDirectorySpool;
  readonly #checksums: ChecksumSpool;
  readonly #out = Buffer.allocUnsafe(outputBlockBytes);
  #outUsed = 0;
  /** Bytes of the archive so far, written or gathered in #out. */
  #position = 0;
  readonly #queue = new Line<Queued>();
  #queuedBytes = 0;
  /** Entries in line being deflated on zlib's thread. */
  #onZlib = 0;
  readonly #deflater: DeflateThread | undefined;
  #failure: Error | undefined;
  #failedEntry: string | undefined;
  #closed = false;

  constructor(readonly file: string, private readonly options: ZipWriterOptions) {
    const [, checksums, directory] = temporariesOf(file);
    this.#stamp = dosDateTime(options.date);
    this.#deflater = options.deflater;
    this.#fd = openSync(file, 'wx', 0o600);
    try {
      this.#checksums = new ChecksumSpool(checksums);
      this.#directory = new CentralDirectorySpool(directory, this.#stamp, options.forceZip64);
    } catch (error) {
      closeSync(this.#fd);
      throw error;
    }
  }

  /** The output file exists from the constructor on; kept for the callers that wait for it. */
  async opened(): Promise<void> {
    this.#throwIfFailed();
  }

  /** The entry whose reading or writing failed first, when the failure belongs to one. */
  get failedEntry(): string | undefined {
    return this.#failedEntry;
  }

  /**
   * The add methods return a promise only when the caller must wait (for room in the line, or
   * for a large file): a promise per entry, tens of thousands in a cell of small files, was a
   * good part of the export thread's garbage.
   */
  addDirectory(name: string): Promise<void> | undefined {
    const folder = name.endsWith('/') ? name : `${name}/`;
    this.#guard(folder, () => this.#enqueue(folder, 0, this.#entry(folder, Buffer.alloc(0), methodStored, 0, 0, true)));
    return this.#room();
  }

  /** A small entry built in memory (manifest, OData files), listed in 00_checksums.json. */
  addBuffer(name: string, content: Buffer | string): Promise<void> | undefined {
    const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    this.#guard(name, () => this.#addBytes(name, bytes, true));
    return this.#room();
  }

  /**
   * Adds a file, whose size must still be `expectedSize` when it has been read (when given: the
   * export's walk gives none, the size is the one read). Resolves once the file is read: larger
   * files are deflated on zlib's thread while the next ones are read.
   */
  addFile(name: string, filePath: string, expectedSize?: number): Promise<void> | undefined {
    return this.#addFile(name, filePath, expectedSize, true);
  }

  #addFile(name: string, filePath: string, expectedSize: number | undefined, listed: boolean): Promise<void> | undefined {
    this.#throwIfFailed();
    let size = expectedSize;
    if (size === undefined) {
      let small: Buffer | undefined;
      this.#guard(name, () => {
        const read = readSmall(filePath);
        if (read.bytes) small = read.bytes;
        else size = read.size;
      });
      if (small) {
        this.#guard(name, () => this.#addBytes(name, small!, listed, true));
        return this.#room();
      }
    }
    if (size! > wholeFileBytes) return this.#guardAsync(name, () => this.#stream(name, filePath, size!, listed));
    this.#guard(name, () => this.#addBytes(name, readWhole(filePath, size!, name), listed));
    return this.#room();
  }

  /**
   * Writes 00_checksums.json and the central directory, and waits until the file holds them.
   * 00_checksums.json is the last entry: its content is known only once every file went through,
   * and zip readers find entries through the central directory, where the order does not matter.
   */
  async finish(checksumsName: string): Promise<void> {
    await this.#drain();
    const size = this.#checksums.close();
    await this.#addFile(checksumsName, this.#checksums.file, size, false);
    await this.#drain();
    this.#guard(checksumsName, () => {
      const offset = this.#position;
      this.#directory.copyTo((chunk) => this.#write(chunk));
      this.#write(endRecords(this.#directory.entries, offset, this.#directory.size, this.options.forceZip64));
      this.#flush();
    });
    this.#close();
  }

  /** Stops writing; the caller removes the file. Resolves once the output file is closed. */
  async abort(error: Error): Promise<void> {
    this.#fail(error);
    await Promise.all(this.#queue.values().map((queued) => queued.done.catch(() => {})));
    this.#close();
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeSync(this.#fd);
    this.#checksums.remove();
    this.#directory.remove();
  }

  /**
   * Hashes, deflates or stores, and queues an entry whose bytes are in memory; `borrowed` bytes
   * are a view of a buffer the next read reuses, copied only when the entry has to wait in line.
   */
  #addBytes(name: string, bytes: Buffer, listed: boolean, borrowed = false): void {
    const checksum = listed ? digest('sha256', bytes, 'hex') : undefined;
    const crc = crc32(bytes);
    const stored = () => this.#enqueue(name, 0, this.#entry(name, bytes, methodStored, crc, bytes.length, false, checksum), borrowed);
    if (bytes.length < storeBelowBytes) return stored();
    if (bytes.length <= smallFileBytes) {
      // A window no larger than the entry: the same output, and less for zlib to set up (measured).
      const windowBits = Math.min(15, Math.max(9, Math.ceil(Math.log2(bytes.length))));
      const sequence = this.#deflater?.submit(bytes, windowBits);
      if (sequence !== undefined) return this.#enqueueDeflating(name, { sequence, crc, size: bytes.length, checksum });
      if (looksRandom(bytes)) return stored();
      const deflated = deflateRawSync(bytes, { level: this.options.level, memLevel: deflateMemLevel, windowBits });
      if (deflated.length > bytes.length * incompressibleRatio) return stored();
      return this.#enqueue(name, 0, this.#entry(name, deflated, methodDeflated, crc, bytes.length, false, checksum));
    }
    if (!isCompressible(bytes.subarray(0, probeBytes))) return stored();
    const deflating = deflateAsync(bytes, { level: this.options.level, memLevel: deflateMemLevel, chunkSize: streamChunkBytes })
      .then((deflated) => this.#entry(name, deflated, methodDeflated, crc, bytes.length, false, checksum));
    this.#enqueue(name, bytes.length, deflating);
  }

  #entry(name: string, data: Buffer, method: number, crc: number, size: number, directory: boolean, checksum?: string): Ready {
    const record: EntryRecord = { name: Buffer.from(name, 'utf8'), method, crc, compressedSize: data.length, size, offset: 0, directory, zip64Local: this.options.forceZip64 };
    return { name, record, data, bytes: size, ...(checksum === undefined ? {} : { checksum }) };
  }

  #enqueueDeflating(name: string, deflating: NonNullable<Queued['deflating']>): void {
    this.#queue.push({ name, weight: deflating.size, ready: undefined, done: Promise.resolve(), deflating });
    this.#queuedBytes += deflating.size;
    this.#writeQueued();
  }

  /** Settles once the entry can be written (or failed). */
  #settled(queued: Queued): Promise<void> {
    return queued.deflating ? this.#deflater!.waitFor(queued.deflating.sequence) : queued.done;
  }

  /**
   * Puts an entry in line; entries that are ready at the head of the line are written at once.
   * Bytes that must wait are copied into memory of their own when they are borrowed, or a view of
   * much more memory (zlib's output is a view of its 16 KiB chunk; a copy from Buffer's shared
   * pool would hold a whole pool block while it waits).
   */
  #enqueue(name: string, weight: number, entry: Ready | Promise<Ready>, borrowed = false): void {
    const onZlib = entry instanceof Promise;
    if (!onZlib && this.#queue.length === 0) return this.#writeEntry(entry);
    if (!onZlib && (borrowed || entry.data.buffer.byteLength > 2 * entry.data.length + 1024)) {
      const copy = Buffer.allocUnsafeSlow(entry.data.length);
      entry.data.copy(copy);
      entry.data = copy;
    }
    const queued: Queued = { name, weight: onZlib ? weight : entry.data.length, ready: onZlib ? undefined : entry, done: Promise.resolve(), onZlib };
    if (onZlib) {
      queued.done = entry.then((ready) => {
        queued.ready = ready;
      });
      queued.done.catch((error: Error) => this.#fail(error, name));
      this.#onZlib += 1;
    }
    this.#queue.push(queued);
    this.#queuedBytes += queued.weight;
    this.#writeQueued();
  }

  #writeQueued(): void {
    while (this.#queue.length > 0 && !this.#failure) {
      const queued = this.#queue.first()!;
      const { deflating } = queued;
      if (deflating) {
        if (!this.#deflater!.done(deflating.sequence)) return;
        const { method, data } = this.#deflater!.oldest(deflating.sequence);
        this.#queue.shift();
        // The bytes are copied out of the ring as the entry is written; then their room is free.
        this.#queuedBytes -= queued.weight;
        this.#guard(queued.name, () => this.#writeEntry(this.#entry(queued.name, data, method, deflating.crc, deflating.size, false, deflating.checksum)));
        this.#deflater!.release();
        continue;
      }
      if (!queued.ready) return;
      this.#queue.shift();
      this.#queuedBytes -= queued.weight;
      if (queued.onZlib) this.#onZlib -= 1;
      this.#guard(queued.name, () => this.#writeEntry(queued.ready!));
    }
  }

  #full(): boolean {
    return this.#queue.length > 0 && (this.#onZlib >= queuedEntries || this.#queue.length >= lineEntries || this.#queuedBytes > queuedBytes);
  }

  /** Nothing when the line has room (the common case), else the wait for it. */
  #room(): Promise<void> | undefined {
    this.#throwIfFailed();
    return this.#full() ? this.#waitForRoom() : undefined;
  }

  /** Waits while the line is full (entries or bytes). */
  async #waitForRoom(): Promise<void> {
    while (this.#full()) {
      await this.#settled(this.#queue.first()!).catch(() => {});
      this.#throwIfFailed();
      this.#writeQueued();
    }
    this.#throwIfFailed();
  }

  /** Waits until every entry in line is written. */
  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      await this.#settled(this.#queue.first()!).catch((error: Error) => this.#fail(error, this.#queue.first()?.name));
      this.#throwIfFailed();
      this.#writeQueued();
    }
    this.#throwIfFailed();
  }

  #writeEntry(entry: Ready): void {
    entry.record.offset = this.#position;
    this.#reserve(localHeaderLength(entry.record));
    this.#outUsed += writeLocalHeader(this.#out, this.#outUsed, entry.record, this.#stamp);
    this.#position += localHeaderLength(entry.record);
    this.#write(entry.data);
    this.#directory.add(entry.record);
    if (entry.checksum !== undefined) this.#checksums.add(entry.name, entry.bytes, entry.checksum);
    this.options.onBytes?.(entry.bytes);
  }

  /**
   * A large file, read and written in chunks once every entry before it is written: its local
   * header is written first with the sizes and CRC left at zero, then filled in once they are known.
   */
  async #stream(name: string, filePath: string, expectedSize: number, listed: boolean): Promise<void> {
    await this.#drain();
    await this.options.beforeStream?.();
    const fd = openSync(filePath, 'r');
    let deflate: ReturnType<typeof createDeflateRaw> | undefined;
    try {
      const head = Buffer.allocUnsafe(probeBytes);
      const headRead = readSync(fd, head, 0, probeBytes, 0);
      if (headRead < probeBytes) throw new SizeChangedError(`${name} shrank while it was exported`);
      const method = isCompressible(head) ? methodDeflated : methodStored;
      const record: EntryRecord = { name: Buffer.from(name, 'utf8'), method, crc: 0, compressedSize: 0, size: 0, offset: this.#position, directory: false, zip64Local: this.options.forceZip64 || expectedSize >= zip64LocalBytes };
      const header = Buffer.alloc(localHeaderLength(record));
      writeLocalHeader(header, 0, record, this.#stamp);
      this.#write(header);
      const sha256 = createHash('sha256');
      let crc = 0;
      let compressed = 0;
      deflate = method === methodDeflated ? createDeflateRaw({ level: this.options.level, memLevel: deflateMemLevel, chunkSize: streamChunkBytes }) : undefined;
      const output = deflate;
      output?.on('data', (chunk: Buffer) => {
        this.#write(chunk);
        compressed += chunk.length;
      });
      const deflateEnded = output ? once(output, 'end') : Promise.resolve();
      deflateEnded.catch(() => {});
      for (;;) {
        this.options.signal?.throwIfAborted();
        const chunk = Buffer.allocUnsafe(streamChunkBytes);
        const read = readSync(fd, chunk, 0, streamChunkBytes, null);
        if (read === 0) break;
        const data = chunk.subarray(0, read);
        record.size += read;
        if (record.size > expectedSize) throw new SizeChangedError(`${name} changed size while it was exported`);
        sha256.update(data);
        crc = crc32(data, crc);
        this.options.onBytes?.(read);
        if (!output) {
          this.#write(data);
          compressed += read;
        } else if (!output.write(data)) {
          await Promise.race([once(output, 'drain'), deflateEnded]);
        }
      }
      if (record.size !== expectedSize) throw new SizeChangedError(`${name} changed size while it was exported`);
      output?.end();
      await deflateEnded;
      if (!record.zip64Local && compressed >= max32) throw new Error(`${name} deflated to more than 4 GiB`);
      record.crc = crc;
      record.compressedSize = compressed;
      writeLocalHeader(header, 0, record, this.#stamp);
      this.#flush();
      writeAll(this.#fd, header, record.offset);
      this.#directory.add(record);
      if (listed) this.#checksums.add(name, record.size, sha256.digest('hex'));
    } finally {
      if (deflate && !deflate.writableFinished) deflate.destroy();
      closeSync(fd);
    }
  }

  /** Appends bytes to the archive: small ones gathered in #out, large ones written through. */
  #write(bytes: Buffer): void {
    if (bytes.length >= outputBlockBytes / 4) {
      this.#flush();
      writeAll(this.#fd, bytes, this.#position);
    } else {
      this.#reserve(bytes.length);
      bytes.copy(this.#out, this.#outUsed);
      this.#outUsed += bytes.length;
    }
    this.#position += bytes.length;
  }

  #reserve(length: number): void {
    if (this.#outUsed + length > outputBlockBytes) this.#flush();
  }

  #flush(): void {
    if (this.#outUsed === 0) return;
    writeAll(this.#fd, this.#out.subarray(0, this.#outUsed), this.#position - this.#outUsed);
    this.#outUsed = 0;
  }

  #guard(name: string, work: () => void): void {
    this.#throwIfFailed();
    try {
      this.options.signal?.throwIfAborted();
      work();
    } catch (error) {
      this.#fail(error as Error, name);
      throw error;
    }
  }

  async #guardAsync(name: string, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      this.#fail(error as Error, name);
      throw this.#failure;
    }
  }

  #fail(error: Error, entry?: string): void {
    if (this.#failure) return;
    this.#failure = error;
    this.#failedEntry = entry;
  }

  #throwIfFailed(): void {
    if (this.#failure) throw this.#failure;
  }
}

/** A first-in first-out line: taking the first of a long array with shift() moves all the others. */
class Line<T> {
  #items: T[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  first(): T | undefined {
    return this.#items[this.#head];
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head++];
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  values(): T[] {
    return this.#items.slice(this.#head);
  }
}

/** The files a writer of `file` leaves behind when its thread is stopped: the zip and its two spools. */
export function temporariesOf(file: string): [string, string, string] {
  return [file, `${file}-checksums`, `${file}-directory`];
}
