// Threads kept from one job to the next for a while. A new thread's code is compiled afresh: on the
// 10,000-file bench cell, that compilation (on V8's background threads) and the threads' cold code
// cost about 0.4 s of CPU per import or export, on a machine of two cores. One set is kept, for
// `idleMs` after its last job; a set that failed is closed instead, and so is one given back while
// another is kept.

/** How long a set is kept after its job, for the next one. */
export const keptThreadsMs = 60_000;

/** A set of threads a job uses and KeptThreads keeps between jobs. */
export interface Restable {
  /** A thread failed or stopped: the set is closed, never used again. */
  readonly failed: boolean;
  /** Between two jobs: the threads no longer keep the process alive. */
  rest(): void;
  /** Back at work after `rest`. */
  wake(): void;
  close(): Promise<void>;
}

export class KeptThreads<T extends Restable> {
  #idle: T | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(private readonly create: () => T, private readonly idleMs: number) {}

  /** Threads for a job: the set kept, or a new one (also when the kept one failed while it rested). */
  take(): T {
    const idle = this.#idle;
    if (!idle || this.#closed) return this.create();
    this.#idle = undefined;
    clearTimeout(this.#timer);
    if (idle.failed) {
      void idle.close();
      return this.create();
    }
    idle.wake();
    return idle;
  }

  /** The job is done with `threads`: kept when sound and none is kept yet, else closed. */
  async give(threads: T): Promise<void> {
    if (threads.failed || this.#idle || this.#closed) {
      await threads.close();
      return;
    }
    threads.rest();
    this.#idle = threads;
    this.#timer = setTimeout(() => void this.#closeIdle(), this.idleMs);
    this.#timer.unref();
  }

  /** Closes the set kept; later jobs get threads of their own, closed after them. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#closeIdle();
  }

  async #closeIdle(): Promise<void> {
    const idle = this.#idle;
    this.#idle = undefined;
    clearTimeout(this.#timer);
    await idle?.close();
  }
}
