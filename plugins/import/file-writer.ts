// Writes an import's small files on a thread of their own. Creating a file costs about 0.25 ms of
// kernel time on an ext4 disk; done on the main thread it held inflating and hashing back, and
// done through the thread pool it cost three round trips (open, write, close) per file. Here the
// main thread reads, inflates and hashes while this thread creates and writes, with synchronous
// calls and no round trip per call. Requests go over a few at a time: as soon as `batchFiles` are
// waiting, and at the end of each turn of the event loop for the rest. (Sent only at the end of
// each turn, the two threads took turns: the writer waited while the main thread refilled every
// free slot, then the main thread waited for the whole batch.) Extraction of the bench corpus,
// measured in the same hour: ~3.2 s through the thread pool, ~2.7 s on this thread with a batch
// per turn, ~2.2 s with batches of 4. The data goes over
// in buffers of a few sizes that come back with the answers and are used again, so that memory
// does not fill with buffers waiting for the writer thread's garbage collector.
import { Worker } from 'node:worker_threads';
import { repositoryFile } from '../../core/repository-files.ts';

interface Request {
  id: number;
  target: string;
  /** A copy the thread takes over; absent for a folder. */
  data?: Uint8Array;
  mode?: number;
  mtimeMs?: number;
}

/** A new file's or folder's mode (0o600 for files, the process's default for folders) and a file's time. */
export interface WriteOptions {
  mode?: number;
  mtime?: Date;
}

interface Answer {
  id: number;
  code?: string;
  message?: string;
  /** The request's buffer, given back. */
  buffer?: ArrayBuffer;
}

/** Requests sent at once when they come faster than turns of the event loop. */
const batchFiles = 4;
/** The smallest buffer size: files are copied into buffers of a power of two from here up. */
const smallestBuffer = 4 * 1024;
/** Spare buffers kept per size. */
const sparesPerSize = 8;

/** The buffer size for `length` bytes: a power of two, at least smallestBuffer. */
export function bufferSizeFor(length: number): number {
  let size = smallestBuffer;
  while (size < length) size *= 2;
  return size;
}

export class FileWriterThread {
  readonly #worker: Worker;
  readonly #waiting = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  readonly #spares = new Map<number, ArrayBuffer[]>();
  #batch: Request[] = [];
  #transfers: ArrayBuffer[] = [];
  #nextId = 0;
  #flushing = false;
  #failure: Error | undefined;

  constructor() {
    this.#worker = new Worker(repositoryFile('plugins/import/file-writer-worker.mjs'), { execArgv: [] });
    this.#worker.on('message', (answers: Answer[]) => {
      for (const { id, code, message, buffer } of answers) {
        if (buffer) this.#giveBack(buffer);
        const waiting = this.#waiting.get(id);
        this.#waiting.delete(id);
        if (code === undefined && message === undefined) waiting?.resolve();
        else waiting?.reject(Object.assign(new Error(message ?? 'the file could not be written'), { code }));
      }
    });
    this.#worker.on('error', (error: Error) => this.#stop(error));
    this.#worker.on('exit', () => this.#stop(new Error('the file writer thread stopped')));
  }

  /** Creates `target` ('wx') with a copy of `data`; its folder is made when missing. */
  async write(target: string, data: Buffer, options: WriteOptions = {}): Promise<void> {
    // A copy, made before this returns: `data` may be a view into a buffer the caller reuses.
    const size = bufferSizeFor(data.length);
    const copy = new Uint8Array(this.#spares.get(size)?.pop() ?? new ArrayBuffer(size), 0, data.length);
    copy.set(data);
    this.#transfers.push(copy.buffer);
    await this.#send(target, copy, options);
  }

  /** Spare buffers now held, in bytes. */
  get spareBytes(): number {
    let bytes = 0;
    for (const [size, spares] of this.#spares) bytes += size * spares.length;
    return bytes;
  }

  async mkdir(target: string, options: WriteOptions = {}): Promise<void> {
    await this.#send(target, undefined, options);
  }

  /** Ends the thread; requests still waiting fail. */
  async close(): Promise<void> {
    this.#stop(new Error('the file writer thread was closed'));
    await this.#worker.terminate();
  }

  #send(target: string, data: Uint8Array | undefined, options: WriteOptions): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    const id = this.#nextId++;
    const done = new Promise<void>((resolve, reject) => this.#waiting.set(id, { resolve, reject }));
    const request: Request = data === undefined ? { id, target } : { id, target, data };
    if (options.mode !== undefined) request.mode = options.mode;
    if (options.mtime !== undefined) request.mtimeMs = options.mtime.getTime();
    this.#batch.push(request);
    if (this.#batch.length >= batchFiles) this.#post();
    else if (!this.#flushing) {
      this.#flushing = true;
      setImmediate(() => {
        this.#flushing = false;
        this.#post();
      });
    }
    return done;
  }

  #post(): void {
    if (this.#batch.length === 0 || this.#failure) return;
    this.#worker.postMessage(this.#batch, this.#transfers);
    this.#batch = [];
    this.#transfers = [];
  }

  #giveBack(buffer: ArrayBuffer): void {
    const spares = this.#spares.get(buffer.byteLength) ?? [];
    if (spares.length < sparesPerSize) spares.push(buffer);
    this.#spares.set(buffer.byteLength, spares);
  }

  #stop(error: Error): void {
    this.#failure ??= error;
    for (const waiting of this.#waiting.values()) waiting.reject(this.#failure);
    this.#waiting.clear();
  }
}
