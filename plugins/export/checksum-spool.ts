// 00_checksums.json grows with the number of files, so it is written to a hidden file beside the
// zip as entries complete, not kept in memory: a cell of a million files costs no more memory than
// one of ten. The spool is one JSON object, `{"<entry>":{"size":N,"sha256":"<hex>"},...}`.
import { createWriteStream, type WriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { finished } from 'node:stream/promises';

export class ChecksumSpool {
  readonly #stream: WriteStream;
  readonly #closed: Promise<void>;
  #count = 0;
  /** Lines not yet written: written in blocks, not one small write per entry. */
  #pending = '';

  constructor(readonly file: string) {
    this.#stream = createWriteStream(file, { flags: 'wx', mode: 0o600 });
    this.#closed = finished(this.#stream);
    this.#closed.catch(() => {});
    this.#pending = '{';
  }

  add(name: string, size: number, sha256: string): void {
    this.#pending += `${this.#count === 0 ? '' : ','}${JSON.stringify(name)}:${JSON.stringify({ size, sha256 })}`;
    this.#count += 1;
    if (this.#pending.length >= 64 * 1024) {
      this.#stream.write(this.#pending);
      this.#pending = '';
    }
  }

  /** Ends the object and returns the spool's size in bytes. */
  async close(): Promise<number> {
    this.#stream.end(`${this.#pending}}`);
    this.#pending = '';
    await this.#closed;
    return (await stat(this.file)).size;
  }

  async remove(): Promise<void> {
    this.#stream.destroy();
    await this.#closed.catch(() => {});
    await rm(this.file, { force: true });
  }
}
