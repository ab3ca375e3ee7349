// Makes an import durable before its swap with syncs of the data directory's file system
// (`sync --file-system`, i.e. syncfs(2)), not with a sync per file. On this layout a file is
// three things to sync (its data, its `.pmeta`, its folder): 10,000 small files took ~20 s of
// fdatasyncs and fsyncs against ~0.3 s for one syncfs of the same files. A syncfs also writes
// what other programs left unwritten on that file system, so the extraction flushes in the
// background as it goes and the last sync, the one the swap waits for, finds little left. The
// flushes count what is written as its bytes plus 4 KiB for each file and folder: for a cell of
// small files the inodes and names are most of the writing. Measured on the 10,000-file bench
// cell (about 25 MB of data): counting bytes only (one flush every 64 MiB, so none), the last sync
// took 160-340 ms; with a flush every 32 MiB counted this way, 5-26 ms (every 16 MiB was slower).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Extracted bytes after which the file system is flushed again in the background. */
export const flushEveryBytes = 32 * 1024 * 1024;
/** What a new file or folder counts for, in bytes to flush: its inode, its name in its folder, its share of the bitmaps. */
export const metadataBytesPerEntry = 4096;

/** Everything written so far on the file system that holds `dir` is on disk once this resolves. */
export async function syncFileSystem(dir: string): Promise<void> {
  await execFileAsync('sync', ['--file-system', dir]);
}

/**
 * Flushes the file system in the background while the extraction goes on, at most one flush at
 * a time. Its errors are left to the final `syncFileSystem`, which reports them.
 */
export class BackgroundFlush {
  #written = 0;
  #flushedAt = 0;
  #running: Promise<void> | undefined;
  /** Flushes started so far. */
  started = 0;

  constructor(private readonly dir: string) {}

  /** Counts `bytes` of data extracted, in `entries` new files and folders. */
  add(bytes: number, entries = 0): void {
    this.#written += bytes + entries * metadataBytesPerEntry;
    if (this.#running || this.#written - this.#flushedAt < flushEveryBytes) return;
    this.#flushedAt = this.#written;
    this.started += 1;
    this.#running = syncFileSystem(this.dir).catch(() => {}).finally(() => {
      this.#running = undefined;
    });
  }

  /** Waits for the flush under way, if any. */
  async settle(): Promise<void> {
    await this.#running;
  }
}
