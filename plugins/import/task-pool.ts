// At most `size` tasks at once: `add` waits for a free slot, so a loop over a million entries
// never holds more than `size` of them in flight. The first failure is kept and rethrown by the
// next `add` or by `drain`, after which no new task starts.
export class TaskPool {
  readonly #running = new Set<Promise<void>>();
  #failure: { error: unknown } | undefined;

  constructor(private readonly size: number) {}

  async add(task: () => Promise<void>): Promise<void> {
    while (this.#running.size >= this.size) await Promise.race(this.#running);
    this.#throwIfFailed();
    const running: Promise<void> = task()
      .catch((error: unknown) => { this.#failure ??= { error }; })
      .finally(() => this.#running.delete(running));
    this.#running.add(running);
  }

  /** Waits for every task started; throws the first failure. */
  async drain(): Promise<void> {
    await Promise.all(this.#running);
    this.#throwIfFailed();
  }

  #throwIfFailed(): void {
    if (this.#failure) throw this.#failure.error;
  }
}
