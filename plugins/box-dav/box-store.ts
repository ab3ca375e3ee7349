// A box on disk in Personium's layout (core/cell-content.ts): every resource is a folder holding
// `.pmeta` and, for files, `content`. New resources are built in a temporary folder and renamed
// into place, a new body goes to a temporary file renamed over `content`, and a removal first
// renames the folder away: a reader sees a resource whole or not at all, an aborted request
// changes nothing, and a crash leaves only temporaries, swept at the next start.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cp, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { newId, newPmeta, type Pmeta } from '../../core/cell-content.ts';
import { confine } from '../../core/confine.ts';
import { writeFileDurably } from '../../core/json-file.ts';
import { KeyedQueue } from '../../core/keyed-queue.ts';
import { isReservedResourceName } from './box-path.ts';

export const contentFile = 'content';
const pmetaFile = '.pmeta';
const tempPrefix = '.content.tmp-';
const listBatch = 32;

export interface Resource {
  dir: string;
  segments: string[];
  pmeta: Pmeta;
  isCollection: boolean;
}

export function etagOf(pmeta: Pmeta): string {
  return `"${pmeta.v}-${pmeta.u.toString(36)}-${String(pmeta.i).slice(0, 8)}"`;
}

export function isCollectionType(type: Pmeta['t']): boolean {
  return type !== 'dav.file';
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function tempName(): string {
  return `${tempPrefix}${randomBytes(8).toString('hex')}`;
}

/** A resource folder being removed can still receive a file from a request finishing in it. */
const removal = { recursive: true, force: true, maxRetries: 5, retryDelay: 20 } as const;

/** A `.pmeta` as read, with the fields the handlers rely on filled in when an import left them out. */
function normalised(pmeta: Pmeta): Pmeta {
  if (typeof pmeta !== 'object' || pmeta === null || Array.isArray(pmeta)) throw new SyntaxError('a .pmeta is a JSON object');
  pmeta.d ??= {};
  if (typeof pmeta.u !== 'number') pmeta.u = typeof pmeta.p === 'number' ? pmeta.p : 0;
  if (typeof pmeta.p !== 'number') pmeta.p = pmeta.u;
  if (typeof pmeta.v !== 'number') pmeta.v = 1;
  pmeta.i = String(pmeta.i ?? '');
  return pmeta;
}

function readPmetaNow(dir: string): Pmeta | undefined {
  try {
    return normalised(JSON.parse(readFileSync(path.join(dir, pmetaFile), 'utf8')) as Pmeta);
  } catch (error) {
    if (isMissing(error) || error instanceof SyntaxError) return undefined;
    throw error;
  }
}

/** How many `.pmeta` files were written, for tests that count writes per request. */
export const pmetaWrites = { count: 0 };

/** One `.pmeta` read-modify-write at a time per resource, across requests. */
const pmetaQueue = new KeyedQueue();

export class BoxStore {
  readonly #queue = pmetaQueue;

  constructor(readonly root: string) {}

  dirOf(segments: readonly string[]): string {
    return confine(this.root, ...segments);
  }

  async readPmeta(dir: string): Promise<Pmeta | undefined> {
    try {
      return normalised(JSON.parse(await readFile(path.join(dir, pmetaFile), 'utf8')) as Pmeta);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async writePmeta(dir: string, pmeta: Pmeta): Promise<void> {
    pmetaWrites.count += 1;
    await writeFileDurably(path.join(dir, pmetaFile), JSON.stringify(pmeta));
  }

  async stat(segments: readonly string[]): Promise<Resource | undefined> {
    const dir = this.dirOf(segments);
    const pmeta = await this.readPmeta(dir);
    return pmeta && { dir, segments: [...segments], pmeta, isCollection: isCollectionType(pmeta.t) };
  }

  /**
   * The members of a collection, a batch at a time, yielding to the event loop between batches.
   * A batch's small `.pmeta` files are read synchronously: one thread-pool round trip per file
   * costs four times the read itself, and a batch blocks the loop for a millisecond or two.
   */
  async *members(collection: Resource): AsyncGenerator<Resource[]> {
    const entries = await readdir(collection.dir, { withFileTypes: true });
    const names = entries.filter((entry) => entry.isDirectory() && !isReservedResourceName(entry.name)).map((entry) => entry.name);
    for (let i = 0; i < names.length; i += listBatch) {
      const batch: Resource[] = [];
      for (const name of names.slice(i, i + listBatch)) {
        const dir = path.join(collection.dir, name);
        const pmeta = readPmetaNow(dir);
        if (pmeta) batch.push({ dir, segments: [...collection.segments, name], pmeta, isCollection: isCollectionType(pmeta.t) });
      }
      yield batch;
      await yieldToEventLoop();
    }
  }

  /** Read-modify-write of a `.pmeta`, one at a time per resource; one write per call. */
  updatePmeta(dir: string, change: (pmeta: Pmeta) => void): Promise<Pmeta> {
    return this.#queue.run(dir, async () => {
      const pmeta = await this.readPmeta(dir);
      if (!pmeta) throw Object.assign(new Error('resource vanished'), { code: 'ENOENT' });
      change(pmeta);
      pmeta.u = Math.max(Date.now(), pmeta.u + 1);
      pmeta.v += 1;
      await this.writePmeta(dir, pmeta);
      return pmeta;
    });
  }

  /** A temporary folder beside the target: built there, renamed into place when whole. */
  async newTempFolder(parentDir: string): Promise<string> {
    const temp = path.join(parentDir, tempName());
    await mkdir(temp);
    return temp;
  }

  /** A temporary file for a new body of the file resource in `dir`. */
  tempContentPath(dir: string): string {
    return path.join(dir, tempName());
  }

  /** Renames a complete temporary folder to `target`; false when `target` exists already. */
  async publishFolder(temp: string, target: string): Promise<boolean> {
    try {
      await rename(temp, target);
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') return false;
      throw error;
    }
  }

  async createCollection(parentDir: string, name: string): Promise<boolean> {
    const temp = await this.newTempFolder(parentDir);
    try {
      await this.writePmeta(temp, newPmeta('col.webdav'));
      return await this.publishFolder(temp, path.join(parentDir, name));
    } finally {
      await rm(temp, removal);
    }
  }

  /** Writes the `.pmeta` of a new file whose `content` is already in `temp`, then publishes it. */
  async publishNewFile(temp: string, target: string, size: number, contentType: string): Promise<boolean> {
    await this.writePmeta(temp, newPmeta('dav.file', { cl: size, ct: contentType }));
    return this.publishFolder(temp, target);
  }

  /** Puts a complete temporary file in place as the content of the file resource in `dir`. */
  replaceContent(dir: string, tempFile: string, size: number, contentType: string): Promise<Pmeta> {
    return this.#queue.run(dir, async () => {
      const pmeta = await this.readPmeta(dir);
      if (!pmeta || isCollectionType(pmeta.t)) throw Object.assign(new Error('resource vanished'), { code: 'ENOENT' });
      await rename(tempFile, path.join(dir, contentFile));
      pmeta.cl = size;
      pmeta.ct = contentType;
      pmeta.u = Math.max(Date.now(), pmeta.u + 1);
      pmeta.v += 1;
      await this.writePmeta(dir, pmeta);
      return pmeta;
    });
  }

  /** Removes a resource and everything under it; it disappears at once (renamed away first). */
  async remove(dir: string): Promise<void> {
    const trash = path.join(path.dirname(dir), tempName());
    await rename(dir, trash);
    await rm(trash, removal);
  }

  /** Copies `source` to `target` (which must not exist): Depth 0 copies a collection without members. */
  async copy(source: Resource, targetParentDir: string, name: string, depth: 0 | 'infinity'): Promise<boolean> {
    const temp = path.join(targetParentDir, tempName());
    try {
      if (depth === 0 && source.isCollection) {
        await mkdir(temp);
        await writeFileDurably(path.join(temp, pmetaFile), JSON.stringify(source.pmeta));
      } else {
        await cp(source.dir, temp, { recursive: true, errorOnExist: true, filter: (entry) => !path.basename(entry).startsWith(tempPrefix) });
      }
      await this.#renewIds(temp);
      return await this.publishFolder(temp, path.join(targetParentDir, name));
    } finally {
      await rm(temp, removal);
    }
  }

  /** Moves `source` to `target` (which must not exist). */
  async move(source: Resource, target: string): Promise<boolean> {
    try {
      await rename(source.dir, target);
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') return false;
      throw error;
    }
  }

  /** A copy is a new resource: new ids and times, the same dead properties and content. */
  async #renewIds(dir: string): Promise<void> {
    const pmeta = await this.readPmeta(dir);
    if (!pmeta) return;
    const now = Date.now();
    await this.writePmeta(dir, { ...pmeta, i: newId(), p: now, u: now, v: 1 });
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.isDirectory() && !isReservedResourceName(entry.name)) await this.#renewIds(path.join(dir, entry.name));
    }
  }

  async openContent(dir: string) {
    return open(path.join(dir, contentFile), 'r');
  }
}

/**
 * Removes every temporary under `root` older than `before` (ms): unfinished uploads, folders of
 * resources never published, removals a crash interrupted, half-written `.pmeta` files.
 */
export async function sweepTemporaries(root: string, before: number): Promise<number> {
  let removed = 0;
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      if (entry.name.startsWith(tempPrefix) || /^\.pmeta\..*\.tmp$/.test(entry.name) || /^\.content\..*\.tmp$/.test(entry.name)) {
        const info = await stat(full).catch(() => undefined);
        if (info && info.mtimeMs < before) {
          await rm(full, removal);
          removed += 1;
        }
      } else if (entry.isDirectory()) {
        await walk(full);
      }
    }
    await yieldToEventLoop();
  };
  await walk(root);
  return removed;
}
