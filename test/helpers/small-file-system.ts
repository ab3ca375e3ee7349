// A real small file system for full-disk tests: a tmpfs the test mounts, which needs root (CI runs
// as root). Elsewhere the tests are skipped and say why.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdtemp, rm, statfs, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** Tried once: root is needed, and a container may refuse mounts even to root. */
function probeMount(): string | undefined {
  if (process.getuid?.() !== 0) return 'full-disk tests mount a tmpfs and need root (CI runs as root)';
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cellar-mount-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { stdio: 'ignore' });
    execFileSync('umount', [dir], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'full-disk tests mount a tmpfs, and mounting is not allowed here';
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const skipReason = probeMount();
export const canMount = skipReason === undefined;

export async function mountSmallFileSystem(t: { teardown(fn: () => Promise<void>): void }, megabytes: number): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cellar-small-fs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${megabytes}m`, 'tmpfs', dir]);
  t.teardown(async () => {
    execFileSync('umount', ['-l', dir]);
    await rm(dir, { recursive: true, force: true });
  });
  return dir;
}

export async function freeBytes(dir: string): Promise<number> {
  const stats = await statfs(dir);
  return stats.bavail * stats.bsize;
}

/** Fills the file system until only `leaveBytes` are free (0: completely full); returns the filler's path. */
export async function fillUntil(dir: string, leaveBytes: number, name = 'filler'): Promise<string> {
  const file = path.join(dir, name);
  const size = Math.max(0, (await freeBytes(dir)) - leaveBytes);
  await writeFile(file, Buffer.alloc(size)).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOSPC') throw error;
  });
  if (leaveBytes === 0) {
    // Top up what page rounding left, a page at a time.
    for (let i = 0; i < 10_000; i++) {
      const done = await writeFile(path.join(dir, `${name}-${i}`), Buffer.alloc(4096)).then(() => false, () => true);
      if (done) break;
    }
  }
  return file;
}

export async function removeFiller(dir: string, name = 'filler'): Promise<void> {
  await unlink(path.join(dir, name)).catch(() => {});
  execFileSync('sh', ['-c', `rm -f ${JSON.stringify(path.join(dir, name))}-*`]);
}
