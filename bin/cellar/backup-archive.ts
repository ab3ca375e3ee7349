// Reads a unit backup (a tar in the layout of core/backup-layout.ts) and checks every entry as it
// streams by: its kind and name against the layout, its bytes against their SHA-256, and, once
// the manifest (the last entry) arrives, every entry against its line. The checks are the same
// for `unit verify`, `unit restore` (which also writes each entry into a folder) and `unit
// backup` while downloading (which leaves the SHA-256 out unless asked: see ReadOptions.hashes). The entries' own lines are spooled to disk, so memory stays flat in the
// size of the unit; the names are kept to refuse duplicates and entries whose folder came later.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdirSync, utimesSync } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import tar from 'tar-stream';
import {
  backupFormat, backupFormatVersion, cellsFolder, layoutProblem, manifestName, restoredFileMode, sameEntry, storeFileName,
  type ManifestEntry, type ManifestHeader, type ManifestTrailer,
} from '../../core/backup-layout.ts';
import { ManifestSpool } from '../../core/manifest-spool.ts';
import { FileWriters } from '../../plugins/import/file-writer.ts';
import { checkUnitDocument } from '../../core/store-validation.ts';

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
  onProgress?: (entries: number, bytes: number) => void;
}

type TarEntry = tar.Extract extends AsyncIterable<infer Entry> ? Entry : never;

const smallFileBytes = 1024 * 1024;
/** Bytes of a large file being written at once, while the next chunks are read and hashed. */
const writeAheadBytes = 4 * 1024 * 1024;

/** The registry is small; a bigger one is refused rather than held in memory. */
const maxStoreBytes = 256 * 1024 * 1024;

export async function readBackup(source: AsyncIterable<Buffer>, options: ReadOptions = {}): Promise<BackupSummary> {
  const spool = path.join(os.tmpdir(), `.cellar-backup-check-${randomBytes(8).toString('hex')}`);
  const reader = new BackupReader(spool, options);
  try {
    return await reader.read(source);
  } finally {
    await reader.close();
    await rm(spool, { force: true });
  }
}

class BackupReader {
  readonly #spool: ManifestSpool;
  readonly #hasher: MainThreadHash | undefined;
  /** Creates the restored folders and small files on a thread of its own (the import's writer). */
  readonly #writer: FileWriters | undefined;
  readonly #writes = new Writes();
  /** Restored folders and their times, set once every entry is in (a new entry changes its folder's time). */
  readonly #folderTimes = new Map<string, Date>();
  readonly #directories = new Set<string>();
  readonly #files = new Set<string>();
  /** `{cellId}/{contentId}` of every content folder in the archive. */
  readonly #contents = new Set<string>();
  readonly #secrets: string[] = [];
  #store: Buffer | undefined;
  #summary: BackupSummary | undefined;
  #entries = 0;
  #bytes = 0;

  constructor(private readonly spoolFile: string, private readonly options: ReadOptions) {
    this.#spool = new ManifestSpool(spoolFile);
    this.#hasher = options.hashes === false ? undefined : new MainThreadHash();
    this.#writer = options.extractTo ? new FileWriters() : undefined;
  }

  async read(source: AsyncIterable<Buffer>): Promise<BackupSummary> {
    const extract = tar.extract();
    const entries = (async () => {
      for await (const entry of extract) await this.#entry(entry);
    })();
    // The first failure wins: a refused entry stops the feeding, a broken tar stops the entries.
    const fed = (async () => {
      try {
        for await (const chunk of source) {
          if (!extract.write(chunk)) await Promise.race([once(extract, 'drain'), entries]);
        }
        extract.end(undefined);
      } catch (error) {
        extract.destroy(error as Error);
        throw error;
      }
    })();
    const settled = await Promise.allSettled([entries, fed]);
    const failure = settled.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failure) throw asRefusal(failure.reason);
    if (!this.#summary) throw new BackupRefusedError('the archive ends before its manifest: it is truncated or not a whole unit backup');
    this.#checkStore();
    await this.#writes.settle();
    this.#setFolderTimes();
    return this.#summary;
  }

  async close(): Promise<void> {
    this.#spool.destroy();
    await this.#writes.settle().catch(() => {});
    await this.#writer?.close();
  }

  /** Deepest first, so that setting a folder's time never changes its parent's again. */
  #setFolderTimes(): void {
    const root = this.options.extractTo;
    if (!root) return;
    const depth = (name: string) => name.split('/').length;
    for (const [name, time] of [...this.#folderTimes].sort((a, b) => depth(b[0]) - depth(a[0]))) utimesSync(path.join(root, name), time, time);
  }

  async #entry(entry: TarEntry): Promise<void> {
    const { header } = entry;
    const type = header.type;
    const name = type === 'directory' ? header.name.replace(/\/$/, '') : header.name;
    if (this.#summary) throw new BackupRefusedError('it comes after the manifest, which must be the last entry', name);
    const problem = layoutProblem(name, type);
    if (problem) throw new BackupRefusedError(`outside the unit backup layout: ${problem}`, name);
    if (this.#directories.has(name) || this.#files.has(name)) throw new BackupRefusedError('it appears twice', name);
    const parent = name.includes('/') ? name.slice(0, name.lastIndexOf('/')) : undefined;
    if (parent !== undefined && !this.#directories.has(parent)) throw new BackupRefusedError(`its folder [${parent}] is not an earlier entry`, name);
    if (name === manifestName) {
      await this.#manifest(entry);
      return;
    }
    const mtime = Math.floor(header.mtime.getTime() / 1000);
    if (type === 'directory') {
      this.#directories.add(name);
      const segments = name.split('/');
      if (segments[0] === cellsFolder && segments.length === 3) this.#contents.add(`${segments[1]}/${segments[2]}`);
      if (this.options.extractTo) {
        await this.#writes.add(this.#writer!.mkdir(path.join(this.options.extractTo, name), { mode: 0o755 }), 0);
        this.#folderTimes.set(name, header.mtime);
      }
      entry.resume();
      this.#record({ name, type: 'directory', size: 0, mtime });
      return;
    }
    this.#files.add(name);
    if (name === storeFileName) this.#store = Buffer.alloc(0);
    else if (!name.includes('/')) this.#secrets.push(name);
    const { sha256 } = await this.#content(entry, name, header.size ?? 0, header.mode ?? 0o644);
    this.#record({ name, type: 'file', size: header.size ?? 0, mtime }, sha256);
  }

  /**
   * Hashes the entry's bytes, writing them out when restoring; returns the SHA-256. Small files
   * go to the writer thread once whole (creating a file costs more kernel time than hashing
   * it), large ones are written through the thread pool as they stream, several chunks at once
   * while the next are read and hashed.
   */
  async #content(entry: TarEntry, name: string, size: number, mode: number): Promise<{ sha256?: Promise<string> }> {
    const keep = name === storeFileName;
    if (keep && size > maxStoreBytes) throw new BackupRefusedError(`the registry is larger than ${maxStoreBytes} bytes`, name);
    const target = this.options.extractTo ? path.join(this.options.extractTo, name) : undefined;
    const small = size <= smallFileBytes;
    const held: Buffer[] = [];
    // A large file's folder may still be on its way through the writer thread.
    if (target && !small) mkdirSync(path.dirname(target), { recursive: true, mode: 0o755 });
    const writer = target && !small ? new AheadWriter(await open(target, 'wx', restoredFileMode(name, mode))) : undefined;
    let seen = 0;
    try {
      for await (const chunk of entry as AsyncIterable<Buffer>) {
        this.#hasher?.update(chunk);
        seen += chunk.length;
        if (keep || (target && small)) held.push(chunk);
        if (writer) await writer.write(chunk);
        this.#bytes += chunk.length;
      }
      if (seen !== size) throw new BackupRefusedError(`it holds ${seen} bytes where its header says ${size}: the archive is truncated`, name);
      await writer?.end(entry.header.mtime);
    } finally {
      await writer?.close();
    }
    if (target && small) {
      const data = held.length === 1 ? held[0]! : Buffer.concat(held);
      await this.#writes.add(this.#writer!.write(target, data, { mode: restoredFileMode(name, mode), mtime: entry.header.mtime }), data.length);
    }
    if (keep) this.#store = Buffer.concat(held);
    // Wrapped, so that a digest computed elsewhere need not be waited for here.
    return { sha256: this.#hasher?.digest() };
  }

  #record(entry: ManifestEntry, sha256?: Promise<string>): void {
    this.#entries += 1;
    this.options.onProgress?.(this.#entries, this.#bytes);
    this.#spool.record(entry, sha256);
  }

  /** Compares the manifest, line by line, with the entries as they were read. */
  async #manifest(entry: TarEntry): Promise<void> {
    await this.#spool.end();
    const manifestLines = createInterface({ input: entry as unknown as NodeJS.ReadableStream, crlfDelay: Infinity })[Symbol.asyncIterator]();
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
      const actual = this.#hasher ? seen : { ...seen, sha256: parsed.sha256 };
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

/**
 * SHA-256 on the main thread: a hashing thread needs a copy of every chunk, which measured here
 * cost as much as the hash itself, and the writer thread already takes the second core.
 */
class MainThreadHash {
  #hash = createHash('sha256');

  update(chunk: Buffer): void {
    this.#hash.update(chunk);
  }

  digest(): Promise<string> {
    const hex = this.#hash.digest('hex');
    this.#hash = createHash('sha256');
    return Promise.resolve(hex);
  }
}

/** Writes under way, at most `limit` bytes of them; the first failure is kept for settle(). */
class Writes {
  readonly #pending = new Set<Promise<void>>();
  #bytes = 0;
  #failure: Error | undefined;

  constructor(private readonly limit = writeAheadBytes) {}

  async add(write: Promise<void>, bytes: number): Promise<void> {
    this.#bytes += bytes;
    const tracked = write.then(() => { this.#bytes -= bytes; }, (error: Error) => { this.#failure ??= error; })
      .finally(() => this.#pending.delete(tracked));
    this.#pending.add(tracked);
    while (this.#bytes >= this.limit && !this.#failure) await Promise.race(this.#pending);
    if (this.#failure) throw this.#failure;
  }

  /** Waits for every write; throws the first failure. */
  async settle(): Promise<void> {
    await Promise.all(this.#pending);
    if (this.#failure) throw this.#failure;
  }
}

/**
 * Writes a file's chunks at their positions, several under way at once (up to writeAheadBytes),
 * so that the reading and hashing of the next chunks go on meanwhile.
 */
class AheadWriter {
  #position = 0;
  readonly #writes = new Writes();

  constructor(private readonly handle: FileHandle) {}

  async write(chunk: Buffer): Promise<void> {
    const position = this.#position;
    this.#position += chunk.length;
    await this.#writes.add(writeAt(this.handle, chunk, position), chunk.length);
  }

  /** Waits for every write, then gives the file its time. */
  async end(mtime: Date): Promise<void> {
    await this.#writes.settle();
    await this.handle.utimes(mtime, mtime);
  }

  async close(): Promise<void> {
    await this.#writes.settle().catch(() => {});
    await this.handle.close();
  }
}

async function writeAt(handle: FileHandle, chunk: Buffer, position: number): Promise<void> {
  for (let offset = 0; offset < chunk.length;) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset, position + offset);
    offset += bytesWritten;
  }
}

/** A broken tar stream (a cut download, a damaged header) is a refusal too, said in plain words. */
function asRefusal(error: unknown): Error {
  if (error instanceof BackupRefusedError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EEXIST') return new BackupRefusedError(`an entry appears twice (${(error as Error).message})`);
  if (code !== undefined && !String(code).startsWith('ERR_')) return error as Error;
  const message = (error as Error)?.message ?? String(error);
  return new BackupRefusedError(`the archive is truncated or damaged (${message})`);
}

