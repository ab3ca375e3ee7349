// `cellar unit backup|verify|restore`: the whole unit as one tar (GET {UnitURL}__backup). A backup
// is downloaded into a hidden temporary file beside FILE and checked once whole; only when its
// manifest is there and every entry matches its line (name, kind, size; with --verify its
// SHA-256 too) is the file synced and renamed to FILE, so an interrupted or damaged download never
// looks like a backup. The server hashed every file as it read it; hashing again while
// downloading made the command twice as slow on a machine that also runs the server, so the
// hashes are checked by `unit verify` (and by restore). verify and restore need no server.
import { randomBytes } from 'node:crypto';
import { writeSync } from 'node:fs';
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { readBackup, type BackupSummary, type GrowingFile } from '../backup-archive.ts';
import type { Context, Output } from '../context.ts';
import { ServerError } from '../errors.ts';
import type { BodyEnd } from '../socket-download.ts';
import { createCountProgress, createProgress, formatBytes } from '../progress.ts';
import { restoreBackup, verifyBackupFile } from '../unit-restore.ts';

/** Bytes of a download written between two background flushes. */
const flushBytes = 64 * 1024 * 1024;

function describe(summary: BackupSummary): string {
  const secrets = summary.secrets.length ? `, secrets: ${summary.secrets.join(', ')}` : '';
  const snapshots = summary.header.snapshots ? '' : ', without snapshot areas';
  return `${summary.cells} cells, ${summary.entries} entries, ${formatBytes(summary.bytes)} of files${snapshots}${secrets}; made ${summary.header.created} by ${summary.header.generator}`;
}

function summaryJson(summary: BackupSummary, extra: Record<string, unknown>) {
  const { header, entries, bytes, cells, secrets } = summary;
  return { ...extra, created: header.created, generator: header.generator, unitUrl: header.unit_url, snapshots: header.snapshots, cells, entries, bytes, secrets };
}

export async function backupUnit(context: Context, file: string, options: { snapshots?: boolean; verify?: boolean }): Promise<void> {
  const query = options.snapshots === false ? '?snapshots=false' : '';
  const download = await context.client.download(context.client.url(`__backup${query}`), [200]);
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.partial-${randomBytes(6).toString('hex')}`);
  const progress = createCountProgress(context.progress, `backup ${path.basename(file)}`);
  const written = new WrittenBytes();
  let received = 0;
  let summary: BackupSummary;
  let ended: BodyEnd | undefined;
  let handle: FileHandle | undefined;
  try {
    handle = await open(temp, 'wx', 0o600);
    const fd = handle.fd;
    // Checked while it downloads, each entry once it is in the file.
    const checked = readBackup(temp, { hashes: options.verify === true, growing: written });
    // A download the checks refused goes no further; the refusal is what the command says.
    let refusal: Error | undefined;
    checked.catch((error: Error) => {
      refusal = error;
      download.destroy();
    });
    const flusher = new DownloadFlush(handle);
    try {
      // Each read of the socket goes to the file before the socket is read again.
      ended = await download.body((data, start, end) => {
        for (let at = start; at < end;) at += writeSync(fd, data, at, end - at);
        received += end - start;
        progress.update(received);
        written.grew(received);
        flusher.wrote(received);
      });
      if (refusal) throw refusal;
      if (!ended.complete) throw new Error('the connection closed before the end of the answer');
      await flusher.settle();
      written.end(received);
    } catch (error) {
      written.fail(error as Error);
      throw error;
    }
    summary = await checked;
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temp, file);
  } catch (error) {
    download.destroy();
    await handle?.close().catch(() => {});
    await rm(temp, { force: true });
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as NodeJS.ErrnoException).code;
    // The unit names, in a trailer, why it stopped a backup itself.
    const stopped = ended?.complete ? ended.trailers['x-cellar-backup-error'] : undefined;
    const reason = stopped ? `the unit stopped the backup: ${stopped}` : `${(error as Error).message}${cause && !(error as Error).message.includes(cause) ? ` (${cause})` : ''}`;
    throw new ServerError(0, undefined, `the backup did not complete, nothing was saved to ${file}: ${reason}`);
  } finally {
    progress.stop();
  }
  context.note(`${file} holds the unit's secrets: keep it as safe as the data directory`);
  context.result(summaryJson(summary, { file, size: received }), `saved the unit backup to ${file} (${formatBytes(received)}): ${describe(summary)}`);
}

export async function verifyUnit(output: Output, file: string): Promise<void> {
  const size = (await stat(file).catch(() => undefined))?.size ?? 0;
  const progress = createProgress(output.progress, { label: `verify ${path.basename(file)}`, total: size, kind: 'bytes' });
  try {
    const summary = await verifyBackupFile(file, { onProgress: (bytes) => progress.update(bytes) });
    progress.stop(true);
    output.result(summaryJson(summary, { file, ok: true }), `${file} is a whole unit backup: ${describe(summary)}`);
  } finally {
    progress.stop();
  }
}

export async function restoreUnit(output: Output, file: string, options: { dataDir: string }): Promise<void> {
  const size = (await stat(file).catch(() => undefined))?.size ?? 0;
  const progress = createProgress(output.progress, { label: `restore ${path.basename(file)}`, total: size, kind: 'bytes' });
  try {
    const summary = await restoreBackup(file, options.dataDir, { onProgress: (bytes) => progress.update(bytes) });
    progress.stop(true);
    output.result(summaryJson(summary, { file, dataDir: path.resolve(options.dataDir) }), `restored ${file} into ${path.resolve(options.dataDir)}: ${describe(summary)}`);
  } finally {
    progress.stop();
  }
}

/** The bytes of the download in its file so far, for the checks that follow it. */
class WrittenBytes implements GrowingFile {
  size = 0;
  whole = false;
  #failure: Error | undefined;
  #waiting: Array<{ size: number; resolve: () => void; reject: (error: Error) => void }> = [];

  grew(size: number): void {
    this.size = size;
    this.#wake();
  }

  end(size: number): void {
    this.size = size;
    this.whole = true;
    this.#wake();
  }

  fail(error: Error): void {
    this.#failure = error;
    this.#wake();
  }

  more(size: number): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.whole || this.size >= size) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiting.push({ size, resolve, reject }));
  }

  /** Wakes whoever waits for no more than the file holds (everyone once it is whole or failed). */
  #wake(): void {
    if (this.#waiting.length === 0) return;
    const settled = this.#failure !== undefined || this.whole;
    const waiting = this.#waiting;
    this.#waiting = settled ? [] : waiting.filter((waiter) => waiter.size > this.size);
    for (const waiter of waiting) {
      if (this.#failure) waiter.reject(this.#failure);
      else if (settled || waiter.size <= this.size) waiter.resolve();
    }
  }
}

/**
 * Starts writing the download's bytes to the disk while it goes on (an fdatasync each time
 * another `flushBytes` are in the file, one at a time), so that the sync before the rename has
 * little left to wait for.
 */
class DownloadFlush {
  #flushed = 0;
  #running: Promise<void> | undefined;
  #failure: Error | undefined;

  constructor(private readonly handle: FileHandle) {}

  wrote(bytes: number): void {
    if (this.#running || bytes - this.#flushed < flushBytes) return;
    this.#flushed = bytes;
    this.#running = this.handle.datasync().catch((error: Error) => { this.#failure ??= error; }).finally(() => { this.#running = undefined; });
  }

  async settle(): Promise<void> {
    await this.#running;
    if (this.#failure) throw this.#failure;
  }
}
