// A lowdb adapter that survives power loss, not only a crash: the document is written to a
// temporary file, fsynced, renamed over the old one, and the folder is fsynced. Writes that arrive
// while one is on disk are coalesced into the next one, and each promise resolves once a write
// holding its change is durable. A file that exists but does not parse, or parses into something
// its `validate` refuses, is never taken for empty: it is kept aside and CorruptFileError thrown.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Adapter } from 'lowdb';

export class CorruptFileError extends Error {
  constructor(readonly file: string, readonly keptAs: string, reason: string) {
    super(`${file} is not a readable JSON document (${reason}); it was kept aside as ${keptAs}`);
  }
}

export async function fsyncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes `text` to `file` atomically and durably (temp file, fsync, rename, fsync folder). */
export async function writeFileDurably(file: string, text: string | Uint8Array): Promise<void> {
  const directory = path.dirname(file);
  const temp = path.join(directory, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'w', 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await unlink(temp).catch(() => {});
    throw error;
  }
  await handle.close();
  try {
    await rename(temp, file);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
  await fsyncDirectory(directory);
}

/** Says why a parsed document is unusable, or undefined when it is sound. */
export type DocumentCheck = (parsed: unknown) => string | undefined;

/** The document to write, or a function that builds it when the write reaches the disk. */
export type PendingDocument<T> = T | (() => T);

export class DurableJsonFile<T> implements Adapter<T> {
  #running: Promise<void> | null = null;
  #queued: { data: PendingDocument<T>; waiters: Array<{ resolve: () => void; reject: (error: unknown) => void }> } | null = null;

  constructor(readonly file: string, private readonly validate?: DocumentCheck) {}

  async read(): Promise<T | null> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    try {
      if (text.trim() === '') throw new Error('the file is empty');
      const parsed = JSON.parse(text) as unknown;
      const problem = this.validate?.(parsed);
      if (problem) throw new Error(problem);
      return parsed as T;
    } catch (error) {
      const keptAs = `${this.file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      await rename(this.file, keptAs);
      throw new CorruptFileError(this.file, keptAs, (error as Error).message);
    }
  }

  /**
   * Queues `data` (cloned now) or a builder (called when the write starts, so that it holds every
   * change made until then and nothing a failed write rejected).
   */
  write(data: PendingDocument<T>): Promise<void> {
    const snapshot = typeof data === 'function' ? data : structuredClone(data);
    return new Promise<void>((resolve, reject) => {
      if (this.#queued) {
        this.#queued.data = snapshot;
        this.#queued.waiters.push({ resolve, reject });
      } else {
        this.#queued = { data: snapshot, waiters: [{ resolve, reject }] };
      }
      if (!this.#running) this.#running = this.#drain();
    });
  }

  async #drain(): Promise<void> {
    while (this.#queued) {
      const { data, waiters } = this.#queued;
      this.#queued = null;
      try {
        await mkdir(path.dirname(this.file), { recursive: true });
        const document = typeof data === 'function' ? (data as () => T)() : data;
        await writeFileDurably(this.file, JSON.stringify(document));
        for (const waiter of waiters) waiter.resolve();
      } catch (error) {
        for (const waiter of waiters) waiter.reject(error);
      }
    }
    this.#running = null;
  }
}
