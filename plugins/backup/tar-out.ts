// The tar side of a unit backup: entries go into a tar-stream pack whose bytes are written to the
// response with backpressure, every file hashed with SHA-256 on a thread of its own as it streams
// (core/hash-thread.ts, the caller's: the hash overlaps the reads and the sending), and each entry's line
// spooled to a manifest file on disk once its digest is known (memory stays flat whatever the
// number of entries).
import { createReadStream } from 'node:fs';
import type { ServerResponse } from 'node:http';
import tar from 'tar-stream';
import { manifestName, type ManifestEntry, type ManifestHeader, type ManifestTrailer } from '../../core/backup-layout.ts';
import type { HashThread } from '../../core/hash-thread.ts';
import { ManifestSpool } from '../../core/manifest-spool.ts';

const chunkBytes = 1024 * 1024;
const responseQueueBytes = 8 * chunkBytes;
const batchBytes = 64 * 1024;
/** Chunks of a large file being read at once. */
const readAheadChunks = 2;

type Sink = ReturnType<tar.Pack['entry']>;

/** Reads into `buffer` from `position` of a file; resolves with the bytes read. */
export type PositionedRead = (buffer: Buffer, position: number) => Promise<number>;

export class TarOut {
  readonly #pack = tar.pack({ highWaterMark: 4 * chunkBytes });
  readonly #spool: ManifestSpool;
  readonly #sent: Promise<void>;
  #entries = 0;
  #bytes = 0;
  #queued = 0;
  #batch: Buffer | undefined;
  #batched = 0;
  /** Bytes of the hashing ring copied into the batch, given back once it is sent. */
  #batchHeld = 0;
  #batchFlush: NodeJS.Immediate | undefined;
  #wake: (() => void) | undefined;
  /** Bytes of tar written to the response so far. */
  tarBytes = 0;

  readonly #hasher: HashThread;

  /**
   * `hasher` is a HashThread with `held` (the response gives its bytes back once sent), the
   * caller's: closed here only when the archive is cut.
   */
  constructor(private readonly res: ServerResponse, private readonly spoolFile: string, header: ManifestHeader, hasher: HashThread, private readonly signal: AbortSignal) {
    this.#hasher = hasher;
    // Failures reach the caller through the entry callbacks; an unheard 'error' event would throw.
    this.#pack.on('error', () => {});
    this.#spool = new ManifestSpool(spoolFile);
    this.#spool.line(`${JSON.stringify(header)}\n`);
    res.once('close', () => this.#wake?.());
    // When sending stops early the pack is destroyed, which fails the entry being written.
    this.#sent = this.#send().catch((error: unknown) => {
      this.#pack.destroy(error as Error);
      void this.#hasher.close();
      throw error;
    });
    this.#sent.catch(() => {});
  }

  /**
   * The pack's chunks go to the response, small ones (headers, paddings, small files) gathered
   * into one write of up to 64 KiB: each write is a chunk of the chunked answer, which the
   * client's HTTP parser hands over one by one (three per small file otherwise).
   */
  async #send(): Promise<void> {
    for await (const chunk of this.#pack as AsyncIterable<Buffer>) {
      this.tarBytes += chunk.length;
      // File bytes are views of the hashing ring, free for new reads once the socket has them.
      const held = this.#hasher.holds(chunk) ? chunk.length : 0;
      if (chunk.length >= batchBytes) {
        this.#writeBatch();
        this.#write(chunk, held);
      } else {
        if (this.#batched + chunk.length > batchBytes) this.#writeBatch();
        this.#batch ??= Buffer.allocUnsafe(batchBytes);
        chunk.copy(this.#batch, this.#batched);
        this.#batched += chunk.length;
        this.#batchHeld += held;
        // What the pack gives within one turn of the event loop goes out at its end.
        if (!this.#batchFlush) this.#batchFlush = setImmediate(() => this.#writeBatch());
      }
      if (this.#queued > responseQueueBytes && !this.res.destroyed) {
        this.#writeBatch();
        await new Promise<void>((resolve) => {
          this.#wake = () => { this.#wake = undefined; resolve(); };
        });
      }
      if (this.res.destroyed) throw new Error('the client went away');
    }
    this.#writeBatch();
  }

  #writeBatch(): void {
    if (this.#batchFlush) clearImmediate(this.#batchFlush);
    this.#batchFlush = undefined;
    if (!this.#batch || this.#batched === 0 || this.res.destroyed) return;
    this.#write(this.#batch.subarray(0, this.#batched), this.#batchHeld);
    this.#batch = undefined;
    this.#batched = 0;
    this.#batchHeld = 0;
  }

  /**
   * Bytes not yet handed to the socket are counted by their write callbacks (which come in the
   * order of the writes, so the ring's bytes are given back in the order they were claimed): the
   * pack goes on as soon as the queue is half flushed, rather than waiting for it to empty.
   */
  #write(data: Buffer, heldBytes: number): void {
    // An answer ended early (the unit stopped the backup) takes nothing more.
    if (this.res.writableEnded) return;
    this.#queued += data.length;
    this.res.write(data, () => {
      if (heldBytes > 0) this.#hasher.release(heldBytes);
      this.#queued -= data.length;
      if (this.#queued <= responseQueueBytes / 2) this.#wake?.();
    });
  }

  async directory(name: string, mtime: Date): Promise<void> {
    const { done } = this.#entry({ name, type: 'directory', mode: 0o755, mtime });
    await done;
    this.#record({ name, type: 'directory', size: 0, mtime: seconds(mtime) });
  }

  /** A small entry whose bytes are in memory (the registry). */
  async buffer(name: string, data: Buffer, mtime: Date, mode = 0o600): Promise<void> {
    await this.smallFile(name, (view, offset) => { data.copy(view, 0, offset, offset + view.length); }, data.length, mtime, mode);
  }

  /**
   * An entry of `size` bytes that `fill` writes, synchronously, into views of the hashing ring
   * (each from `offset` of the entry): small files are read in one call or two.
   */
  async smallFile(name: string, fill: (view: Buffer, offset: number) => void, size: number, mtime: Date, mode: number): Promise<void> {
    const { sink, done } = this.#entry({ name, type: 'file', size, mode: mode & 0o777, mtime });
    for (let offset = 0; offset < size;) {
      const view = await this.#hasher.claim(size - offset);
      fill(view, offset);
      this.#hasher.hash(view);
      offset += view.length;
      if (!sink.write(view)) await this.#drained(sink);
    }
    const sha256 = this.#hasher.digest();
    endSink(sink);
    await done;
    this.#record({ name, type: 'file', size, mtime: seconds(mtime) }, sha256);
  }

  /**
   * An open file of `size` bytes, streamed from its start into views of the hashing ring, with
   * the next chunks read (through the thread pool) while this one is sent; a file that becomes
   * shorter under the reader fails the backup.
   */
  async file(name: string, read: PositionedRead, size: number, mtime: Date, mode: number): Promise<void> {
    const { sink, done } = this.#entry({ name, type: 'file', size, mode: mode & 0o777, mtime });
    const fill = async (view: Buffer, position: number): Promise<Buffer> => {
      for (let filled = 0; filled < view.length;) {
        const bytesRead = await read(view.subarray(filled), position + filled);
        if (bytesRead === 0) throw new Error(`${name} became shorter while it was read`);
        filled += bytesRead;
      }
      return view;
    };
    const reads: Array<Promise<Buffer>> = [];
    let claimed = 0;
    const readAhead = async () => {
      while (reads.length < readAheadChunks && claimed < size) {
        const view = await this.#hasher.claim(Math.min(chunkBytes, size - claimed));
        const filled = fill(view, claimed);
        // A read ahead that the loop leaves behind (the backup stopped) must not go unheard.
        filled.catch(() => {});
        reads.push(filled);
        claimed += view.length;
      }
    };
    await readAhead();
    while (reads.length > 0) {
      this.signal.throwIfAborted();
      const data = await reads.shift()!;
      this.#hasher.hash(data);
      // Reads ahead before the write, so that no 'drain' can come while this waits for room.
      await readAhead();
      if (!sink.write(data)) await this.#drained(sink);
    }
    const sha256 = this.#hasher.digest();
    endSink(sink);
    await done;
    this.#record({ name, type: 'file', size, mtime: seconds(mtime) }, sha256);
  }

  /** Writes the manifest as the last entry and ends the archive. */
  async finish(): Promise<ManifestTrailer> {
    const trailer: ManifestTrailer = { entries: this.#entries, bytes: this.#bytes };
    const size = await this.#spool.end(`${JSON.stringify(trailer)}\n`);
    const { sink, done } = this.#entry({ name: manifestName, type: 'file', size, mode: 0o644, mtime: new Date() });
    const source = createReadStream(this.spoolFile, { highWaterMark: chunkBytes });
    for await (const chunk of source as AsyncIterable<Buffer>) {
      if (!sink.write(chunk)) await this.#drained(sink);
    }
    endSink(sink);
    await done;
    this.#pack.finalize();
    await this.#sent;
    return trailer;
  }

  /** Stops the archive where it is: the response is cut, so no client takes it for whole. */
  abort(error: Error): void {
    if (this.#batchFlush) clearImmediate(this.#batchFlush);
    this.#batch = undefined;
    this.#batched = 0;
    this.#pack.destroy(error);
    this.#spool.destroy();
    void this.#hasher.close();
  }

  /** Counts the entry now; its line follows the earlier ones once `sha256` (files) is known. */
  #record(entry: ManifestEntry, sha256?: Promise<string>): void {
    this.#entries += 1;
    this.#bytes += entry.size;
    this.#spool.record(entry, sha256);
  }

  async #drained(sink: Sink): Promise<void> {
    const gone = () => sink.destroying || sink.destroyed;
    if (!gone()) await nextEvent(sink, 'drain');
    if (gone()) throw new Error('the archive was cut');
  }

  /** A new entry, and the promise that it is wholly in the archive (or why it is not). */
  #entry(header: Parameters<tar.Pack['entry']>[0]): { sink: Sink; done: Promise<void> } {
    let settle!: (error?: Error | null) => void;
    const done = new Promise<void>((resolve, reject) => { settle = (error) => (error ? reject(error) : resolve()); });
    // A backup that stops half-way never awaits the entry it was writing.
    done.catch(() => {});
    // Throws when the archive was cut already: the caller's backup stops there.
    const sink = this.#pack.entry(header, settle);
    sink.on('error', () => {});
    return { sink, done };
  }
}

interface Emitter {
  once(event: string, listener: (...args: unknown[]) => void): unknown;
  off(event: string, listener: (...args: unknown[]) => void): unknown;
}

/** Resolves on `event`, or once the emitter closes or fails (its listeners removed either way). */
function nextEvent(emitter: Emitter, event: string): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      emitter.off(event, done);
      emitter.off('close', done);
      emitter.off('error', done);
      resolve();
    };
    emitter.once(event, done);
    emitter.once('close', done);
    emitter.once('error', done);
  });
}

/** streamx's typings make the last chunk of `end` required; it is optional. */
function endSink(sink: Sink): void {
  (sink as unknown as { end(): void }).end();
}

function seconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}
