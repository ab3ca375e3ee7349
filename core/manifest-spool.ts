// The lines of a unit backup's manifest (backup-layout.ts) spooled to a file while the entries
// stream by, on the server that writes the archive and in the commands that check it: memory
// stays flat in the number of entries. A file's line waits for its SHA-256, which a hashing
// thread computes behind the stream, and follows the lines before it; lines go out in batches of
// about 64 KiB (a write each would cost more than the line).
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import { manifestLine, type ManifestEntry } from './backup-layout.ts';

const batchChars = 64 * 1024;

export class ManifestSpool {
  readonly #out: WriteStream;
  /** The lines recorded so far, in order, each once its digest came. */
  #recorded: Promise<void> = Promise.resolve();
  #lines = '';

  constructor(file: string) {
    this.#out = createWriteStream(file, { mode: 0o600 });
    // Failures reach the caller through end(); an unheard 'error' event would throw.
    this.#out.on('error', () => {});
  }

  /** A line of its own (the manifest's header), written before the entries' lines. */
  line(text: string): void {
    this.#lines += text;
  }

  record(entry: ManifestEntry, sha256?: Promise<string>): void {
    this.#recorded = this.#recorded.then(async () => {
      this.#lines += manifestLine(sha256 ? { ...entry, sha256: await sha256 } : entry);
      if (this.#lines.length >= batchChars) await this.#flush();
    });
    // A failure is met by end(); a stream stopped earlier never gets there.
    this.#recorded.catch(() => {});
    sha256?.catch(() => {});
  }

  /** Writes every line recorded, then `last`, and closes the file; resolves with its size. */
  async end(last = ''): Promise<number> {
    await this.#recorded;
    this.#lines += last;
    await this.#flush();
    this.#out.end();
    await finished(this.#out);
    return this.#out.bytesWritten;
  }

  destroy(): void {
    this.#out.destroy();
  }

  async #flush(): Promise<void> {
    const lines = this.#lines;
    this.#lines = '';
    if (this.#out.destroyed) throw this.#out.errored ?? new Error('the manifest spool was closed');
    if (lines && !this.#out.write(lines)) await once(this.#out, 'drain');
  }
}
