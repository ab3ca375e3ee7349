// 00_checksums.json grows with the number of files, so it is written to a hidden file beside the
// zip as entries complete, not kept in memory: a cell of a million files costs no more memory than
// one of ten. The spool is one JSON object, `{"<entry>":{"size":N,"sha256":"<hex>"},...}`. It is
// written with synchronous calls: it runs on the export's own thread, in blocks of 64 KiB.
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';

const blockChars = 64 * 1024;

export class ChecksumSpool {
  readonly #fd: number;
  #count = 0;
  #size = 0;
  #closed = false;
  /** Text not yet written. */
  #pending = '{';

  constructor(readonly file: string) {
    this.#fd = openSync(file, 'wx', 0o600);
  }

  add(name: string, size: number, sha256: string): void {
    this.#pending += `${this.#count === 0 ? '' : ','}${JSON.stringify(name)}:{"size":${size},"sha256":"${sha256}"}`;
    this.#count += 1;
    if (this.#pending.length >= blockChars) this.#write();
  }

  /** Ends the object and returns the spool's size in bytes. */
  close(): number {
    this.#pending += '}';
    this.#write();
    this.#closed = true;
    closeSync(this.#fd);
    return this.#size;
  }

  remove(): void {
    if (!this.#closed) {
      this.#closed = true;
      closeSync(this.#fd);
    }
    rmSync(this.file, { force: true });
  }

  #write(): void {
    const bytes = Buffer.from(this.#pending, 'utf8');
    this.#pending = '';
    for (let at = 0; at < bytes.length;) at += writeSync(this.#fd, bytes, at, bytes.length - at, this.#size + at);
    this.#size += bytes.length;
  }
}
