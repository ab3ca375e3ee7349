// The small files and folders of a restore (bin/cellar/backup-archive.ts), in flight in batches: each write is already under
// way when it is added (the file writer threads have its bytes), and a batch is waited for as one
// once it holds `batchWrites` writes or `batchBytes` bytes, at most `batchesInFlight` at once.
// A promise and a slot per entry cost more than the write of a small file, at 30,000 entries.
// The first failure is kept and thrown by the next `add` or by `drain`.
import { TaskPool } from './task-pool.ts';

const batchWrites = 64;
const batchBytes = 4 * 1024 * 1024;
const batchesInFlight = 4;

export class WriteBatches {
  readonly #pool = new TaskPool(batchesInFlight);
  #writes: Array<Promise<void>> = [];
  #bytes = 0;

  /** Adds a write under way, of `bytes`; waits when the batches in flight are full. */
  async add(write: Promise<void>, bytes: number): Promise<void> {
    // Failures are Promise.all's to report, once the batch is waited for.
    write.catch(() => {});
    this.#writes.push(write);
    this.#bytes += bytes;
    if (this.#writes.length >= batchWrites || this.#bytes >= batchBytes) await this.#send();
  }

  /** Waits for every write added; throws the first failure. */
  async drain(): Promise<void> {
    await this.#send();
    await this.#pool.drain();
  }

  async #send(): Promise<void> {
    if (this.#writes.length === 0) return;
    const writes = this.#writes;
    this.#writes = [];
    this.#bytes = 0;
    await this.#pool.add(async () => { await Promise.all(writes); });
  }
}
