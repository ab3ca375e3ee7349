// The snapshot storage: each cell's snapshot area is one flat folder of files
// ({dataDir}/snapshots/{cellId}/).
// Names starting with a dot are Cellar's own: `.meta.json` (content types) and temporary files
// (`.tmp-*`, and `.*.tmp` of small durable writes) that become visible only through `commit`, an
// fsync and a rename. A listing is one directory read; a file's ETag comes from its stat alone.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Stats } from 'node:fs';
import { confine, isPlainSegment } from './confine.ts';
import { fsyncDirectory, writeFileDurably } from './json-file.ts';

export interface SnapshotEntry {
  name: string;
  size: number;
  contentType: string;
  etag: string;
  createdMs: number;
  modifiedMs: number;
}

const metaFile = '.meta.json';

export function defaultContentType(name: string): string {
  if (name.endsWith('.zip')) return 'application/zip';
  if (name.endsWith('.error') || name.endsWith('.json')) return 'application/json';
  return 'application/octet-stream';
}

/** Strong ETag from what changes with content: size, modification time and inode. */
export function etagFor(stats: Pick<Stats, 'size' | 'mtimeMs' | 'ino'>): string {
  return `"${stats.size.toString(16)}-${Math.floor(stats.mtimeMs * 1000).toString(16)}-${stats.ino.toString(16)}"`;
}

export function isValidSnapshotName(name: string): boolean {
  return isPlainSegment(name) && name !== metaFile;
}

/** Leftovers of a write that never finished: upload/export temporaries and writeFileDurably's. */
function isTemporary(name: string): boolean {
  return name.startsWith('.tmp-') || (name.startsWith('.') && name.endsWith('.tmp'));
}

export class SnapshotArea {
  #types: Record<string, string> | undefined;
  #typesLoad: Promise<Record<string, string>> | undefined;
  /** `.meta.json` writes, one after the other, so an older map never lands over a newer one. */
  #typesWrite: Promise<void> = Promise.resolve();

  constructor(readonly dir: string) {}

  /** The file's path; throws when `name` is not one plain segment. */
  filePath(name: string): string {
    if (!isValidSnapshotName(name)) throw new Error(`not a snapshot file name: ${JSON.stringify(name)}`);
    return confine(this.dir, name);
  }

  async ensure(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  /** A hidden path in the area for a file being written; never listed. */
  tempPath(label: string): string {
    return confine(this.dir, `.tmp-${label.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64)}-${randomBytes(6).toString('hex')}`);
  }

  async contentTypes(): Promise<Record<string, string>> {
    if (this.#types) return this.#types;
    this.#typesLoad ??= readFile(path.join(this.dir, metaFile), 'utf8')
      .then((text) => JSON.parse(text) as Record<string, string>)
      .catch(() => ({}));
    this.#types = await this.#typesLoad;
    return this.#types;
  }

  entryFrom(name: string, stats: Stats, types: Record<string, string>): SnapshotEntry {
    return {
      name,
      size: stats.size,
      contentType: types[name] ?? defaultContentType(name),
      etag: etagFor(stats),
      createdMs: stats.birthtimeMs || stats.ctimeMs,
      modifiedMs: stats.mtimeMs,
    };
  }

  async stat(name: string): Promise<SnapshotEntry | undefined> {
    if (!isValidSnapshotName(name)) return undefined;
    try {
      const stats = await stat(this.filePath(name));
      if (!stats.isFile()) return undefined;
      return this.entryFrom(name, stats, await this.contentTypes());
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /** Names of the finished files, in one directory read. */
  async names(): Promise<string[]> {
    try {
      const entries = await readdir(this.dir, { withFileTypes: true });
      return entries.filter((entry) => entry.isFile() && isValidSnapshotName(entry.name)).map((entry) => entry.name);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  async count(): Promise<number> {
    return (await this.names()).length;
  }

  async exists(name: string): Promise<boolean> {
    return (await this.stat(name)) !== undefined;
  }

  /** Makes a fully written temporary file visible as `name`: fsync, record its type, rename, fsync the folder. */
  async commit(tempPath: string, name: string, contentType: string): Promise<void> {
    await this.sync(tempPath);
    await this.publish(tempPath, name, contentType);
  }

  /** Flushes a temporary file to disk (the slow half of `commit`, safe to run outside any lock). */
  async sync(tempPath: string): Promise<void> {
    const handle = await open(tempPath, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  /** The quick half of `commit` for a temporary file already synced: type, rename, folder fsync. */
  async publish(tempPath: string, name: string, contentType: string): Promise<void> {
    await this.#recordType(name, contentType);
    await rename(tempPath, this.filePath(name));
    await fsyncDirectory(this.dir);
  }

  /** Writes a small file (an export's `.error`) atomically. */
  async writeSmallFile(name: string, content: string, contentType: string): Promise<void> {
    await this.ensure();
    await this.#recordType(name, contentType);
    await writeFileDurably(this.filePath(name), content);
  }

  /** Renames a finished file (a MOVE inside the area), its content type with it; replaces `to` if present. */
  async rename(from: string, to: string): Promise<void> {
    const types = await this.contentTypes();
    await this.#recordType(to, types[from] ?? defaultContentType(from));
    await rename(this.filePath(from), this.filePath(to));
    if (from in types) {
      delete types[from];
      await this.#saveTypes();
    }
    await fsyncDirectory(this.dir);
  }

  async remove(name: string): Promise<void> {
    await unlink(this.filePath(name));
    const types = await this.contentTypes();
    if (name in types) {
      delete types[name];
      await this.#saveTypes();
    }
  }

  /** Removes temporary files left by a crash or an aborted upload; only when nothing is being written. */
  async removeTemporaries(): Promise<string[]> {
    let entries: string[];
    try {
      entries = await readdir(this.dir);
    } catch {
      return [];
    }
    const temporaries = entries.filter(isTemporary);
    for (const name of temporaries) await unlink(confine(this.dir, name)).catch(() => {});
    return temporaries;
  }

  async #recordType(name: string, contentType: string): Promise<void> {
    const types = await this.contentTypes();
    if (contentType === defaultContentType(name)) {
      if (!(name in types)) return;
      delete types[name];
    } else {
      if (types[name] === contentType) return;
      types[name] = contentType;
    }
    await this.#saveTypes();
  }

  /** Queues a write of the map as it is when the write runs, so the last one holds every change. */
  #saveTypes(): Promise<void> {
    const write = this.#typesWrite.then(() => writeFileDurably(path.join(this.dir, metaFile), JSON.stringify(this.#types ?? {})));
    this.#typesWrite = write.catch(() => {});
    return write;
  }
}

/**
 * Where snapshot areas are kept: the seam a unit spread over several machines would implement
 * with shared storage. Today every area is a folder of the local data directory.
 */
export interface SnapshotStore {
  /** The cell's area (whether or not its folder exists yet). */
  of(cellId: string): SnapshotArea;
  /** Drops what is held in memory for a removed cell. */
  forget(cellId: string): void;
}

/** One SnapshotArea object per cell, so the content-type map is read once and shared. */
export class LocalSnapshotStore implements SnapshotStore {
  readonly #areas = new Map<string, SnapshotArea>();

  constructor(private readonly areaDir: (cellId: string) => string) {}

  of(cellId: string): SnapshotArea {
    let area = this.#areas.get(cellId);
    if (!area) {
      area = new SnapshotArea(this.areaDir(cellId));
      this.#areas.set(cellId, area);
    }
    return area;
  }

  forget(cellId: string): void {
    this.#areas.delete(cellId);
  }
}
