// Restores a unit backup into a data directory, offline. The directory is locked the way a server
// locks it (so no server starts on it meanwhile, and one already running there is named), must be
// empty, and receives nothing until the whole archive has been extracted into a new folder beside
// it and checked: then that folder's entries are moved in (the registry last) and synced. Any
// failure removes the new folder and leaves the directory as it was.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { storeFileName } from '../../core/backup-layout.ts';
import { DataDirLock, DataDirLockedError, lockFileName } from '../../core/data-dir-lock.ts';
import { fsyncDirectory } from '../../core/json-file.ts';
import { readBackup, type BackupSummary } from './backup-archive.ts';
import { UsageError } from './errors.ts';

export class RestoreRefusedError extends Error {
  readonly exitCode = 1;
}

export interface RestoreOptions {
  onProgress?: (archiveBytes: number) => void;
}

export async function verifyBackupFile(file: string, options: RestoreOptions = {}): Promise<BackupSummary> {
  await requireFile(file);
  return readBackup(file, { onProgress: options.onProgress });
}

export async function restoreBackup(file: string, dataDir: string, options: RestoreOptions = {}): Promise<BackupSummary> {
  await requireFile(file);
  const target = path.resolve(dataDir);
  const existed = await stat(target).then((info) => {
    if (!info.isDirectory()) throw new RestoreRefusedError(`${target} exists and is not a folder`);
    return true;
  }, () => false);
  let lock: DataDirLock;
  try {
    lock = await DataDirLock.acquire(target);
  } catch (error) {
    if (error instanceof DataDirLockedError) throw new RestoreRefusedError(`refusing to restore: ${error.message}`);
    throw error;
  }
  const staging = path.join(path.dirname(target), `.${path.basename(target)}.restore-${randomBytes(6).toString('hex')}`);
  let placed = false;
  try {
    const present = (await readdir(target)).filter((name) => name !== lockFileName);
    if (present.length > 0) throw new RestoreRefusedError(`refusing to restore into ${target}: it is not empty (${present.slice(0, 3).join(', ')}${present.length > 3 ? ', ...' : ''})`);
    await mkdir(staging, { mode: 0o700 });
    const summary = await readBackup(file, { extractTo: staging, onProgress: options.onProgress });
    await syncFileSystem(staging);
    await moveInto(staging, target);
    placed = true;
    return summary;
  } finally {
    await rm(staging, { recursive: true, force: true });
    await lock.release();
    if (!existed && !placed) await rmdir(target).catch(() => {});
  }
}

/** The staged entries go into the data directory one rename each, the registry last. */
async function moveInto(staging: string, target: string): Promise<void> {
  const names = (await readdir(staging)).sort((a, b) => Number(a === storeFileName) - Number(b === storeFileName));
  for (const name of names) await rename(path.join(staging, name), path.join(target, name));
  await fsyncDirectory(target);
}

/** Every restored byte is on disk before the data directory is filled (`sync -f`: syncfs of that file system). */
async function syncFileSystem(dir: string): Promise<void> {
  await promisify(execFile)('sync', ['-f', dir]);
}

async function requireFile(file: string): Promise<void> {
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) throw new UsageError(`${file} is not a file`);
}
