// Importing a snapshot into a cell: accepted through the cell state machine after
// inspect.ts found the zip sound, then, as a job, extracted into a new content folder of the cell
// that nobody sees (the staging area), checked against 00_checksums.json, and made live in the one
// store write that ends the job. The old content is removed only after that write; a crash before
// it leaves the old content live and the staging folder is swept at the next start.
import { mkdir } from 'node:fs/promises';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import path from 'node:path';
import type { Entry, ZipFile } from 'yauzl';
import type { StagedContent } from '../../core/cell-content.ts';
import { confineBelow } from '../../core/confine.ts';
import { bodyOf, errorBody, personiumError } from '../../core/errors.ts';
import { checksumsEntry, webdavFolder } from '../../core/export-format.ts';
import { keptThreadsMs } from '../../core/kept-threads.ts';
import type { ChecksumTable } from './key-table.ts';
import { writeFileDurably } from '../../core/json-file.ts';
import type { BeforeEntryHook } from '../../core/jobs.ts';
import type { Services } from '../../core/services.ts';
import type { Config } from '../../core/config.ts';
import type { CellRecord } from '../../core/store.ts';
import { isSmallEntry, writeEntry } from './entry-writer.ts';
import { EntryBatches } from './entry-batches.ts';
import { FileWriterPool, type FileWriters } from './file-writer.ts';
import { BackgroundFlush, syncFileSystem } from './file-system-sync.ts';
import { TaskPool } from './task-pool.ts';
import { fileIdentity, zipIdentity, zipWindow } from './block-reader.ts';
import { entriesPerTurn } from './central-directory.ts';
import { inspectSnapshot, openZip, type InspectedSnapshot } from './inspect.ts';
import { checkFileDigest, pmetaOwnerIds, readOData, readOwnerPmeta, requireListed, targetSegments, verifyListing, walkEntries, withRoleIds } from './snapshot-checks.ts';

/**
 * Entries in flight at once: enough that the file writer thread always has files waiting while
 * the next are read and inflated, and large ones stream through the thread pool meanwhile.
 */
const extractConcurrency = 16;

/** Bytes-weighted progress that never goes down. */
class ImportProgress {
  #done = 0;
  constructor(private readonly total: number, private readonly report: (percent: number) => void) {}
  add(bytes: number): void {
    this.#done += bytes;
    if (this.total > 0) this.report(Math.min(99, (this.#done * 100) / this.total));
  }
}

export interface ImportSettings {
  /** What a snapshot may hold: entries, expanded bytes, compression ratio of one entry. */
  limits: Config['import'];
  /** How long a start waits for the writes under way in the cell (ms). */
  writeDrainMs: number;
  beforeEntry?: BeforeEntryHook | undefined;
}

type ImportServices = Pick<Services, 'store' | 'status' | 'jobs' | 'writes' | 'snapshots' | 'contents' | 'cells' | 'logger'>;

/** Clock granularity of file change times, with room: a file changed this close to its inspection may change again unseen. */
const changeTimeGrainMs = 50;

export class CellImporter {
  readonly #beforeEntry: BeforeEntryHook | undefined;
  /**
   * The inspection made before the last 202, for its job to take when the file is still the one
   * inspected (inspecting a snapshot of 10,000 small files takes about half a second). One only, so
   * imports waiting in the queue do not each hold their tables; theirs are made again.
   */
  #lastInspection: { cellId: string; file: string; snapshot: InspectedSnapshot } | undefined;

  /** The file writer threads, kept a minute after an import for the next one. */
  readonly #writers = new FileWriterPool(keptThreadsMs);

  constructor(private readonly unit: ImportServices, private readonly settings: ImportSettings) {
    this.#beforeEntry = settings.beforeEntry;
  }

  /** Ends the threads kept between imports (the server stops). */
  async close(): Promise<void> {
    await this.#writers.close();
  }

  /** Checks the stored snapshot, then records and queues the import; resolves before the 202. */
  async start(cell: CellRecord, name: string): Promise<void> {
    const area = this.unit.snapshots.of(cell.id);
    const file = `${name}.zip`;
    if (!(await area.exists(file))) throw personiumError('PR404-DV-0001', file);
    const inspected = await inspectSnapshot(area.filePath(file), this.settings.limits);
    await this.unit.status.accept(cell.id, 'import', name, new Date());
    this.#lastInspection = { cellId: cell.id, file: area.filePath(file), snapshot: inspected };
    // The content is about to be replaced: a write already under way would land in the old one.
    if (!(await this.unit.writes.drained(cell.id, this.settings.writeDrainMs))) {
      await this.unit.status.withdrawImport(cell.id);
      throw personiumError('PR409-MC-0001');
    }
    this.unit.jobs.submit({ cellId: cell.id, kind: 'import', name, run: (signal) => this.run(cell.id, name, signal) });
  }

  /** The job: never throws; it ends the import through the state machine however it goes. */
  async run(cellId: string, name: string, signal: AbortSignal): Promise<void> {
    const { contents, cells, status, logger } = this.unit;
    let staged: StagedContent | undefined;
    try {
      signal.throwIfAborted();
      const file = this.unit.snapshots.of(cellId).filePath(`${name}.zip`);
      // Inspected again when the file may have been replaced or changed since the 202.
      const snapshot = (await this.#takeInspection(cellId, file)) ?? await inspectSnapshot(file, this.settings.limits);
      if (!snapshot.checksums) {
        logger.warn({ cellId, name }, `the snapshot has no ${checksumsEntry} (Personium makes none): every entry is held to its own CRC-32 and size instead of a SHA-256`);
      }
      staged = await contents.stage(cellId);
      await this.#extract(file, snapshot, staged, cellId, signal);
      signal.throwIfAborted();
      status.reportProgress(cellId, 100);
      await cells.commitImport(cellId, staged);
      logger.info({ cellId, name }, 'cell import done');
    } catch (error) {
      const body = signal.aborted ? errorBody('PR503-SV-0002') : bodyOf(error);
      logger.warn({ cellId, name, err: error, code: body.code }, 'cell import failed');
      if (staged) await contents.discardStaged(staged).catch(() => {});
      await status.importFailed(cellId, body).catch((failure: unknown) => logger.error({ cellId, err: failure }, 'could not record the failed import'));
    }
  }

  /**
   * The inspection before the 202 when the file has not changed since: same inode, size and
   * times, and its last change far enough before the inspection that a later one would show.
   */
  async #takeInspection(cellId: string, file: string): Promise<InspectedSnapshot | undefined> {
    const kept = this.#lastInspection;
    if (kept?.cellId !== cellId || kept.file !== file) return undefined;
    this.#lastInspection = undefined;
    const { identity, openedMs } = kept.snapshot;
    if (identity.changedMs > openedMs - changeTimeGrainMs) return undefined;
    const now = await fileIdentity(file).catch(() => undefined);
    return now?.key === identity.key ? kept.snapshot : undefined;
  }

  async #extract(file: string, snapshot: InspectedSnapshot, staged: StagedContent, cellId: string, signal: AbortSignal): Promise<void> {
    const zip = await openZip(file);
    try {
      // Only the file that was inspected is extracted: some checks (unsafe names, the layout) are the inspection's alone.
      if (zipIdentity(zip).key !== snapshot.identity.key) throw personiumError('PR409-DV-0003', `${path.basename(file)} (it changed after it was inspected)`);
      const progress = new ImportProgress(snapshot.totalBytes, (percent) => this.unit.status.reportProgress(cellId, percent));
      await verifyListing(zip, snapshot);
      const odata = await readOData(zip, snapshot, cellId);
      const davRoot = path.resolve(staged.davRoot);
      const pool = new TaskPool(extractConcurrency);
      const files = this.#writers.take();
      const flush = new BackgroundFlush(staged.dir);
      const onBytes = (bytes: number) => {
        progress.add(bytes);
        flush.add(bytes);
      };
      const small = new EntryBatches(files, zipWindow(zip).fd, snapshot.checksums, (bytes, entries) => {
        progress.add(bytes);
        flush.add(bytes, entries);
      });
      try {
        let walked = 0;
        for (const entry of walkEntries(zip)) {
          if (++walked % entriesPerTurn === 0) {
            // A turn of the event loop now and then, for the unit's other requests; what the
            // threads have not been sent yet goes first.
            await small.flush();
            await yieldToEventLoop();
          }
          const entryPath = entry.fileName;
          signal.throwIfAborted();
          if (!entryPath.startsWith(webdavFolder)) continue;
          if (this.#beforeEntry) {
            await small.flush();
            await this.#beforeEntry(entryPath, signal);
            signal.throwIfAborted();
          }
          const below = entryPath.slice(webdavFolder.length);
          const target = confineBelow(davRoot, targetSegments(below, odata.boxIds));
          // The cell's own `.pmeta` and each box's: their ids become this cell's and the new boxes'.
          const ownerIds = pmetaOwnerIds(below, odata);
          const rewrite = entryPath.endsWith('/.pmeta') && odata.roleIds.size > 0 ? (data: Buffer) => withRoleIds(data, odata.roleIds) : undefined;
          const folder = entryPath.endsWith('/');
          if (folder || (!ownerIds && !rewrite && isSmallEntry(entry))) {
            const wait = small.add(entry, target, folder ? -1 : requireListed(entryPath, snapshot.checksums));
            if (wait) await wait;
          } else {
            // A large file may take a while: the small ones gathered so far go first.
            if (!isSmallEntry(entry)) await small.flush();
            await pool.add(async () => {
              // A small file written here counts as an entry toward the next background flush, as the threads' do.
              if (isSmallEntry(entry)) flush.add(0, 1);
              if (!ownerIds) return this.#writeFile(zip, entry, target, files, snapshot.checksums, onBytes, rewrite);
              await mkdir(path.dirname(target), { recursive: true });
              await writeFileDurably(target, JSON.stringify(await readOwnerPmeta(zip, entry, snapshot.checksums, ownerIds, odata.roleIds)));
            });
          }
        }
        await small.drain();
        await pool.drain();
      } finally {
        // Stopped: the batches already sent are waited for, the partial ones are not sent.
        await (signal.aborted ? small.settle() : small.drain()).catch(() => {});
        await pool.drain().catch(() => {});
        await this.#writers.give(files);
        await flush.settle();
      }
      await this.unit.contents.completeStaged(staged, odata.document);
      // The swap must never point at data that a power cut could still take away: files,
      // folders and their names, all on the one file system of the data directory.
      await syncFileSystem(staged.dir);
    } finally {
      zip.close();
    }
  }

  /** One file entry to disk, held against its line in 00_checksums.json, or else its CRC-32. */
  async #writeFile(zip: ZipFile, entry: Entry, target: string, files: FileWriters, checksums: ChecksumTable | undefined, onBytes: (bytes: number) => void, rewrite?: (data: Buffer) => Buffer): Promise<void> {
    const slot = requireListed(entry.fileName, checksums);
    checkFileDigest(entry, await writeEntry(zip, entry, target, files, onBytes, rewrite), checksums, slot);
  }
}
