// An export's progress, weighted by bytes so that one large file moves it smoothly; each entry
// also weighs a little, so a cell of many empty files still advances. It stops at 99% until the
// zip has been renamed into place; the service reports 100% then. The totals may come after the
// first entries (the main thread measures the tree while the export thread writes it).
export const entryWeight = 512;

export class ExportProgress {
  /** Undefined until the tree is measured: nothing is reported before. */
  #total: number | undefined;
  #done = 0;
  #lastPercent = -1;

  /** Totals given later through setTotals (the tree is measured beside the export). */
  constructor(private readonly report: (percent: number) => void) {}

  setTotals(totalBytes: number, totalEntries: number): void {
    this.#total = Math.max(1, totalBytes + totalEntries * entryWeight);
    this.#publish();
  }

  readonly addBytes = (bytes: number): void => {
    this.#done += bytes;
    this.#publish();
  };

  addEntry(): void {
    this.#done += entryWeight;
    this.#publish();
  }

  #publish(): void {
    if (this.#total === undefined) return;
    const percent = Math.min(99, Math.floor((this.#done * 100) / this.#total));
    if (percent <= this.#lastPercent) return;
    this.#lastPercent = percent;
    this.report(percent);
  }
}
