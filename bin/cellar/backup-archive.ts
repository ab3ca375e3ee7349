// Reads a unit backup (a tar in the layout of core/backup-layout.ts) from its file and checks every
// entry: its kind and name against the layout, its bytes against their SHA-256, and, once the
// manifest (the last entry) is reached, every entry against its line. The checks are the same for
// `unit verify`, `unit restore` (which also writes each entry into a folder) and `unit backup`
// once the download is whole (which leaves the SHA-256 out unless asked: see ReadOptions.hashes).
// The main thread walks the headers (tar-walk.ts) without reading the entries' bytes; two threads
// (the import's writer threads) read those from the archive's descriptor, hash them and write
// them out, in batches, so that both cores hash and the kernel creates files on both. The
// entries' own lines are spooled to disk and at most a few batches are under way, so memory stays
// flat in the size of the unit; the names are kept to refuse duplicates and entries whose folder
// came later.
import { randomBytes } from 'node:crypto';
import { createReadStream, readSync, utimesSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import {
  backupFormat, backupFormatVersion, cellsFolder, layoutProblem, manifestName, restoredFileMode, sameEntry, storeFileName,
  type ManifestEntry, type ManifestHeader, type ManifestTrailer,
} from '../../core/backup-layout.ts';
import { ManifestSpool } from '../../core/manifest-spool.ts';
import { copyFields } from '../../plugins/import/entry-layout.mjs';
import { BackgroundFlush } from '../../plugins/import/file-system-sync.ts';
import { FileWriters, type CopyResult } from '../../plugins/import/file-writer.ts';
import { checkUnitDocument } from '../../core/store-validation.ts';
import { needMore, TarFileWalk, TarFormatError, type TarHeader } from './tar-walk.ts';

/** Why an archive is not a whole, sound unit backup; `entry` names the entry at fault when there is one. */
export class BackupRefusedError extends Error {
  readonly exitCode = 1;
  constructor(message: string, readonly entry?: string) {
    super(entry === undefined ? message : `entry [${entry}]: ${message}`);
  }
}

export interface BackupSummary {
  header: ManifestHeader;
  entries: number;
  /** Bytes of file content. */
  bytes: number;
  cells: number;
  secrets: string[];
}

export interface ReadOptions {
  /** A new empty folder to write the entries into (restore); nothing is written without it. */
  extractTo?: string;
  /**
   * false: every entry is held to its size and place in the manifest, not to its SHA-256 (the
   * download of `unit backup`, which `unit verify` and `unit restore` check in full).
   */
  hashes?: boolean;
  /** Bytes of the archive read so far. */
  onProgress?: (archiveBytes: number) => void;
  /** The file is still being written (a download): read each entry once it is there. */
  growing?: GrowingFile;
}

/** A file still being written: how much of it is there, and when there is more. */
export interface GrowingFile {
  readonly size: number;
  /** Whether it holds all it ever will. */
  readonly whole: boolean;
  /** Resolves once the file holds `size` bytes or is whole; rejects when it never will be. */
  more(size: number): Promise<void>;
}

/** The registry is small; a bigger one is refused rather than held in memory. */
const maxStoreBytes = 256 * 1024 * 1024;

export async function readBackup(file: string, options: ReadOptions = {}): Promise<BackupSummary> {
  const spool = path.join(os.tmpdir(), `.cellar-backup-check-${randomBytes(8).toString('hex')}`);
  const handle = await open(file, 'r');
  const reader = new BackupReader(file, handle.fd, spool, options);
  try {
    return await reader.read(options.growing ?? { size: (await handle.stat()).size, whole: true, more: () => Promise.resolve() });
  } finally {
    await reader.close();
    await handle.close();
    await rm(spool, { force: true });
  }
}

class BackupReader {
  readonly #spool: ManifestSpool;
  /** Hashes the entries, and writes them out when restoring (absent when nothing is hashed). */
  readonly #copies: CopyBatches | undefined;
  /** Restored folders and their times, set once every entry is in (a new entry changes its folder's time). */
  readonly #folderTimes = new Map<string, number>();
  readonly #directories = new Set<string>();
  readonly #files = new Set<string>();
  /** `{cellId}/{contentId}` of every content folder in the archive. */
  readonly #contents = new Set<string>();
  readonly #secrets: string[] = [];
  #store: Buffer | undefined;
  #summary: BackupSummary | undefined;
  #entries = 0;
  #bytes = 0;

  constructor(private readonly file: string, private readonly fd: number, private readonly spoolFile: string, private readonly options: ReadOptions) {
    this.#spool = new ManifestSpool(spoolFile);
    this.#copies = options.hashes === false ? undefined : new CopyBatches(fd, options.extractTo);
  }

  async read(file: GrowingFile): Promise<BackupSummary> {
    const walk = new TarFileWalk(this.fd, file.size, file.whole);
    try {
      for (let header = walk.next(); header; header = walk.next()) {
        if (header === needMore) {
          await file.more(walk.needed);
          walk.grow(file.size, file.whole);
          continue;
        }
        const waiting = this.#entry(header);
        if (waiting) await waiting;
        this.options.onProgress?.(walk.position);
      }
      if (!this.#summary) throw new BackupRefusedError('the archive ends before its manifest: it is truncated or not a whole unit backup');
      this.#checkStore();
      await this.#copies?.settle();
    } catch (error) {
      throw asRefusal(error);
    }
    this.#setFolderTimes();
    return this.#summary;
  }

  async close(): Promise<void> {
    this.#spool.destroy();
    await this.#copies?.close();
  }

  /** Deepest first, so that setting a folder's time never changes its parent's again. */
  #setFolderTimes(): void {
    const root = this.options.extractTo;
    if (!root) return;
    const depth = (name: string) => name.split('/').length;
    for (const [name, seconds] of [...this.#folderTimes].sort((a, b) => depth(b[0]) - depth(a[0]))) utimesSync(path.join(root, name), seconds, seconds);
  }

  /** Checks one entry and hands it on; a promise only when the entry must be waited for. */
  #entry(header: TarHeader): Promise<void> | undefined {
    const { type, mtime, size } = header;
    const name = type === 'directory' ? header.name.replace(/\/$/, '') : header.name;
    if (this.#summary) throw new BackupRefusedError('it comes after the manifest, which must be the last entry', name);
    const problem = layoutProblem(name, type);
    if (problem) throw new BackupRefusedError(`outside the unit backup layout: ${problem}`, name);
    if (this.#directories.has(name) || this.#files.has(name)) throw new BackupRefusedError('it appears twice', name);
    const parent = name.includes('/') ? name.slice(0, name.lastIndexOf('/')) : undefined;
    if (parent !== undefined && !this.#directories.has(parent)) throw new BackupRefusedError(`its folder [${parent}] is not an earlier entry`, name);
    if (name === manifestName) return this.#manifest(header);
    if (type === 'directory') {
      this.#directories.add(name);
      const segments = name.split('/');
      if (segments[0] === cellsFolder && segments.length === 3) this.#contents.add(`${segments[1]}/${segments[2]}`);
      if (this.options.extractTo) this.#folderTimes.set(name, mtime);
      this.#record({ name, type: 'directory', size: 0, mtime });
      return this.options.extractTo ? this.#copies!.add(name, header, 0o755, true).wait : undefined;
    }
    this.#files.add(name);
    if (name === storeFileName) this.#store = this.#readStore(header);
    else if (!name.includes('/')) this.#secrets.push(name);
    this.#bytes += size;
    const copy = this.#copies?.add(name, header, restoredFileMode(name, header.mode), false);
    this.#record({ name, type: 'file', size, mtime }, copy?.sha256);
    return copy?.wait;
  }

  #readStore(header: TarHeader): Buffer {
    if (header.size > maxStoreBytes) throw new BackupRefusedError(`the registry is larger than ${maxStoreBytes} bytes`, storeFileName);
    const data = Buffer.alloc(header.size);
    for (let at = 0; at < data.length;) {
      const read = readSync(this.fd, data, at, data.length - at, header.dataOffset + at);
      if (read === 0) throw new BackupRefusedError('the archive is truncated', storeFileName);
      at += read;
    }
    return data;
  }

  #record(entry: ManifestEntry, sha256?: Promise<string>): void {
    this.#entries += 1;
    this.#spool.record(entry, sha256);
  }

  /** Compares the manifest, line by line, with the entries as they were read. */
  async #manifest(entry: TarHeader): Promise<void> {
    // Every digest first, so that an entry that failed is named by its own failure.
    await this.#copies?.settle();
    await this.#spool.end();
    const input = entry.size === 0 ? Readable.from([]) : createReadStream(this.file, { start: entry.dataOffset, end: entry.dataOffset + entry.size - 1 });
    const manifestLines = createInterface({ input, crlfDelay: Infinity })[Symbol.asyncIterator]();
    const readLines = createInterface({ input: createReadStream(this.spoolFile), crlfDelay: Infinity })[Symbol.asyncIterator]();
    const first = await manifestLines.next();
    const header = parseLine<ManifestHeader>(first.done ? '' : first.value, 'its header');
    if (header.format !== backupFormat || header.version !== backupFormatVersion) {
      throw new BackupRefusedError(`the manifest is not a ${backupFormat} version ${backupFormatVersion} manifest`, manifestName);
    }
    let listed = 0;
    let trailer: ManifestTrailer | undefined;
    for (let line = await manifestLines.next(); !line.done; line = await manifestLines.next()) {
      if (trailer) throw new BackupRefusedError('the manifest goes on after its totals', manifestName);
      const parsed = parseLine<ManifestEntry & ManifestTrailer>(line.value, `line ${listed + 2}`);
      if (parsed.name === undefined) {
        trailer = parsed;
        continue;
      }
      listed += 1;
      const read = await readLines.next();
      if (read.done) throw new BackupRefusedError('the manifest lists it but the archive does not hold it', parsed.name);
      const seen = JSON.parse(read.value) as ManifestEntry;
      // Without hashes only the size and place of each entry are held to its line.
      const actual = this.#copies ? seen : { ...seen, sha256: parsed.sha256 };
      if (!sameEntry(actual, parsed)) {
        const what = actual.name !== parsed.name ? `the manifest lists [${parsed.name}] in its place` : 'its size or SHA-256 does not match the manifest';
        throw new BackupRefusedError(what, actual.name);
      }
    }
    const extra = await readLines.next();
    if (!extra.done) throw new BackupRefusedError('the archive holds it but the manifest does not list it', (JSON.parse(extra.value) as ManifestEntry).name);
    if (!trailer || trailer.entries !== listed || trailer.bytes !== this.#bytes) {
      throw new BackupRefusedError('the manifest has no totals, or they do not match its entries: it is truncated', manifestName);
    }
    this.#summary = { header, entries: listed, bytes: this.#bytes, cells: this.#contents.size, secrets: [...this.#secrets] };
  }

  /** The registry must be sound and list exactly the cells whose content is in the archive. */
  #checkStore(): void {
    if (!this.#store) throw new BackupRefusedError(`the archive holds no ${storeFileName}`);
    let document: unknown;
    try {
      document = JSON.parse(this.#store.toString('utf8'));
    } catch (error) {
      throw new BackupRefusedError(`not JSON (${(error as Error).message})`, storeFileName);
    }
    const problem = checkUnitDocument(document);
    if (problem) throw new BackupRefusedError(`not a unit registry: ${problem}`, storeFileName);
    const listed = new Set((document as { cells: Array<{ id: string; contentId: string }> }).cells.map((cell) => `${cell.id}/${cell.contentId}`));
    for (const content of this.#contents) {
      if (!listed.has(content)) throw new BackupRefusedError(`the content folder [${cellsFolder}/${content}] belongs to no cell of the registry`, storeFileName);
    }
    for (const content of listed) {
      if (!this.#contents.has(content)) throw new BackupRefusedError(`the registry lists a cell whose content [${cellsFolder}/${content}] is not in the archive`, storeFileName);
    }
  }
}

function parseLine<T>(text: string, where: string): T {
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as T;
  } catch {
    // Reported below with the line it was.
  }
  throw new BackupRefusedError(`${where} is not a JSON object`, manifestName);
}

/** Entries and bytes of a batch for a thread: about a millisecond of work or more, answered at once. */
const batchEntries = 128;
const batchBytes = 8 * 1024 * 1024;
/** Batches under way per thread before the walk waits for the oldest. */
const batchesPerLane = 3;

interface PendingBatch {
  names: string[];
  numbers: number[];
  bytes: number;
  result: Promise<CopyResult>;
  resolve: (result: CopyResult) => void;
  reject: (error: Error) => void;
}

function pendingBatch(): PendingBatch {
  const batch = { names: [], numbers: [], bytes: 0 } as unknown as PendingBatch;
  batch.result = new Promise<CopyResult>((resolve, reject) => Object.assign(batch, { resolve, reject }));
  // Met by the digests and by `wait`; a batch never sent (a walk stopped early) is met by nobody.
  batch.result.catch(() => {});
  return batch;
}

/**
 * The entries, gathered per thread into batches the thread reads from the archive, hashes and
 * (when restoring into `root`) writes. Each resource folder goes to the same thread (the writer's
 * lanes), so a folder is made before the files in it.
 */
class CopyBatches {
  readonly #writers = new FileWriters();
  /** A restore's writes go to the disk in the background as batches end, so the sync at its end has little left. */
  readonly #flush: BackgroundFlush | undefined;
  readonly #pending: PendingBatch[];
  readonly #underWay: Array<Array<Promise<void>>>;
  #failure: Error | undefined;

  constructor(private readonly fd: number, private readonly root: string | undefined) {
    this.#pending = Array.from({ length: this.#writers.lanes }, pendingBatch);
    this.#underWay = Array.from({ length: this.#writers.lanes }, () => []);
    this.#flush = root === undefined ? undefined : new BackgroundFlush(root);
  }

  /** Adds an entry: its SHA-256 to come (files), and a promise when the walk must wait for the threads. */
  add(name: string, header: TarHeader, mode: number, folder: boolean): { sha256?: Promise<string>; wait?: Promise<void> } {
    if (this.#failure) throw this.#failure;
    const lane = this.#writers.laneOf(folder ? name : path.dirname(name));
    const batch = this.#pending[lane]!;
    const index = batch.names.length;
    batch.names.push(name);
    batch.numbers.push(header.dataOffset, header.size, mode, header.mtime * 1000, folder ? 1 : 0);
    batch.bytes += header.size;
    const sha256 = folder ? undefined : batch.result.then((result) => digestOf(result, index));
    const full = batch.names.length >= batchEntries || batch.bytes >= batchBytes;
    return { ...(sha256 ? { sha256 } : {}), ...(full ? { wait: this.#send(lane) } : {}) };
  }

  /** Sends every batch begun. */
  flush(): void {
    for (let lane = 0; lane < this.#pending.length; lane += 1) if (this.#pending[lane]!.names.length > 0) void this.#send(lane);
  }

  /** Sends what is left and waits for every batch; throws the first failure. */
  async settle(): Promise<void> {
    this.flush();
    await Promise.all(this.#underWay.flat());
    await this.#flush?.settle();
    if (this.#failure) throw this.#failure;
  }

  async close(): Promise<void> {
    await this.#writers.close();
  }

  /** Hands the lane's batch to its thread; waits for the oldest when too many are under way. */
  async #send(lane: number): Promise<void> {
    const batch = this.#pending[lane]!;
    this.#pending[lane] = pendingBatch();
    const targets = this.root === undefined ? undefined : batch.names.map((name) => path.join(this.root!, name)).join('\0');
    this.#writers.copy(lane, { fd: this.fd, targets, numbers: Float64Array.from(batch.numbers) }).then(batch.resolve, batch.reject);
    const checked = batch.result.then(({ failure }) => {
      this.#flush?.add(batch.bytes, batch.names.length);
      if (!failure) return;
      const name = batch.names[failure.index]!;
      if (failure.code === 'EEXIST') throw new BackupRefusedError('it appears twice', name);
      throw Object.assign(new Error(`[${name}] could not be ${this.root === undefined ? 'read' : 'restored'}: ${failure.message}`), { code: failure.code });
    }).catch((error: Error) => { this.#failure ??= error; });
    const underWay = this.#underWay[lane]!;
    underWay.push(checked);
    void checked.then(() => underWay.splice(underWay.indexOf(checked), 1));
    if (underWay.length > batchesPerLane) await underWay[0];
    if (this.#failure) throw this.#failure;
  }
}

/** The hex SHA-256 of a batch's entry `index`; a failure at or before it fails it too. */
function digestOf({ digests, failure }: CopyResult, index: number): string {
  if (failure && failure.index <= index) throw new Error('the entry was not read');
  return Buffer.from(digests.buffer, digests.byteOffset + index * 32, 32).toString('hex');
}

/** A broken tar (a cut download, a damaged header) is a refusal too, said in plain words. */
function asRefusal(error: unknown): Error {
  if (error instanceof BackupRefusedError) return error;
  if (error instanceof TarFormatError) return new BackupRefusedError(error.message);
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EEXIST') return new BackupRefusedError(`an entry appears twice (${(error as Error).message})`);
  if (code !== undefined && !String(code).startsWith('ERR_')) return error as Error;
  const message = (error as Error)?.message ?? String(error);
  return new BackupRefusedError(`the archive is truncated or damaged (${message})`);
}

