// One server per data directory: `{dataDir}/unit.lock` is created with O_EXCL and names the
// process that holds it (pid, its start time, a random nonce). A second server finds the file,
// sees that process alive and refuses to start naming it; a lock left by a process that died
// (SIGKILL, power cut) is taken over. The file is removed when the holder stops or exits.
import { randomBytes } from 'node:crypto';
import { readFileSync, unlinkSync } from 'node:fs';
import { link, mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';

export const lockFileName = 'unit.lock';

interface LockContent {
  pid: number;
  /** The process's start time in clock ticks since boot (Linux), so a reused pid is not taken for the holder. */
  started: string | null;
  host: string;
  nonce: string;
}

export class DataDirLockedError extends Error {
  constructor(readonly file: string, readonly holder: { pid: number; host: string }) {
    super(`the data directory is in use by process ${holder.pid} on ${holder.host} (${file}); stop that server first`);
  }
}

/** The start time of a process from /proc, or null where there is no /proc. */
function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: fields are counted after its last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function isAlive(content: LockContent): boolean {
  if (content.host !== hostname()) return true;
  try {
    process.kill(content.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  if (content.started === null) return true;
  const started = processStartTime(content.pid);
  return started === null || started === content.started;
}

function parseLock(text: string): LockContent | undefined {
  try {
    const parsed = JSON.parse(text) as LockContent;
    return Number.isInteger(parsed.pid) && typeof parsed.nonce === 'string' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** Locks this process holds, removed by one exit handler whatever way the process ends. */
const held = new Set<DataDirLock>();
let exitHandlerInstalled = false;

export class DataDirLock {
  #released = false;

  private constructor(readonly file: string, private readonly nonce: string) {
    held.add(this);
    if (!exitHandlerInstalled) {
      exitHandlerInstalled = true;
      process.once('exit', () => { for (const lock of held) lock.#releaseSync(); });
    }
  }

  /** Takes the lock or throws DataDirLockedError naming the live holder. */
  static async acquire(dataDir: string): Promise<DataDirLock> {
    await mkdir(dataDir, { recursive: true });
    const file = path.join(dataDir, lockFileName);
    const content: LockContent = { pid: process.pid, started: processStartTime(process.pid), host: hostname(), nonce: randomBytes(12).toString('hex') };
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const handle = await open(file, 'wx', 0o644);
        try {
          await handle.writeFile(`${JSON.stringify(content)}\n`);
          await handle.sync();
        } finally {
          await handle.close();
        }
        return new DataDirLock(file, content.nonce);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const text = await readFile(file, 'utf8').catch(() => undefined);
      if (text === undefined) continue;
      const holder = parseLock(text);
      // A file being written this very moment reads empty: give its writer a moment.
      if (!holder && text.trim() === '' && attempt < 4) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      if (holder && isAlive(holder)) throw new DataDirLockedError(file, holder);
      await takeOverStale(file, text);
    }
    throw new Error(`could not take the lock ${file}`);
  }

  /** Removes the lock file if it is still this process's. */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    held.delete(this);
    const text = await readFile(this.file, 'utf8').catch(() => '');
    if (parseLock(text)?.nonce === this.nonce) await unlink(this.file).catch(() => {});
  }

  #releaseSync(): void {
    if (this.#released) return;
    this.#released = true;
    held.delete(this);
    try {
      if (parseLock(readFileSync(this.file, 'utf8'))?.nonce === this.nonce) unlinkSync(this.file);
    } catch {
      // Nothing to remove.
    }
  }
}

/**
 * Moves a dead holder's file out of the way. Two servers starting at once over the same stale
 * file must not both win: the file is renamed aside first, and if what was renamed is not the
 * stale file that was read (a rival already took over), it is linked back.
 */
async function takeOverStale(file: string, staleText: string): Promise<void> {
  const aside = `${file}.stale-${randomBytes(6).toString('hex')}`;
  try {
    await rename(file, aside);
  } catch {
    return;
  }
  const moved = await readFile(aside, 'utf8').catch(() => staleText);
  if (moved !== staleText) await link(aside, file).catch(() => {});
  await unlink(aside).catch(() => {});
}
