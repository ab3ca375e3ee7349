// The job runner: exports and imports run in this process, at most `concurrency` at once across
// the unit; further jobs wait in order (their status shows 0% until they start). One job per
// cell is guaranteed by the cell state machine, not here. On shutdown every job is aborted
// through its signal, so it ends in a terminal state before the process exits.
import type { Logger } from 'pino';
import type { JobKind } from './store.ts';

export interface Job {
  cellId: string;
  kind: JobKind;
  name: string;
  /** Runs the job to its end; must settle the cell's state itself, also when `signal` aborts. */
  run(signal: AbortSignal): Promise<void>;
}

/**
 * A test seam of the export and import jobs, given when the server is built: awaited before each
 * entry goes into (or comes out of) the archive, with the entry's name and the job's signal.
 * Tests use it to hold a job in progress, or to make one fail, at a chosen point.
 */
export type BeforeEntryHook = (entry: string, signal: AbortSignal) => Promise<void>;

export class JobRunner {
  readonly #queue: Job[] = [];
  readonly #running = new Map<Job, { controller: AbortController; done: Promise<void> }>();
  #stopping = false;

  constructor(readonly concurrency: number, private readonly logger: Logger) {}

  submit(job: Job): void {
    this.#queue.push(job);
    if (this.#stopping) {
      this.#launch(this.#queue.shift()!, true);
      return;
    }
    this.#pump();
  }

  isWaiting(cellId: string): boolean {
    return this.#queue.some((job) => job.cellId === cellId);
  }

  /** Aborts every job, running or waiting, and waits until each has settled, for `timeoutMs` at most. */
  async stop(timeoutMs: number): Promise<void> {
    this.#stopping = true;
    while (this.#queue.length) this.#launch(this.#queue.shift()!, true);
    for (const { controller } of this.#running.values()) controller.abort(new Error('the server is stopping'));
    let timer: NodeJS.Timeout | undefined;
    const settled = Promise.all([...this.#running.values()].map(({ done }) => done)).then(() => true);
    const late = new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), timeoutMs); });
    const inTime = await Promise.race([settled, late]);
    clearTimeout(timer);
    // A job that does not settle in time is left to the restart: its record is still on disk.
    if (!inTime) this.logger.error({ running: this.#running.size }, 'jobs did not stop in time');
  }

  #pump(): void {
    while (!this.#stopping && this.#running.size < this.concurrency && this.#queue.length) {
      this.#launch(this.#queue.shift()!, false);
    }
  }

  #launch(job: Job, aborted: boolean): void {
    const controller = new AbortController();
    if (aborted) controller.abort(new Error('the server is stopping'));
    const done = Promise.resolve()
      .then(() => job.run(controller.signal))
      .catch((error: unknown) => {
        this.logger.error({ err: error, kind: job.kind, name: job.name }, 'job did not settle its own failure');
      })
      .finally(() => {
        this.#running.delete(job);
        this.#pump();
      });
    this.#running.set(job, { controller, done });
  }
}
