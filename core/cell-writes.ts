// The writes under way in each cell. An export must read, and an import must replace, a cell that
// no write is touching: the state machine turns new writes away once the job is accepted, and the
// job then waits here for the writes that were already past the gate, for a bounded time.
export class CellWrites {
  readonly #running = new Map<string, number>();
  readonly #waiters = new Map<string, Set<() => void>>();

  /** Counts a write to the cell; the returned function ends it (once, however often it is called). */
  begin(cellId: string): () => void {
    this.#running.set(cellId, (this.#running.get(cellId) ?? 0) + 1);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      const left = (this.#running.get(cellId) ?? 1) - 1;
      if (left > 0) {
        this.#running.set(cellId, left);
        return;
      }
      this.#running.delete(cellId);
      for (const wake of this.#waiters.get(cellId) ?? []) wake();
      this.#waiters.delete(cellId);
    };
  }

  running(cellId: string): number {
    return this.#running.get(cellId) ?? 0;
  }

  /** True once no write runs in the cell; false when some still do after `timeoutMs`. */
  async drained(cellId: string, timeoutMs: number): Promise<boolean> {
    if (this.running(cellId) === 0) return true;
    return new Promise<boolean>((resolve) => {
      const waiters = this.#waiters.get(cellId) ?? new Set<() => void>();
      this.#waiters.set(cellId, waiters);
      const wake = () => { clearTimeout(timer); resolve(true); };
      const timer = setTimeout(() => { waiters.delete(wake); resolve(false); }, timeoutMs);
      waiters.add(wake);
    });
  }
}
