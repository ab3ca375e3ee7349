// Writes an import's small files on threads of their own. Creating a file costs 0.05-0.4 ms of
// kernel time on an ext4 disk; done on the main thread it held inflating and hashing back, and
// done through the thread pool it cost three round trips (open, write, close) per file. Here the
// main thread reads, inflates and hashes while these threads create and write, with synchronous
// calls and no round trip per call. That kernel time is most of an import of small files, and
// files in different folders are created in parallel by the kernel: there are two threads, and
// each resource folder (its folder entry, `.pmeta` and `content`) goes to one of them, chosen by
// its name. Requests go over a few at a time: as soon as `batchFiles` are
// waiting, and at the end of each turn of the event loop for the rest. (Sent only at the end of
// each turn, the two threads took turns: the writer waited while the main thread refilled every
// free slot, then the main thread waited for the whole batch.) Extraction of the bench corpus,
// measured in the same hour: ~3.2 s through the thread pool, ~2.7 s on this thread with a batch
// per turn, ~2.2 s with batches of 4. The data goes over
// in buffers of a few sizes that come back with the answers and are used again, so that memory
// does not fill with buffers waiting for the writer thread's garbage collector.
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { repositoryFile } from '../../core/repository-files.ts';
import { DamagedEntryError } from './inflate-entry.mjs';

/** Which digest of a file the thread computes. */
export type DigestKind = 'sha256' | 'crc32';

interface Request {
  id: number;
  target: string;
  /** A copy the thread takes over; absent for a folder. */
  data?: Uint8Array;
  /** The data is deflated and expands to `size` bytes. */
  deflated?: boolean;
  size?: number;
  digest?: DigestKind;
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
  /** The data did not expand to its declared size (the message says how). */
  damaged?: boolean;
  /** The request's buffer, given back. */
  buffer?: ArrayBuffer;
  size?: number;
  sha256?: Uint8Array;
  crc32?: number;
}

/** What the thread wrote: the file's size and the digest asked for. */
export interface Expanded {
  size: number;
  sha256?: Buffer;
  crc32?: number;
}


type RequestFields = Omit<Request, 'id' | 'target' | 'data'>;

/** Requests sent at once to a thread when they come faster than turns of the event loop. */
const batchFiles = 4;
/** Writer threads. */
const threads = 2;
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

/** Which of `count` threads a folder's requests go to (a string hash, FNV-1a). */
function laneOf(folder: string, count: number): number {
  let hash = 0x811c9dc5;
  for (let at = 0; at < folder.length; at += 1) hash = Math.imul(hash ^ folder.charCodeAt(at), 0x01000193);
  return (hash >>> 0) % count;
}

/** The request fields of `options` (absent ones left out: a message carries every key it has). */
function fieldsOf(options: WriteOptions): RequestFields {
  const fields: RequestFields = {};
  if (options.mode !== undefined) fields.mode = options.mode;
  if (options.mtime !== undefined) fields.mtimeMs = options.mtime.getTime();
  return fields;
}

/** One writer thread and the requests gathered for it. */
interface Lane {
  worker: Worker;
  batch: Request[];
  transfers: ArrayBuffer[];
  flushing: boolean;
}

export class FileWriters {
  readonly #lanes: Lane[];
  readonly #waiting = new Map<number, { resolve: (answer: Answer) => void; reject: (error: Error) => void }>();
  readonly #spares = new Map<number, ArrayBuffer[]>();
  #nextId = 0;
  #failure: Error | undefined;

  constructor() {
    this.#lanes = Array.from({ length: threads }, () => this.#lane());
  }

  #lane(): Lane {
    const worker = new Worker(repositoryFile('plugins/import/file-writer-worker.mjs'), { execArgv: [] });
    worker.on('message', (answers: Answer[]) => {
      for (const answer of answers) {
        const { id, code, message, buffer } = answer;
        if (buffer) this.#giveBack(buffer);
        const waiting = this.#waiting.get(id);
        this.#waiting.delete(id);
        if (code === undefined && message === undefined) waiting?.resolve(answer);
        else if (answer.damaged) waiting?.reject(new DamagedEntryError(message));
        else waiting?.reject(Object.assign(new Error(message ?? 'the file could not be written'), { code }));
      }
    });
    worker.on('error', (error: Error) => this.#stop(error));
    worker.on('exit', () => this.#stop(new Error('a file writer thread stopped')));
    return { worker, batch: [], transfers: [], flushing: false };
  }

  /** Creates `target` ('wx') with a copy of `data`; its folder is made when missing. */
  async write(target: string, data: Buffer, options: WriteOptions = {}): Promise<void> {
    await this.#file(target, data, fieldsOf(options));
  }

  /**
   * Creates `target` ('wx') with what a zip entry's raw bytes hold: inflated when `deflated`
   * (to exactly `size` bytes, or a DamagedEntryError), measured with `digest`, written.
   */
  async expand(target: string, raw: Buffer, fields: { deflated: boolean; size: number; digest: DigestKind }): Promise<Expanded> {
    const { size, sha256, crc32 } = await this.#file(target, raw, fields);
    return { size: size!, crc32, sha256: sha256 && Buffer.from(sha256.buffer, sha256.byteOffset, sha256.byteLength) };
  }

  #file(target: string, data: Buffer, fields: RequestFields): Promise<Answer> {
    // A copy, made before this returns: `data` may be a view into a buffer the caller reuses.
    const size = bufferSizeFor(data.length);
    const copy = new Uint8Array(this.#spares.get(size)?.pop() ?? new ArrayBuffer(size), 0, data.length);
    copy.set(data);
    const lane = this.#lanes[laneOf(path.dirname(target), this.#lanes.length)]!;
    lane.transfers.push(copy.buffer);
    return this.#send(lane, { target, data: copy, ...fields });
  }

  /** Spare buffers now held, in bytes. */
  get spareBytes(): number {
    let bytes = 0;
    for (const [size, spares] of this.#spares) bytes += size * spares.length;
    return bytes;
  }

  /** Makes the folder `target` (and any missing above it). */
  async mkdir(target: string, options: WriteOptions = {}): Promise<void> {
    await this.#send(this.#lanes[laneOf(target, this.#lanes.length)]!, { target, ...fieldsOf(options) });
  }

  /** Ends the threads; requests still waiting fail. */
  async close(): Promise<void> {
    this.#stop(new Error('the file writer threads were closed'));
    await Promise.all(this.#lanes.map((lane) => lane.worker.terminate()));
  }

  #send(lane: Lane, request: Omit<Request, 'id'>): Promise<Answer> {
    if (this.#failure) return Promise.reject(this.#failure);
    const id = this.#nextId++;
    const done = new Promise<Answer>((resolve, reject) => this.#waiting.set(id, { resolve, reject }));
    lane.batch.push({ id, ...request });
    if (lane.batch.length >= batchFiles) this.#post(lane);
    else if (!lane.flushing) {
      lane.flushing = true;
      setImmediate(() => {
        lane.flushing = false;
        this.#post(lane);
      });
    }
    return done;
  }

  #post(lane: Lane): void {
    if (lane.batch.length === 0 || this.#failure) return;
    lane.worker.postMessage(lane.batch, lane.transfers);
    lane.batch = [];
    lane.transfers = [];
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
