// An export's progress, weighted by bytes so that one large file moves it smoothly; each entry
// also weighs a little, so a cell of many empty files still advances. It stops at 99% until the
// zip has been renamed into place; the service reports 100% then. The totals come once the tree
// is measured, which goes on while the first entries are written: until then nothing is reported.
export const entryWeight = 512;

export class ExportProgress {
  #total: number | undefined;
  #done = 0;
  #lastPercent = -1;

  constructor(private readonly report: (percent: number) => void) {}

  /** What the whole export weighs: its file bytes and its entries. */
  total(totalBytes: number, totalEntries: number): void {
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
