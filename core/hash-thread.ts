// SHA-256 on a thread of its own, so that hashing a stream overlaps the reading and sending of
// the same bytes on the main thread (the unit backup's: SHA-256 alone took about as long as the
// rest of its stream). The bytes are in a ring of shared memory that the thread (hash-worker.mjs)
// reads in place, never copied: a sender reads files straight into views of the ring (claim),
// hands each view to be hashed and, with `held`, gives the bytes back (release) once it has sent
// them. (Copying bytes in cost about half as much as hashing them, measured on this machine.)
// Streams are hashed one after the other: digest() ends one and starts the next. Memory is the
// ring, whatever the size of what is hashed. A thread whose streams all ended can be kept for the
// next job (core/kept-threads.ts).
import { Worker } from 'node:worker_threads';
import type { Restable } from './kept-threads.ts';
import { repositoryFile } from './repository-files.ts';

/** The shared ring: what may be read but not yet hashed (or, held, not yet sent). */
export const ringBytes = 8 * 1024 * 1024;
/** Commands the queue holds (ranges to hash, ends of streams), and digests not yet read. */
const slots = 16384;
const counter = { hashed: 0, posted: 1, done: 2, digests: 3, sleeping: 4 };
/** A claim or digest posts at most this many commands. */
const commandsPerCall = 4;
/** Bytes gathered before they are posted: small pieces (a socket's 64 KiB) make fewer commands. */
const postBytes = 256 * 1024;
/** How often a wait on the thread looks again whether the thread failed. */
const waitMs = 1000;
/**
 * A sleeping thread is woken once this much work is queued, or when the main thread waits for it
 * (or every few milliseconds while digests are due): a wake is a system call and a switch of
 * threads, which cost more than the hash of a small file.
 */
const wakeCommands = 1024;
const wakeBytes = 2 * 1024 * 1024;
const digestPollMs = 5;

type WaitAsync = (array: Int32Array, index: number, value: number, timeout: number) => { async: boolean; value: Promise<string> | string };
// In node since version 16; the TypeScript library of this project (es2023) does not declare it yet.
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

export class HashThread implements Restable {
  readonly #worker: Worker;
  readonly #shared = new SharedArrayBuffer(ringBytes);
  readonly #ring = Buffer.from(this.#shared);
  /** The counters of `counter`, modulo 2^32 (as every count below). */
  readonly #control = new Int32Array(new SharedArrayBuffer(20));
  readonly #commands = new Int32Array(new SharedArrayBuffer(slots * 8));
  readonly #results = Buffer.from(new SharedArrayBuffer(slots * 32));
  /** Bytes claimed so far. */
  #claimed = 0;
  /** Bytes the caller gave back so far (with `held`). */
  #released = 0;
  #posted = 0;
  #digestsRead = 0;
  #digestsPosted = 0;
  /** The end of a stream waiting for room in the queue, if any. */
  #posting: Promise<void> | undefined;
  #head = 0;
  #pendingFrom = 0;
  #pending = 0;
  #wakeClaim: (() => void) | undefined;
  readonly #digests: Array<{ resolve(hex: string): void; reject(error: Error): void }> = [];
  #watching = false;
  #unwokenCommands = 0;
  #unwokenBytes = 0;
  #failure: Error | undefined;
  /** Bytes were hashed since the last digest. */
  #streamOpen = false;

  /** With `held`, claimed bytes stay in use until the caller releases them too. */
  constructor(private readonly options: { held?: boolean } = {}) {
    const workerData = {
      ring: this.#shared, control: this.#control.buffer, commands: this.#commands.buffer, results: this.#results.buffer, layout: { slots, counter },
    };
    this.#worker = new Worker(repositoryFile('core/hash-worker.mjs'), { workerData, execArgv: [] });
    this.#worker.once('error', (error) => this.#fail(error));
    this.#worker.once('exit', (code) => this.#fail(new Error(`the hashing thread ended with code ${code}`)));
  }

  /** Whether `data` is a view of this ring (bytes a sender releases once sent). */
  holds(data: Buffer): boolean {
    return data.buffer === this.#shared;
  }

  /**
   * A view of free bytes of the ring, `max` long or shorter at the ring's end; waits for room.
   * Views must be hashed, and with `held` released, in the order they were claimed.
   */
  async claim(max: number): Promise<Buffer> {
    while (this.#posting) await this.#posting;
    for (;;) {
      if (this.#failure) throw this.#failure;
      const room = Math.min(ringBytes - this.#used(), ringBytes - this.#head, max);
      if (room > 0 && this.#queueRoom()) {
        const view = this.#ring.subarray(this.#head, this.#head + room);
        this.#head = (this.#head + room) % ringBytes;
        this.#claimed = (this.#claimed + room) | 0;
        return view;
      }
      this.#post();
      this.#wake();
      await (room > 0 ? this.#commandsDone() : this.#room());
    }
  }

  /** Hands a claimed view, whole, to be hashed. */
  hash(view: Buffer): void {
    this.#streamOpen = true;
    if (this.#pending > 0 && view.byteOffset !== this.#pendingFrom + this.#pending) this.#post();
    if (this.#pending === 0) this.#pendingFrom = view.byteOffset;
    this.#pending += view.length;
    if (this.#pending >= postBytes || view.byteOffset + view.length === ringBytes) this.#post();
  }

  /** Gives back the oldest `length` claimed bytes (with `held`), once they are sent. */
  release(length: number): void {
    this.#released = (this.#released + length) | 0;
    this.#wakeClaim?.();
  }

  /**
   * The hex SHA-256 of the bytes hashed since the previous digest. When the queue is full, the
   * end of the stream is posted later, and claims wait for it.
   */
  digest(): Promise<string> {
    if (this.#failure) return Promise.reject(this.#failure);
    this.#streamOpen = false;
    const digest = new Promise<string>((resolve, reject) => this.#digests.push({ resolve, reject }));
    if (!this.#posting && this.#digestRoom()) this.#postDigest();
    else {
      const posting: Promise<void> = (this.#posting ?? Promise.resolve()).then(async () => {
        while (!this.#digestRoom()) {
          if (this.#failure) throw this.#failure;
          this.#post();
          this.#wake();
          await this.#commandsDone();
          this.#readDigests();
        }
        this.#postDigest();
      }).finally(() => {
        if (this.#posting === posting) this.#posting = undefined;
      });
      posting.catch(() => {});
      this.#posting = posting;
    }
    return digest;
  }

  #digestRoom(): boolean {
    return this.#queueRoom() && (this.#digestsPosted - this.#digestsRead) >>> 0 < slots - 1;
  }

  #postDigest(): void {
    this.#post();
    this.#command(0, -1);
    this.#digestsPosted = (this.#digestsPosted + 1) | 0;
    this.#watch();
  }

  /**
   * Failed or closed, or left with a stream under way (a job cut short): bytes claimed and not
   * hashed or given back, a stream without its digest, digests not yet read. Not for another job.
   */
  get failed(): boolean {
    const unreleased = this.options.held === true && this.#claimed !== this.#released;
    const unhashed = this.#claimed !== Atomics.load(this.#control, counter.hashed);
    return this.#failure !== undefined || this.#streamOpen || this.#pending > 0 || this.#posting !== undefined || this.#digests.length > 0 || unreleased || unhashed;
  }

  /** Kept between jobs: the thread does not keep the process alive. */
  rest(): void {
    this.#worker.unref();
  }

  wake(): void {
    this.#worker.ref();
  }

  async close(): Promise<void> {
    this.#fail(new Error('the hashing thread was closed'));
    await this.#worker.terminate();
  }

  #used(): number {
    const hashing = (this.#claimed - Atomics.load(this.#control, counter.hashed)) >>> 0;
    return this.options.held ? Math.max(hashing, (this.#claimed - this.#released) >>> 0) : hashing;
  }

  #queueRoom(): boolean {
    return (this.#posted - Atomics.load(this.#control, counter.done)) >>> 0 <= slots - commandsPerCall;
  }

  #post(): void {
    if (this.#pending === 0) return;
    this.#command(this.#pendingFrom, this.#pending);
    this.#pending = 0;
  }

  #command(offset: number, length: number): void {
    const at = ((this.#posted >>> 0) % slots) * 2;
    this.#commands[at] = offset;
    this.#commands[at + 1] = length;
    this.#posted = (this.#posted + 1) | 0;
    Atomics.store(this.#control, counter.posted, this.#posted);
    this.#unwokenCommands += 1;
    this.#unwokenBytes += Math.max(length, 0);
    if (this.#unwokenCommands >= wakeCommands || this.#unwokenBytes >= wakeBytes) this.#wake();
  }

  #wake(): void {
    if (this.#unwokenCommands === 0) return;
    this.#unwokenCommands = 0;
    this.#unwokenBytes = 0;
    if (Atomics.load(this.#control, counter.sleeping) === 1) Atomics.notify(this.#control, counter.posted);
  }

  /** Resolves the digests the thread has written, in order. */
  #readDigests(): void {
    const written = Atomics.load(this.#control, counter.digests);
    while (this.#digestsRead !== written && this.#digests.length > 0) {
      const at = ((this.#digestsRead >>> 0) % slots) * 32;
      this.#digests.shift()!.resolve(this.#results.toString('hex', at, at + 32));
      this.#digestsRead = (this.#digestsRead + 1) | 0;
    }
  }

  /** Looks every few milliseconds, while digests are due, for those the thread has written. */
  #watch(): void {
    if (this.#watching) return;
    this.#watching = true;
    const look = () => {
      this.#readDigests();
      if (this.#digests.length === 0 || this.#failure) {
        this.#watching = false;
        return;
      }
      this.#post();
      this.#wake();
      setTimeout(look, digestPollMs);
    };
    setTimeout(look, digestPollMs);
  }

  async #commandsDone(): Promise<void> {
    const wait = waitAsync(this.#control, counter.done, Atomics.load(this.#control, counter.done), waitMs);
    if (wait.async) await wait.value;
  }

  /** Waits for the thread to hash, or the caller to release, some bytes (or for a failure). */
  async #room(): Promise<void> {
    const hashed = Atomics.load(this.#control, counter.hashed);
    const byHash = (this.#claimed - hashed) >>> 0;
    if (this.options.held && (this.#claimed - this.#released) >>> 0 >= byHash) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => this.#wakeClaim?.(), waitMs);
        this.#wakeClaim = () => { clearTimeout(timer); this.#wakeClaim = undefined; resolve(); };
      });
      return;
    }
    const wait = waitAsync(this.#control, counter.hashed, hashed, waitMs);
    if (wait.async) await wait.value;
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    this.#wakeClaim?.();
    for (const waiting of this.#digests.splice(0)) waiting.reject(this.#failure);
  }
}
