// Cells held still for a reader that is not a job (the unit backup): while a cell is held every
// write to it gets 409 PR409-CM-0002 naming the holder, and no export or import may start on it.
// Holds live in memory only: a server that stops ends them, and nothing is left to recover.
export class CellHolds {
  readonly #held = new Map<string, { holder: string; count: number }>();

  /** Holds the cell for `holder`; the returned function releases it (once, however often it is called). */
  hold(cellId: string, holder: string): () => void {
    const current = this.#held.get(cellId);
    if (current) current.count += 1;
    else this.#held.set(cellId, { holder, count: 1 });
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const entry = this.#held.get(cellId);
      if (!entry) return;
      entry.count -= 1;
      if (entry.count === 0) this.#held.delete(cellId);
    };
  }

  /** What holds the cell (`unit backup`), or undefined when nothing does. */
  holderOf(cellId: string): string | undefined {
    return this.#held.get(cellId)?.holder;
  }
}
