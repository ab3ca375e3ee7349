// Writes an import's small files on threads of their own. Creating a file costs 0.05-0.4 ms of
// kernel time on an ext4 disk, inflating and hashing a small one a few dozen microseconds more;
// done on the main thread, that held the walk of the central directory back. There are two
// threads, and each resource folder (its folder entry, `.pmeta` and `content`) goes to one of them,
// chosen by its name, so that files in different folders are created in parallel by the kernel.
// They take three kinds of work:
// - batches of an import's small zip entries (entry-batches.ts), which the thread reads itself from
//   the zip's descriptor, checks and writes, answering once per batch;
// - batches of a unit backup's entries (`copy`), read from the archive's descriptor, hashed and
//   written by the thread (a restore), or only hashed (a verify), answering once per batch;
// - single files (`write`: an import's rewritten `.pmeta`), sent a few at a time: as soon as `batchFiles` are waiting, and at the end of each turn of the
//   event loop for the rest. Their data goes over in buffers of a few sizes that come back with the
//   answers and are used again, so that memory does not fill with buffers waiting for the writer
//   thread's garbage collector.
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { KeptThreads, type Restable } from '../../core/kept-threads.ts';
import { repositoryFile } from '../../core/repository-files.ts';

interface Request {
  id: number;
  target: string;
  /** A copy the thread takes over. */
  data: Uint8Array;
}

interface Answer {
  id: number;
  code?: string;
  message?: string;
  /** The request's buffer, given back. */
  buffer?: ArrayBuffer;
}

/** Small zip entries for a thread to read from the zip's descriptor, check and write (laid out as entry-layout.mjs says). */
export interface EntryBatch {
  fd: number;
  /** The entries' targets, joined by NUL (which no name holds). */
  targets: string;
  numbers: Float64Array;
  /** The SHA-256 of each entry's checksum line, 32 bytes an entry; absent without a checksum list. */
  digests?: Uint8Array | undefined;
}

/** A unit backup's entries for a thread to read from the archive's descriptor and hash, written out when it has targets (laid out as copyFields says). */
export interface CopyBatch {
  fd: number;
  /** The entries' targets, joined by NUL; absent when they are only hashed. */
  targets?: string | undefined;
  numbers: Float64Array;
}

/** What a thread answers for a CopyBatch: each entry's SHA-256 (32 bytes an entry, up to the failure) and the first failure. */
export interface CopyResult {
  digests: Uint8Array;
  failure?: { index: number; message: string; code?: string };
}

/** The first entry of a batch that failed: damaged, not holding to its digest, or not written. */
export interface EntryFailure {
  index: number;
  kind: 'damaged' | 'digest' | 'io';
  message?: string;
  code?: string;
}


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

/** One writer thread and the requests gathered for it. */
interface Lane {
  worker: Worker;
  batch: Request[];
  transfers: ArrayBuffer[];
  flushing: boolean;
}

export class FileWriters implements Restable {
  readonly #lanes: Lane[];
  readonly #waiting = new Map<number, { resolve: (answer: Answer) => void; reject: (error: Error) => void }>();
  readonly #batches = new Map<number, { resolve: (failure: EntryFailure | undefined) => void; reject: (error: Error) => void }>();
  readonly #copies = new Map<number, { resolve: (result: CopyResult) => void; reject: (error: Error) => void }>();
  readonly #spares = new Map<number, ArrayBuffer[]>();
  #nextId = 0;
  #failure: Error | undefined;
  /** Which job's batches these are (rest). */
  #use = 0;

  constructor() {
    this.#lanes = Array.from({ length: threads }, () => this.#lane());
  }

  #lane(): Lane {
    const worker = new Worker(repositoryFile('plugins/import/file-writer-worker.mjs'), { execArgv: [] });
    worker.on('message', (answers: Answer[] | { batch: number; failure?: EntryFailure } | CopyResult & { copies: number }) => {
      if ('copies' in answers) {
        this.#copies.get(answers.copies)?.resolve(answers);
        this.#copies.delete(answers.copies);
        return;
      }
      if (!Array.isArray(answers)) {
        this.#batches.get(answers.batch)?.resolve(answers.failure);
        this.#batches.delete(answers.batch);
        return;
      }
      for (const answer of answers) {
        const { id, code, message, buffer } = answer;
        if (buffer) this.#giveBack(buffer);
        const waiting = this.#waiting.get(id);
        this.#waiting.delete(id);
        if (code === undefined && message === undefined) waiting?.resolve(answer);
        else waiting?.reject(Object.assign(new Error(message ?? 'the file could not be written'), { code }));
      }
    });
    worker.on('error', (error: Error) => this.#stop(error));
    worker.on('exit', () => this.#stop(new Error('a file writer thread stopped')));
    return { worker, batch: [], transfers: [], flushing: false };
  }

  /** Creates `target` ('wx', mode 0600) with a copy of `data`; its folder is made when missing. */
  async write(target: string, data: Buffer): Promise<void> {
    await this.#file(target, data);
  }

  /** How many threads write: lanes are numbered from 0. */
  get lanes(): number {
    return this.#lanes.length;
  }

  /** The thread that writes the entries of `folder` (and the folder itself). */
  laneOf(folder: string): number {
    return laneOf(folder, this.#lanes.length);
  }

  /** Hands `batch` to the thread `lane` (its arrays go over); resolves with its first failure, if any. */
  extract(lane: number, batch: EntryBatch): Promise<EntryFailure | undefined> {
    if (this.#failure) return Promise.reject(this.#failure);
    const id = this.#nextId++;
    const done = new Promise<EntryFailure | undefined>((resolve, reject) => this.#batches.set(id, { resolve, reject }));
    const transfer: ArrayBuffer[] = [batch.numbers.buffer as ArrayBuffer];
    if (batch.digests) transfer.push(batch.digests.buffer as ArrayBuffer);
    this.#lanes[lane]!.worker.postMessage({ batch: id, use: this.#use, ...batch }, transfer);
    return done;
  }

  get failed(): boolean {
    return this.#failure !== undefined;
  }

  /**
   * Between two imports: the next one's batches are a new use too, so that no thread reads a new
   * zip through what it kept of an old one opened with the same descriptor number.
   */
  rest(): void {
    this.#use += 1;
    for (const lane of this.#lanes) lane.worker.unref();
  }

  wake(): void {
    for (const lane of this.#lanes) lane.worker.ref();
  }

  /** Hands `batch` to the thread `lane` (its numbers go over); resolves with the digests and the first failure. */
  copy(lane: number, batch: CopyBatch): Promise<CopyResult> {
    if (this.#failure) return Promise.reject(this.#failure);
    const id = this.#nextId++;
    const done = new Promise<CopyResult>((resolve, reject) => this.#copies.set(id, { resolve, reject }));
    this.#lanes[lane]!.worker.postMessage({ copies: id, ...batch }, [batch.numbers.buffer as ArrayBuffer]);
    return done;
  }

  #file(target: string, data: Buffer): Promise<Answer> {
    // A copy, made before this returns: `data` may be a view into a buffer the caller reuses.
    const size = bufferSizeFor(data.length);
    const copy = new Uint8Array(this.#spares.get(size)?.pop() ?? new ArrayBuffer(size), 0, data.length);
    copy.set(data);
    const lane = this.#lanes[laneOf(path.dirname(target), this.#lanes.length)]!;
    lane.transfers.push(copy.buffer);
    return this.#send(lane, { target, data: copy });
  }

  /** Spare buffers now held, in bytes. */
  get spareBytes(): number {
    let bytes = 0;
    for (const [size, spares] of this.#spares) bytes += size * spares.length;
    return bytes;
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
    for (const waiting of [...this.#waiting.values(), ...this.#batches.values(), ...this.#copies.values()]) waiting.reject(this.#failure);
    this.#waiting.clear();
    this.#batches.clear();
    this.#copies.clear();
  }
}

/** An import's writer threads, kept a while for the next import (core/kept-threads.ts). */
export class FileWriterPool extends KeptThreads<FileWriters> {
  constructor(idleMs: number) {
    super(() => new FileWriters(), idleMs);
  }
}
