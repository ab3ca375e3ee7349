// Importing a snapshot into a cell (spec §9): accepted through the cell state machine after
// inspect.ts found the zip sound, then, as a job, extracted into a new content folder of the cell
// that nobody sees (the staging area), checked against 00_checksums.json, and made live in the one
// store write that ends the job. The old content is removed only after that write; a crash before
// it leaves the old content live and the staging folder is swept at the next start.
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import type { Entry, ZipFile } from 'yauzl';
import { clearImportStaging, discard, mainBoxName, markImportStaging, newId, type BoxRecord, type ODataDocument, type Pmeta } from '../../core/cell-content.ts';
import { confine } from '../../core/confine.ts';
import { CellarError, bodyOfAnyError, errorBody } from '../../core/errors.ts';
import { cellEntry, checksumsEntry, manifestEntry, odataFolder, pjsonFiles, webdavFolder, type PjsonLine, type SnapshotChecksums } from '../../core/export-format.ts';
import { fsyncDirectory, writeFileDurably } from '../../core/json-file.ts';
import type { Unit } from '../../core/server.ts';
import type { CellRecord } from '../../core/store.ts';
import { newContentId } from '../../core/store.ts';
import { writeEntry } from './entry-writer.ts';
import { FileWriterThread } from './file-writer.ts';
import { TaskPool } from './task-pool.ts';
import { inspectSnapshot, openZip, readEntryBytes, walkError, type InspectedSnapshot } from './inspect.ts';

const execFileAsync = promisify(execFile);
/**
 * Entries in flight at once: enough that the file writer thread always has files waiting while
 * the next are read and inflated, and large ones stream through the thread pool meanwhile.
 */
const extractConcurrency = 16;

function parseLine(file: string, line: string): PjsonLine {
  try {
    const parsed = JSON.parse(line) as PjsonLine;
    if (typeof parsed !== 'object' || parsed === null || typeof parsed._id !== 'string') throw new Error('not a hit');
    return parsed;
  } catch {
    throw new CellarError('PR400-CM-0004', `${odataFolder}${file}: ${line.length > 200 ? `${line.slice(0, 200)}...` : line}`);
  }
}

/** Bytes-weighted progress that never goes down. */
class ImportProgress {
  #done = 0;
  constructor(private readonly total: number, private readonly report: (percent: number) => void) {}
  add(bytes: number): void {
    this.#done += bytes;
    if (this.total > 0) this.report(Math.min(99, (this.#done * 100) / this.total));
  }
}

/** A test seam: awaited before each `20_webdav/` entry is extracted. */
export type BeforeEntryHook = (entry: string, signal: AbortSignal) => Promise<void>;

export class CellImporter {
  beforeEntry: BeforeEntryHook | undefined;

  constructor(private readonly unit: Unit) {}

  /** Checks the stored snapshot, then records and queues the import; resolves before the 202. */
  async start(cell: CellRecord, name: string): Promise<void> {
    const area = this.unit.snapshots.of(cell.id);
    const file = `${name}.zip`;
    if (!(await area.exists(file))) throw new CellarError('PR404-DV-0001', file);
    await inspectSnapshot(area.filePath(file), this.unit.config.import);
    await this.unit.status.accept(cell.id, 'import', name, new Date());
    this.unit.jobs.submit({ cellId: cell.id, kind: 'import', name, run: (signal) => this.run(cell.id, name, signal) });
  }

  /** The job: never throws; it ends the import through the state machine however it goes. */
  async run(cellId: string, name: string, signal: AbortSignal): Promise<void> {
    const { contents, status, store, logger } = this.unit;
    const cell = store.getCellById(cellId)!;
    const contentId = newContentId();
    const staging = confine(contents.cellDir(cellId), contentId);
    try {
      signal.throwIfAborted();
      const file = this.unit.snapshots.of(cellId).filePath(`${name}.zip`);
      // Inspected again: the file may have been replaced between the 202 and this start.
      const snapshot = await inspectSnapshot(file, this.unit.config.import);
      await markImportStaging(staging);
      await this.#extract(file, snapshot, staging, cellId, signal);
      signal.throwIfAborted();
      const oldDir = contents.contentDir(cell);
      status.reportProgress(cellId, 100);
      await status.importSucceeded(cellId, contentId);
      await clearImportStaging(staging);
      contents.forget(oldDir);
      await discard(oldDir);
      logger.info({ cellId, name }, 'cell import done');
    } catch (error) {
      const body = signal.aborted ? errorBody('PR503-SV-0002') : bodyOfAnyError(error);
      logger.warn({ cellId, name, err: error, code: body.code }, 'cell import failed');
      await discard(staging).catch(() => {});
      await status.importFailed(cellId, body).catch((failure: unknown) => logger.error({ cellId, err: failure }, 'could not record the failed import'));
    }
  }

  async #extract(file: string, snapshot: InspectedSnapshot, staging: string, cellId: string, signal: AbortSignal): Promise<void> {
    const zip = await openZip(file);
    try {
      const progress = new ImportProgress(snapshot.totalBytes, (percent) => this.unit.status.reportProgress(cellId, percent));
      await this.#verifyListing(zip, snapshot);
      const { document, boxIds } = await this.#readOData(zip, snapshot);
      const davRoot = path.join(staging, 'dav');
      await mkdir(davRoot, { recursive: true });
      const pool = new TaskPool(extractConcurrency);
      const files = new FileWriterThread();
      const flush = new BackgroundFlush(staging);
      const onBytes = (bytes: number) => {
        progress.add(bytes);
        flush.add(bytes);
      };
      try {
        for await (const entry of walk(zip)) {
          const entryPath = entry.fileName;
          signal.throwIfAborted();
          if (!entryPath.startsWith(webdavFolder)) continue;
          await this.beforeEntry?.(entryPath, signal);
          signal.throwIfAborted();
          const target = this.#targetOf(davRoot, entryPath.slice(webdavFolder.length), boxIds);
          const boxRoot = /^([^/]+)\/\.pmeta$/.exec(entryPath.slice(webdavFolder.length));
          await pool.add(async () => {
            if (entryPath.endsWith('/')) return files.mkdir(target);
            if (!boxRoot) return this.#writeFile(zip, entry, entryPath, target, files, snapshot.checksums, onBytes);
            await mkdir(path.dirname(target), { recursive: true });
            await this.#writeBoxPmeta(zip, entry, entryPath, target, snapshot.checksums, boxIds.get(boxRoot[1]!) ?? mainBoxName);
          });
        }
      } finally {
        await pool.drain().catch(() => {});
        await files.close();
        await flush.settle();
      }
      await pool.drain();
      for (const box of [mainBoxName, ...document.boxes.map((record) => record._id)]) {
        const dir = path.join(davRoot, box);
        await mkdir(dir, { recursive: true });
        const pmetaExists = await open(path.join(dir, '.pmeta'), 'r').then(async (handle) => { await handle.close(); return true; }, () => false);
        if (!pmetaExists) await writeFileDurably(path.join(dir, '.pmeta'), JSON.stringify(newPmetaFor(box)));
      }
      const cellPmeta = await open(path.join(davRoot, '.pmeta'), 'r').then(async (handle) => { await handle.close(); return true; }, () => false);
      if (!cellPmeta) await writeFileDurably(path.join(davRoot, '.pmeta'), JSON.stringify(newPmetaFor('Cell')));
      await writeFileDurably(path.join(staging, 'odata.json'), JSON.stringify(document));
      // One sync of the whole file system instead of an fsync per file: the swap must never
      // point at data that a power cut could still take away. The background flushes left it
      // little to write.
      await syncFileSystem(staging);
    } finally {
      zip.close();
    }
  }

  /** Every entry 00_checksums.json lists exists; the manifest, read before the 202, is checked here. */
  async #verifyListing(zip: ZipFile, snapshot: InspectedSnapshot): Promise<void> {
    for (const name of Object.keys(snapshot.checksums)) {
      if (!snapshot.names.has(name)) throw new CellarError('PR400-SN-0006', `${name} is listed in ${checksumsEntry} but missing`);
    }
    if (snapshot.checksums[manifestEntry]) checkSum(manifestEntry, await readEntryBytes(zip, snapshot.entries.get(manifestEntry)!), snapshot.checksums);
  }

  /** The OData part: Box lines become boxes with new ids; every other line is kept verbatim. */
  async #readOData(zip: ZipFile, snapshot: InspectedSnapshot): Promise<{ document: ODataDocument; boxIds: Map<string, string> }> {
    const verified = async (name: string) => {
      const entry = snapshot.entries.get(name)!;
      const bytes = await readEntryBytes(zip, entry);
      checkSum(name, bytes, snapshot.checksums);
      return bytes.toString('utf8');
    };
    const cellLine = parseLine('00_cell.json', await verified(cellEntry));
    const source = { ...cellLine._source };
    delete source.p;
    delete source.u;
    const document: ODataDocument = { boxes: [], cellSource: source, preserved: {} };
    const boxIds = new Map<string, string>();
    const now = Date.now();
    for (const [file] of pjsonFiles) {
      const lines = (await verified(`${odataFolder}${file}`)).split('\n').filter((line) => line.trim() !== '');
      if (file !== '10_box.pjson') {
        // Kept as they are, but each must be a hit, as Personium's import would parse it.
        for (const line of lines) parseLine(file, line);
        if (lines.length) document.preserved[file] = lines;
        continue;
      }
      for (const line of lines) {
        const hit = parseLine(file, line);
        const statics = (hit._source.s ?? {}) as { Name?: unknown; Schema?: unknown };
        if (typeof statics.Name !== 'string') throw new CellarError('PR400-CM-0004', `${odataFolder}${file}: ${line.slice(0, 200)}`);
        const id = newId();
        boxIds.set(hit._id, id);
        const record: BoxRecord = {
          _id: id,
          Name: statics.Name,
          Schema: typeof statics.Schema === 'string' ? statics.Schema : null,
          __published: typeof hit._source.p === 'number' ? hit._source.p : now,
          __updated: now,
        };
        document.boxes.push(record);
      }
    }
    return { document, boxIds };
  }

  /** 20_webdav/{box}/... → the staging folder, with the box's old id mapped to its new one. */
  #targetOf(davRoot: string, below: string, boxIds: Map<string, string>): string {
    const segments = below.replace(/\/$/, '').split('/').filter(Boolean);
    if (segments.length === 0 || (segments.length === 1 && segments[0] === '.pmeta')) return confine(davRoot, ...segments);
    const [box, ...rest] = segments;
    const mapped = box === mainBoxName ? mainBoxName : boxIds.get(box!);
    if (!mapped) throw new CellarError('PR400-SN-0006', `${webdavFolder}${box}/ belongs to no box of 10_odata/10_box.pjson`);
    return confine(davRoot, mapped, ...rest);
  }

  async #writeBoxPmeta(zip: ZipFile, entry: Entry, name: string, target: string, checksums: SnapshotChecksums, boxId: string): Promise<void> {
    const bytes = await readEntryBytes(zip, entry, 1024 * 1024);
    checkSum(name, bytes, checksums);
    const text = bytes.toString('utf8');
    let pmeta: Pmeta;
    try {
      pmeta = JSON.parse(text) as Pmeta;
    } catch {
      throw new CellarError('PR400-CM-0004', `${name}: ${text.slice(0, 200)}`);
    }
    await writeFileDurably(target, JSON.stringify({ ...pmeta, i: boxId === mainBoxName ? pmeta.i : boxId }));
  }

  /** One file entry to disk, held against its line in 00_checksums.json. */
  async #writeFile(zip: ZipFile, entry: Entry, name: string, target: string, files: FileWriterThread, checksums: SnapshotChecksums, onBytes: (bytes: number) => void): Promise<void> {
    const expected = checksums[name];
    if (!expected) throw new CellarError('PR400-SN-0005', name);
    const written = await writeEntry(zip, entry, target, files, onBytes);
    if (written.size !== expected.size || written.sha256 !== expected.sha256) throw new CellarError('PR400-SN-0005', name);
  }

}

/** Extracted bytes after which the file system is flushed again in the background. */
export const flushEveryBytes = 64 * 1024 * 1024;

/**
 * Flushes the file system in the background while the extraction goes on, at most one flush at a
 * time, so that the sync before the swap finds little left to write (bench corpus: that sync took
 * 0.2-0.4 s, and about 0.03 s after background flushes). A background flush's errors are left to
 * the final sync, which reports them.
 */
export class BackgroundFlush {
  #written = 0;
  #flushedAt = 0;
  #running: Promise<void> | undefined;
  /** Flushes started so far. */
  started = 0;

  constructor(private readonly dir: string) {}

  add(bytes: number): void {
    this.#written += bytes;
    if (this.#running || this.#written - this.#flushedAt < flushEveryBytes) return;
    this.#flushedAt = this.#written;
    this.started += 1;
    this.#running = execFileAsync('sync', ['--file-system', this.dir]).then(() => {}, () => {}).finally(() => {
      this.#running = undefined;
    });
  }

  /** Waits for the flush under way, if any. */
  async settle(): Promise<void> {
    await this.#running;
  }
}

async function syncFileSystem(dir: string): Promise<void> {
  await execFileAsync('sync', ['--file-system', dir]);
  await fsyncDirectory(dir);
}

/** The central directory again, one entry at a time; its errors said as the inspection says them. */
async function* walk(zip: ZipFile): AsyncGenerator<Entry> {
  try {
    yield* zip.eachEntry();
  } catch (error) {
    throw error instanceof CellarError ? error : walkError(error as Error);
  }
}

function checkSum(name: string, bytes: Buffer, checksums: SnapshotChecksums): void {
  const expected = checksums[name];
  if (!expected || expected.size !== bytes.length || createHash('sha256').update(bytes).digest('hex') !== expected.sha256) {
    throw new CellarError('PR400-SN-0005', name);
  }
}

function newPmetaFor(kind: string): Pmeta {
  const now = Date.now();
  return { i: newId(), t: kind === 'Cell' ? 'Cell' : 'col.box', a: null, d: {}, p: now, u: now, v: 1 };
}
