// What a unit backup reads, in order: every cell of the registry, one at a time, held still while
// its live content and snapshot area go into the archive (writes to it get 409 meanwhile, the
// rest of the unit goes on); then the unit's secrets; then the registry as it was when each cell
// was read, listing exactly the cells in the archive; then the manifest (tar-out.ts).
import { closeSync, fstatSync, lstatSync, openSync, read, readdirSync, readSync, type Stats } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { cellsFolder, secretFileNames, snapshotsFolder, storeFileName } from '../../core/backup-layout.ts';
import type { Services } from '../../core/services.ts';
import type { CellRecord } from '../../core/store.ts';
import type { TarOut } from './tar-out.ts';

export const backupHolder = 'unit backup';

/** Why the unit stopped a backup itself; the answer ends without a manifest and says why in a trailer. */
export class BackupStoppedError extends Error {}

/**
 * Waits of jobWriteDrainMs each for the writes under way in a held cell before the backup stops
 * (a minute with the default): a write that never ends (a client sending a body at a trickle)
 * would otherwise hold the cell, and the backup, forever.
 */
const writeWaitRounds = 12;

type BackupServices = Pick<Services, 'store' | 'contents' | 'holds' | 'writes' | 'logger' | 'config'>;

/** Temporaries of box writes and durable small writes: never part of a resource. */
function isTemporary(name: string): boolean {
  return name.startsWith('.content.tmp-') || name.startsWith('.tmp-') || (name.startsWith('.') && name.endsWith('.tmp'));
}

const pollMs = 50;
/** Files up to this size are read in one synchronous call: a thread-pool round trip costs more. */
const smallFileBytes = 1024 * 1024;
/** Synchronous work between two turns of the event loop, so that the unit keeps answering. */
const sliceMs = 4;
const readAsync = promisify(read);

export class UnitBackupReader {
  constructor(private readonly unit: BackupServices, private readonly out: TarOut, private readonly signal: AbortSignal) {}

  async write(options: { snapshots: boolean }): Promise<void> {
    const { store, config } = this.unit;
    const now = new Date();
    const captured: CellRecord[] = [];
    await this.out.directory(cellsFolder, now);
    if (options.snapshots) await this.out.directory(snapshotsFolder, now);
    for (const id of store.listCells().map((cell) => cell.id)) {
      const record = await this.#cell(id, options.snapshots);
      if (record) captured.push(record);
    }
    for (const name of secretFileNames) await this.#topFile(path.join(config.dataDir, name), name, 0o600);
    await this.out.buffer(storeFileName, Buffer.from(await this.#registry(captured)), new Date());
  }

  /** One cell, held; undefined when it was deleted before its turn. */
  async #cell(id: string, snapshots: boolean): Promise<CellRecord | undefined> {
    const { store, holds, contents } = this.unit;
    if (!store.getCellById(id)) return undefined;
    const release = holds.hold(id, backupHolder);
    try {
      await this.#stillness(id);
      const live = store.getCellById(id);
      if (!live) return undefined;
      const record = structuredClone(live);
      // An export running meanwhile only reads; its record does not belong in a restored unit.
      delete record.job;
      const cellDir = `${cellsFolder}/${record.id}`;
      const contentDir = contents.contentDir(record);
      await this.out.directory(cellDir, new Date());
      await this.#tree(contentDir, `${cellDir}/${record.contentId}`);
      if (snapshots) await this.#snapshotArea(contents.snapshotDir(record.id), `${snapshotsFolder}/${record.id}`);
      return record;
    } finally {
      release();
    }
  }

  /** Waits until no import runs in the held cell and the writes that were under way have ended. */
  async #stillness(id: string): Promise<void> {
    const { store, writes, config, logger } = this.unit;
    while (store.getCellById(id)?.job?.kind === 'import') {
      this.signal.throwIfAborted();
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
    for (let round = 1; !(await writes.drained(id, config.jobWriteDrainMs)); round += 1) {
      this.signal.throwIfAborted();
      if (round >= writeWaitRounds) {
        const name = store.getCellById(id)?.name ?? id;
        throw new BackupStoppedError(`writes under way in cell ${name} did not end within ${(round * config.jobWriteDrainMs) / 1000} s`);
      }
      logger.warn({ cellId: id, running: writes.running(id) }, 'unit backup waits for writes under way in the cell');
    }
    this.signal.throwIfAborted();
  }

  /**
   * A folder and everything under it, in name order, so two backups of one unit list alike.
   * Folders are listed and small files read with synchronous calls (a cell is mostly folders and
   * `.pmeta` files), in slices of a few milliseconds between turns of the event loop.
   */
  async #tree(dir: string, name: string): Promise<void> {
    await this.out.directory(name, lstatSync(dir).mtime);
    const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      this.signal.throwIfAborted();
      await this.#yieldNow();
      if (isTemporary(entry.name)) continue;
      const full = path.join(dir, entry.name);
      const child = `${name}/${entry.name}`;
      if (entry.isDirectory()) await this.#tree(full, child);
      else if (entry.isFile()) await this.#file(full, child);
      else this.unit.logger.warn({ entry: child }, 'unit backup skips an entry that is neither a file nor a folder');
    }
  }

  #sliceStarted = performance.now();

  async #yieldNow(): Promise<void> {
    if (performance.now() - this.#sliceStarted < sliceMs) return;
    await new Promise((resolve) => setImmediate(resolve));
    this.#sliceStarted = performance.now();
  }

  async #snapshotArea(dir: string, name: string): Promise<void> {
    const info = statOrUndefined(dir);
    if (!info?.isDirectory()) return;
    await this.out.directory(name, info.mtime);
    const entries = readdirSync(dir, { withFileTypes: true }).filter((entry) => entry.isFile() && !entry.name.startsWith('.'));
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      // A snapshot deleted since the listing is simply not in the backup.
      await this.#file(path.join(dir, entry.name), `${name}/${entry.name}`, { mayVanish: true });
    }
  }

  async #file(full: string, name: string, options: { mayVanish?: boolean; mode?: number } = {}): Promise<void> {
    let fd: number;
    try {
      fd = openSync(full, 'r');
    } catch (error) {
      if (options.mayVanish && (error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    try {
      const info = fstatSync(fd);
      const mode = options.mode ?? info.mode;
      if (info.size <= smallFileBytes) {
        await this.out.smallFile(name, (view, offset) => {
          for (let filled = 0; filled < view.length;) {
            const bytesRead = readSync(fd, view, filled, view.length - filled, offset + filled);
            if (bytesRead === 0) throw new Error(`${name} became shorter while it was read`);
            filled += bytesRead;
          }
        }, info.size, info.mtime, mode);
      } else {
        await this.out.file(name, async (buffer, position) => (await readAsync(fd, buffer, 0, buffer.length, position)).bytesRead, info.size, info.mtime, mode);
      }
    } finally {
      closeSync(fd);
    }
  }

  async #topFile(full: string, name: string, mode: number): Promise<void> {
    if (!statOrUndefined(full)?.isFile()) return;
    await this.#file(full, name, { mode });
  }

  /**
   * The registry as on disk now, with exactly the cells in the archive, each as it was when it
   * was read: one deleted after its turn is kept, one created during the backup is left out.
   */
  async #registry(captured: CellRecord[]): Promise<string> {
    const file = path.join(this.unit.config.dataDir, storeFileName);
    const onDisk = JSON.parse(await readFile(file, 'utf8').catch(() => '{"version":1,"cells":[]}')) as Record<string, unknown>;
    return `${JSON.stringify({ ...onDisk, version: 1, cells: captured })}\n`;
  }
}

function statOrUndefined(file: string): Stats | undefined {
  try {
    return lstatSync(file);
  } catch {
    return undefined;
  }
}
