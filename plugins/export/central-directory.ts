// The zip's central directory, written as entries complete to a hidden file beside the zip instead
// of being kept in memory (about 110 bytes an entry: 22 MB for a cell of 200,000 entries), and
// copied to the end of the zip once every entry is in. Records are gathered in 256 KiB blocks.
import { closeSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { centralRecordLength, writeCentralRecord, type EntryRecord } from './zip-records.ts';

const blockBytes = 256 * 1024;

export class CentralDirectorySpool {
  readonly #fd: number;
  readonly #block = Buffer.allocUnsafe(blockBytes);
  #used = 0;
  #closed = false;
  /** Bytes of records, written and gathered. */
  size = 0;
  entries = 0;

  constructor(readonly file: string, private readonly stamp: { time: number; date: number }, private readonly forceZip64: boolean) {
    this.#fd = openSync(file, 'wx+', 0o600);
  }

  add(entry: EntryRecord): void {
    const length = centralRecordLength(entry, this.forceZip64);
    if (this.#used + length > blockBytes) this.#flush();
    const target = length > blockBytes ? Buffer.allocUnsafe(length) : this.#block;
    writeCentralRecord(target, target === this.#block ? this.#used : 0, entry, this.stamp, this.forceZip64);
    if (target === this.#block) this.#used += length;
    else writeAll(this.#fd, target, this.size);
    this.size += length;
    this.entries += 1;
  }

  /** Hands the whole directory, in blocks, to `write`. */
  copyTo(write: (chunk: Buffer) => void): void {
    this.#flush();
    const chunk = Buffer.allocUnsafe(blockBytes);
    for (let at = 0; at < this.size;) {
      const read = readSync(this.#fd, chunk, 0, Math.min(blockBytes, this.size - at), at);
      if (read === 0) throw new Error('the central directory spool is shorter than written');
      write(chunk.subarray(0, read));
      at += read;
    }
  }

  remove(): void {
    if (!this.#closed) {
      this.#closed = true;
      closeSync(this.#fd);
    }
    rmSync(this.file, { force: true });
  }

  #flush(): void {
    if (this.#used === 0) return;
    writeAll(this.#fd, this.#block.subarray(0, this.#used), this.size - this.#used);
    this.#used = 0;
  }
}

/** Writes all of `bytes` at `position`. */
export function writeAll(fd: number, bytes: Buffer, position: number): void {
  for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at, bytes.length - at, position + at);
}
