// Importing a snapshot into a cell: accepted through the cell state machine after
// inspect.ts found the zip sound, then, as a job, extracted into a new content folder of the cell
// that nobody sees (the staging area), checked against 00_checksums.json, and made live in the one
// store write that ends the job. The old content is removed only after that write; a crash before
// it leaves the old content live and the staging folder is swept at the next start.
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import type { Entry, ZipFile } from 'yauzl';
import { mainBoxName, newId, type BoxRecord, type ODataDocument, type Pmeta, type StagedContent } from '../../core/cell-content.ts';
import { confine } from '../../core/confine.ts';
import { bodyOf, errorBody, isPersoniumError, personiumError } from '../../core/errors.ts';
import { cellEntry, checksumsEntry, manifestEntry, odataFolder, pjsonFiles, webdavFolder, type PjsonLine } from '../../core/export-format.ts';
import { accountOf, roleLinkOf, roleOf } from '../../core/identity-lines.ts';
import type { ChecksumTable } from './key-table.ts';
import { writeFileDurably } from '../../core/json-file.ts';
import type { BeforeEntryHook } from '../../core/jobs.ts';
import type { Services } from '../../core/services.ts';
import type { Config } from '../../core/config.ts';
import type { CellRecord } from '../../core/store.ts';
import { writeEntry } from './entry-writer.ts';
import { FileWriterThread } from './file-writer.ts';
import { BackgroundFlush, syncFileSystem } from './file-system-sync.ts';
import { TaskPool } from './task-pool.ts';
import { inspectSnapshot, openZip, readEntryBytes, walkError, type InspectedSnapshot } from './inspect.ts';

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
    throw personiumError('PR400-CM-0004', `${odataFolder}${file}: ${line.length > 200 ? `${line.slice(0, 200)}...` : line}`);
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

export interface ImportSettings {
  /** What a snapshot may hold: entries, expanded bytes, compression ratio of one entry. */
  limits: Config['import'];
  /** How long a start waits for the writes under way in the cell (ms). */
  writeDrainMs: number;
  beforeEntry?: BeforeEntryHook | undefined;
}

type ImportServices = Pick<Services, 'store' | 'status' | 'jobs' | 'writes' | 'snapshots' | 'contents' | 'cells' | 'logger'>;

export class CellImporter {
  readonly #beforeEntry: BeforeEntryHook | undefined;

  constructor(private readonly unit: ImportServices, private readonly settings: ImportSettings) {
    this.#beforeEntry = settings.beforeEntry;
  }

  /** Checks the stored snapshot, then records and queues the import; resolves before the 202. */
  async start(cell: CellRecord, name: string): Promise<void> {
    const area = this.unit.snapshots.of(cell.id);
    const file = `${name}.zip`;
    if (!(await area.exists(file))) throw personiumError('PR404-DV-0001', file);
    await inspectSnapshot(area.filePath(file), this.settings.limits);
    await this.unit.status.accept(cell.id, 'import', name, new Date());
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
      // Inspected again: the file may have been replaced between the 202 and this start.
      const snapshot = await inspectSnapshot(file, this.settings.limits);
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

  async #extract(file: string, snapshot: InspectedSnapshot, staged: StagedContent, cellId: string, signal: AbortSignal): Promise<void> {
    const zip = await openZip(file);
    try {
      const progress = new ImportProgress(snapshot.totalBytes, (percent) => this.unit.status.reportProgress(cellId, percent));
      await this.#verifyListing(zip, snapshot);
      const { document, boxIds, ids } = await this.#readOData(zip, snapshot, cellId);
      const { davRoot } = staged;
      const pool = new TaskPool(extractConcurrency);
      const files = new FileWriterThread();
      const flush = new BackgroundFlush(staged.dir);
      const onBytes = (bytes: number) => {
        progress.add(bytes);
        flush.add(bytes);
      };
      try {
        for await (const entry of walk(zip)) {
          const entryPath = entry.fileName;
          signal.throwIfAborted();
          if (!entryPath.startsWith(webdavFolder)) continue;
          await this.#beforeEntry?.(entryPath, signal);
          signal.throwIfAborted();
          const target = this.#targetOf(davRoot, entryPath.slice(webdavFolder.length), boxIds);
          // The cell's own `.pmeta` and each box's: their ids become this cell's and the new boxes'.
          const idOwner = /^(?:([^/]+)\/)?\.pmeta$/.exec(entryPath.slice(webdavFolder.length));
          await pool.add(async () => {
            if (entryPath.endsWith('/')) return files.mkdir(target);
            if (!idOwner) return this.#writeFile(zip, entry, entryPath, target, files, snapshot.checksums, onBytes);
            await mkdir(path.dirname(target), { recursive: true });
            await this.#writeOwnerPmeta(zip, entry, entryPath, target, snapshot.checksums, idOwner[1] === undefined || idOwner[1] === mainBoxName ? ids : boxIds.get(idOwner[1])!);
          });
        }
        await pool.drain();
      } finally {
        await pool.drain().catch(() => {});
        await files.close();
        await flush.settle();
      }
      await this.unit.contents.completeStaged(staged, document);
      // The swap must never point at data that a power cut could still take away: files,
      // folders and their names, all on the one file system of the data directory.
      await syncFileSystem(staged.dir);
    } finally {
      zip.close();
    }
  }

  /** Every entry 00_checksums.json lists exists; the manifest, read before the 202, is checked here. */
  async #verifyListing(zip: ZipFile, snapshot: InspectedSnapshot): Promise<void> {
    if (snapshot.missingListed !== undefined) throw personiumError('PR400-SN-0006', `${snapshot.missingListed} is listed in ${checksumsEntry} but missing`);
    const manifest = snapshot.entries.get(manifestEntry)!;
    if (!snapshot.checksums || snapshot.checksums.has(manifestEntry)) checkSum(manifest, await readEntryBytes(zip, manifest), snapshot.checksums);
  }

  /**
   * The OData part: Box lines become boxes with new ids; every other line is kept, with the ids it
   * shares with the cell and its boxes (`c`, `b`, `l`; Personium's main box is the cell's id) made
   * this cell's and the new boxes', as Personium's import rewrites them.
   */
  async #readOData(zip: ZipFile, snapshot: InspectedSnapshot, cellId: string): Promise<{ document: ODataDocument; boxIds: Map<string, string>; ids: Map<string, string> }> {
    const verified = async (name: string) => {
      const entry = snapshot.entries.get(name)!;
      const bytes = await readEntryBytes(zip, entry);
      checkSum(entry, bytes, snapshot.checksums);
      return bytes.toString('utf8');
    };
    const cellLine = parseLine('00_cell.json', await verified(cellEntry));
    const source = { ...cellLine._source };
    delete source.p;
    delete source.u;
    const document: ODataDocument = { boxes: [], cellSource: source, preserved: {} };
    const boxIds = new Map<string, string>();
    const now = Date.now();
    const kept: Array<[string, string[]]> = [];
    for (const [file] of pjsonFiles) {
      const lines = (await verified(`${odataFolder}${file}`)).split('\n').filter((line) => line.trim() !== '');
      if (file !== '10_box.pjson') {
        // Each must be a hit, as Personium's import would parse it.
        for (const line of lines) parseLine(file, line);
        if (lines.length) kept.push([file, lines]);
        continue;
      }
      for (const line of lines) {
        const hit = parseLine(file, line);
        const statics = (hit._source.s ?? {}) as { Name?: unknown; Schema?: unknown };
        if (typeof statics.Name !== 'string') throw personiumError('PR400-CM-0004', `${odataFolder}${file}: ${line.slice(0, 200)}`);
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
    const ids = new Map([[cellLine._id, cellId], ...boxIds]);
    for (const [file, lines] of kept) {
      const rest = lines.map((line) => withIds(line, ids)).filter((line) => !this.#modelIdentity(file, parseLine(file, line), document, now));
      if (rest.length) document.preserved[file] = rest;
    }
    return { document, boxIds, ids };
  }

  /** Accounts, roles and Account↔Role links become records of the document; true when the line was one. */
  #modelIdentity(file: string, hit: PjsonLine, document: ODataDocument, now: number): boolean {
    if (file === '11_account.pjson') {
      const account = accountOf(hit, now);
      if (!account) throw personiumError('PR400-CM-0004', `${odataFolder}${file}: ${JSON.stringify(hit).slice(0, 200)}`);
      (document.accounts ??= []).push(account);
      return true;
    }
    if (file === '20_role.pjson') {
      const role = roleOf(hit, now);
      if (!role) throw personiumError('PR400-CM-0004', `${odataFolder}${file}: ${JSON.stringify(hit).slice(0, 200)}`);
      (document.roles ??= []).push(role);
      return true;
    }
    if (file !== '80_link.pjson') return false;
    const link = roleLinkOf(hit, now);
    if (link) (document.links ??= []).push(link);
    return link !== undefined;
  }

  /** 20_webdav/{box}/... → the staging folder, with the box's old id mapped to its new one. */
  #targetOf(davRoot: string, below: string, boxIds: Map<string, string>): string {
    const segments = below.replace(/\/$/, '').split('/').filter(Boolean);
    if (segments.length === 0 || (segments.length === 1 && segments[0] === '.pmeta')) return confine(davRoot, ...segments);
    const [box, ...rest] = segments;
    const mapped = box === mainBoxName ? mainBoxName : boxIds.get(box!);
    if (!mapped) throw personiumError('PR400-SN-0006', `${webdavFolder}${box}/ belongs to no box of 10_odata/10_box.pjson`);
    return confine(davRoot, mapped, ...rest);
  }

  /**
   * The `.pmeta` of the cell or of a box, with its id made the target's: a box's its new id; the
   * cell's and the main box's (Personium gives both the cell's id) this cell's when they name the source cell.
   */
  async #writeOwnerPmeta(zip: ZipFile, entry: Entry, name: string, target: string, checksums: ChecksumTable | undefined, id: string | Map<string, string>): Promise<void> {
    const bytes = await readEntryBytes(zip, entry, 1024 * 1024);
    checkSum(entry, bytes, checksums);
    const text = bytes.toString('utf8');
    let pmeta: Pmeta;
    try {
      pmeta = JSON.parse(text) as Pmeta;
    } catch {
      throw personiumError('PR400-CM-0004', `${name}: ${text.slice(0, 200)}`);
    }
    await writeFileDurably(target, JSON.stringify({ ...pmeta, i: typeof id === 'string' ? id : id.get(pmeta.i) ?? pmeta.i }));
  }

  /** One file entry to disk, held against its line in 00_checksums.json, or else its CRC-32. */
  async #writeFile(zip: ZipFile, entry: Entry, name: string, target: string, files: FileWriterThread, checksums: ChecksumTable | undefined, onBytes: (bytes: number) => void): Promise<void> {
    if (checksums && !checksums.has(name)) throw personiumError('PR400-SN-0005', name);
    const written = await writeEntry(zip, entry, target, files, onBytes);
    if (!checksums) {
      if (written.crc32 !== entry.crc32) throw crcMismatch(entry);
    } else if (!checksums.matches(name, written.size, written.sha256)) {
      throw personiumError('PR400-SN-0005', name);
    }
  }

}

/** The central directory again, one entry at a time; its errors said as the inspection says them. */
async function* walk(zip: ZipFile): AsyncGenerator<Entry> {
  try {
    yield* zip.eachEntry();
  } catch (error) {
    throw isPersoniumError(error) ? error : walkError(error as Error);
  }
}

/** A small entry held to its line in 00_checksums.json, or else to its CRC-32 (the size yauzl holds it to). */
function checkSum(entry: Entry, bytes: Buffer, checksums: ChecksumTable | undefined): void {
  if (!checksums) {
    if (crc32(bytes) !== entry.crc32) throw crcMismatch(entry);
    return;
  }
  if (!checksums.matches(entry.fileName, bytes.length, createHash('sha256').update(bytes).digest())) {
    throw personiumError('PR400-SN-0005', entry.fileName);
  }
}

function crcMismatch(entry: Entry) {
  return personiumError('PR400-SN-0006', `${entry.fileName}: its CRC-32 does not match its data`);
}

/** A kept `.pjson` line with the ids of `ids` (as JSON strings) replaced by their new values. */
function withIds(line: string, ids: Map<string, string>): string {
  return line.replace(/"([^"\\]{1,128})"/g, (whole, value: string) => {
    const mapped = ids.get(value);
    return mapped === undefined ? whole : `"${mapped}"`;
  });
}
