// Deflates an export's small entries on a second core. The export thread reads, hashes and writes
// the entries; deflating the compressible ones of 1-16 KiB took about a third of its time on a
// cell of small files (zlib's set-up costs about as much as deflating a few KiB). Their bytes go
// into a ring of shared memory that the thread (deflate-worker.mjs) deflates in place; commands
// and results go through shared counters, as the backup's hashing thread does (a message per
// entry cost more than the entry, measured). Entries are given back in the order they were
// submitted, as the zip writer writes them; when the ring or the queue is full, the export thread
// deflates the entry itself, so neither thread waits for the other. The thread also measures the
// cell's tree for the progress, first, while the export thread starts on the entries: walking the
// tree twice on one thread took a seventh of the export's time. One thread serves export after
// export of the export thread that keeps it (zip-thread-worker.ts): `measure` starts each one.
import { Worker } from 'node:worker_threads';
import type { TreeTotals } from './cell-tree.mjs';
import { incompressibleRatio } from './entry-reads.ts';
import { methodDeflated, methodStored } from './zip-records.ts';

export const ringBytes = 1024 * 1024;
/** Entries up to this size go to the thread: the small files it pays for (larger ones are deflated on the export thread, as before). */
export const threadEntryBytes = 16 * 1024;
/** Commands the queue holds. */
const slots = 4096;
/**
 * The shared counters: entries posted and done, whether the thread sleeps, the bell that wakes it,
 * and the measures asked for (twice their number: odd while a root is being written, even once it
 * is whole), with the root's length in bytes.
 */
const counter = { posted: 0, done: 1, sleeping: 2, bell: 3, measures: 4, rootBytes: 5 };
/** Room for the root to measure: a path of the longest Linux allows. */
const rootRoom = 4096;
const fields = { offset: 0, length: 1, windowBits: 2, count: 3 };
/** How often a wait on the thread looks again whether it failed. */
const waitMs = 1000;

type WaitAsync = (array: Int32Array, index: number, value: number, timeout: number) => { async: boolean; value: Promise<string> | string };
// In node since version 16; the TypeScript library of this project (es2023) does not declare it yet.
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

export interface DeflatedEntry {
  method: number;
  /** The entry's bytes as they go into the zip: a view of the ring, until release(). */
  data: Buffer;
}

export class DeflateThread {
  readonly #worker: Worker;
  readonly #shared = new SharedArrayBuffer(ringBytes);
  readonly #ring = Buffer.from(this.#shared);
  readonly #control = new Int32Array(new SharedArrayBuffer(Object.keys(counter).length * 4));
  /** Where the root to measure goes (the thread reads it when the measures counter moves). */
  readonly #root = Buffer.from(new SharedArrayBuffer(rootRoom));
  #measuring: { id: number; resolve: (totals: TreeTotals) => void; reject: (error: Error) => void } | undefined;
  readonly #commands = new Int32Array(new SharedArrayBuffer(slots * fields.count * 4));
  readonly #results = new Int32Array(new SharedArrayBuffer(slots * 8));
  #posted = 0;
  #released = 0;
  /** Where the next entry goes in the ring, and where the oldest one not given back starts. */
  #head = 0;
  #tail = 0;
  /** The ring offsets of the entries not given back, oldest first. */
  readonly #starts: number[] = [];
  #failure: Error | undefined;

  constructor(workerFile: URL, readonly options: { level: number; memLevel: number }) {
    const { level, memLevel } = options;
    const layout = { slots, counter, fields, level, memLevel, incompressibleRatio, methods: { stored: methodStored, deflated: methodDeflated } };
    const workerData = { ring: this.#shared, control: this.#control.buffer, commands: this.#commands.buffer, results: this.#results.buffer, root: this.#root.buffer, layout };
    this.#worker = new Worker(workerFile, { workerData, execArgv: [] });
    this.#worker.on('message', (message: { measured: number; totals?: TreeTotals; failed?: string }) => {
      const measuring = this.#measuring;
      // The answer to a measure that a later one replaced is not heard.
      if (measuring?.id !== message.measured) return;
      this.#measuring = undefined;
      if (message.totals) measuring.resolve(message.totals);
      else measuring.reject(new Error(message.failed));
    });
    this.#worker.once('error', (error) => this.#fail(error));
    this.#worker.once('exit', (code) => this.#fail(new Error(`the deflating thread ended with code ${code}`)));
  }

  /** Whether the thread failed or was closed: it serves no more exports. */
  get failed(): boolean {
    return this.#failure !== undefined;
  }

  /** The totals of the tree at `root`, measured on the thread whenever no entry waits; a measure still under way is dropped. */
  measure(root: string): Promise<TreeTotals> {
    this.#measuring?.reject(new Error('a later measure replaced this one'));
    const bytes = Buffer.from(root, 'utf8');
    const id = (Atomics.load(this.#control, counter.measures) + 2) | 0;
    const totals = new Promise<TreeTotals>((resolve, reject) => {
      this.#measuring = { id, resolve, reject };
    });
    totals.catch(() => {});
    if (bytes.length > rootRoom) this.#measuring!.reject(new Error(`a root of ${bytes.length} bytes is longer than a path may be`));
    else if (this.#failure) this.#fail(this.#failure);
    else {
      // Odd while the root is written: the thread takes no half-written root.
      Atomics.add(this.#control, counter.measures, 1);
      bytes.copy(this.#root);
      Atomics.store(this.#control, counter.rootBytes, bytes.length);
      Atomics.add(this.#control, counter.measures, 1);
      this.#ringBell();
    }
    return totals;
  }

  /** Between two exports: waits for the entries still on the thread (an export that failed leaves some) and forgets them. */
  async settle(): Promise<void> {
    if (this.#posted !== this.#released) await this.waitFor((this.#posted - 1) | 0);
    this.#released = this.#posted;
    this.#starts.length = 0;
    this.#head = this.#tail = 0;
  }

  /** Hands `bytes` (copied into the ring) to be deflated; undefined when there is no room now, or they are too many. */
  submit(bytes: Buffer, windowBits: number): number | undefined {
    if (this.#failure || bytes.length > threadEntryBytes || (this.#posted - this.#released) >>> 0 >= slots) return undefined;
    const start = this.#place(bytes.length);
    if (start === undefined) return undefined;
    bytes.copy(this.#ring, start);
    this.#starts.push(start);
    this.#head = start + bytes.length;
    const at = ((this.#posted >>> 0) % slots) * fields.count;
    this.#commands[at + fields.offset] = start;
    this.#commands[at + fields.length] = bytes.length;
    this.#commands[at + fields.windowBits] = windowBits;
    const sequence = this.#posted;
    this.#posted = (this.#posted + 1) | 0;
    Atomics.store(this.#control, counter.posted, this.#posted);
    this.#ringBell();
    return sequence;
  }

  /** Whether the entry `sequence` is deflated (or found not worth it). */
  done(sequence: number): boolean {
    return ((Atomics.load(this.#control, counter.done) - sequence) | 0) > 0;
  }

  /** The oldest entry not given back, which must be `sequence` and done. */
  oldest(sequence: number): DeflatedEntry {
    if (sequence !== this.#released || !this.done(sequence)) throw new Error(`deflated entries are taken in order: ${sequence} is not the oldest done`);
    const slot = (this.#released >>> 0) % slots;
    const start = this.#starts[0]!;
    const size = this.#results[slot * 2 + 1]!;
    return { method: this.#results[slot * 2]!, data: this.#ring.subarray(start, start + size) };
  }

  /** Gives back the oldest entry's room, once it is written. */
  release(): void {
    this.#starts.shift();
    this.#released = (this.#released + 1) | 0;
    this.#tail = this.#starts[0] ?? this.#head;
    if (this.#starts.length === 0) this.#head = this.#tail = 0;
  }

  /** Resolves once the entry `sequence` is done; rejects when the thread failed. */
  async waitFor(sequence: number): Promise<void> {
    for (;;) {
      if (this.#failure) throw this.#failure;
      const done = Atomics.load(this.#control, counter.done);
      if (((done - sequence) | 0) > 0) return;
      const wait = waitAsync(this.#control, counter.done, done, waitMs);
      if (wait.async) await wait.value;
    }
  }

  async close(): Promise<void> {
    this.#fail(new Error('the deflating thread was closed'));
    await this.#worker.terminate();
  }

  /** Where `length` bytes fit, after the newest entry or else from the ring's start. */
  #place(length: number): number | undefined {
    if (this.#starts.length === 0) return length <= ringBytes ? 0 : undefined;
    if (this.#head > this.#tail) {
      if (this.#head + length <= ringBytes) return this.#head;
      return length < this.#tail ? 0 : undefined;
    }
    return this.#head + length < this.#tail ? this.#head : undefined;
  }

  /**
   * Wakes the thread when it sleeps. It says so before it looks at the counters one last time and
   * then waits on the bell, so that whatever was stored before this is seen either by that look or
   * by the wait, which the bell's new value ends.
   */
  #ringBell(): void {
    if (Atomics.load(this.#control, counter.sleeping) !== 1) return;
    Atomics.add(this.#control, counter.bell, 1);
    Atomics.notify(this.#control, counter.bell);
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    Atomics.notify(this.#control, counter.done);
    const measuring = this.#measuring;
    this.#measuring = undefined;
    measuring?.reject(this.#failure);
  }
}
