// A clock a test moves by hand: `advanceTo` fires every call that falls due on the way, in time
// order, and waits for each (a scheduled export run resolves once its export and retention ended).
import type { Clock } from '../../core/clock.ts';

interface Pending {
  at: number;
  order: number;
  run: () => Promise<void> | void;
}

export class FakeClock implements Clock {
  #now: number;
  #order = 0;
  readonly #pending = new Set<Pending>();

  constructor(start: Date | string) {
    this.#now = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.#now);
  }

  at(at: Date, run: () => Promise<void> | void): () => void {
    const pending: Pending = { at: at.getTime(), order: this.#order++, run };
    this.#pending.add(pending);
    return () => this.#pending.delete(pending);
  }

  /** The times of the calls waiting, earliest first. */
  pendingTimes(): string[] {
    return [...this.#pending].sort((a, b) => a.at - b.at || a.order - b.order).map((pending) => new Date(pending.at).toISOString());
  }

  /** Moves to `target`, firing and awaiting every call due by then (also those the calls arm), then stays there. */
  async advanceTo(target: Date | string): Promise<void> {
    const until = new Date(target).getTime();
    for (let fired = 0; fired < 10_000; fired++) {
      const due = [...this.#pending].filter((pending) => pending.at <= until).sort((a, b) => a.at - b.at || a.order - b.order)[0];
      if (!due) break;
      this.#pending.delete(due);
      this.#now = Math.max(this.#now, due.at);
      await due.run();
    }
    this.#now = Math.max(this.#now, until);
  }
}
