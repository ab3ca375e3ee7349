// `cellar unit backup|verify|restore`: the whole unit as one tar (GET {UnitURL}__backup). A backup
// is downloaded into a hidden temporary file beside FILE and checked as it arrives; only once its
// manifest has arrived and every entry matches its line (name, kind, size; with --verify its
// SHA-256 too) is the file synced and renamed to FILE, so an interrupted or damaged download never
// looks like a backup. The server hashed every file as it read it; hashing again while
// downloading made the command twice as slow on a machine that also runs the server, so the
// hashes are checked by `unit verify` (and by restore). verify and restore need no server.
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import path from 'node:path';
import { readBackup, type BackupSummary } from '../backup-archive.ts';
import type { Context, Output } from '../context.ts';
import { ServerError } from '../errors.ts';
import { createCountProgress, createProgress, formatBytes } from '../progress.ts';
import { restoreBackup, verifyBackupFile } from '../unit-restore.ts';

const writeQueueBytes = 4 * 1024 * 1024;

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
  const response = await context.client.stream(context.client.url(`__backup${query}`), [200]);
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.partial-${randomBytes(6).toString('hex')}`);
  const progress = createCountProgress(context.progress, `backup ${path.basename(file)}`);
  const out = createWriteStream(temp, { mode: 0o600, highWaterMark: writeQueueBytes });
  let received = 0;
  // The socket's chunks go to the file (the stream gathers them into large writes) and to the checks.
  async function* teed(): AsyncGenerator<Buffer> {
    for await (const chunk of response as AsyncIterable<Buffer>) {
      received += chunk.length;
      if (!out.write(chunk)) await once(out, 'drain');
      yield chunk;
    }
    if (!response.complete) throw new Error('the connection closed before the end of the answer');
  }
  let summary: BackupSummary;
  try {
    summary = await readBackup(teed(), { hashes: options.verify === true, onProgress: (entries) => progress.update(received, entries) });
    out.end();
    await once(out, 'close');
    await syncFile(temp);
    await rename(temp, file);
  } catch (error) {
    out.destroy();
    await rm(temp, { force: true });
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    // The unit names, in a trailer, why it stopped a backup itself.
    const stopped = response.complete ? response.trailers['x-cellar-backup-error'] : undefined;
    const reason = stopped ? `the unit stopped the backup: ${stopped}` : `${(error as Error).message}${cause ? ` (${cause})` : ''}`;
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

async function syncFile(file: string): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
