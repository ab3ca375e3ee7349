// What an import checks before its 202: the snapshot's zip central directory is walked
// (central-directory.ts, with yauzl's own checks of each record and name) and judged entry by
// entry, without extracting anything and without ever writing to the stored file. yauzl's checks
// come first (strictFileNames), the layout and the rest are checked here; every refusal names the
// entry it is about.
import type { Entry, ZipFile } from 'yauzl';
import { openBlockZip, zipIdentity, type FileIdentity } from './block-reader.ts';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { centralDirectory, entriesPerTurn } from './central-directory.ts';
import { isPersoniumError, personiumError, type PersoniumError } from '../../core/errors.ts';
import { cellEntry, checksumsEntry, manifestEntry, odataFolder, pjsonFiles, snapshotExportVersion, webdavFolder, type SnapshotManifest } from '../../core/export-format.ts';
import { readChecksumList } from './checksum-list.ts';
import { KeySet, nameKey, type ChecksumTable, type NameKey } from './key-table.ts';

export interface ImportLimits {
  maxEntries: number;
  maxTotalBytes: number;
  maxCompressionRatio: number;
}

export interface InspectedSnapshot {
  /** The key of every entry's name (key-table.ts). */
  names: KeySet;
  /** The entries outside 20_webdav/ (manifest, checksums, OData), by name; the tree's are walked again when extracted, so memory does not hold one Entry per file. */
  entries: Map<string, Entry>;
  manifest: SnapshotManifest;
  /**
   * Cellar's SHA-256 list; undefined for a snapshot without one (Personium makes none), whose
   * entries are then held to their own CRC-32 and sizes.
   */
  checksums: ChecksumTable | undefined;
  /** The first name 00_checksums.json lists that is no entry of the zip. */
  missingListed: string | undefined;
  totalBytes: number;
  /** The file inspected, as it was when the inspection opened it. */
  identity: FileIdentity;
  /** When the inspection opened the file (ms). */
  openedMs: number;
}

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
/** Ratios are only judged above this size: tiny entries of zeros compress "too well" harmlessly. */
const ratioFloorBytes = 1024 * 1024;
const smallEntryLimit = 64 * 1024 * 1024;

export function openZip(file: string): Promise<ZipFile> {
  // strictFileNames: yauzl refuses backslashes instead of turning them into slashes.
  return openBlockZip(file, { lazyEntries: true, strictFileNames: true, validateEntrySizes: true, autoClose: false })
    .catch(() => { throw personiumError('PR400-MC-0004'); });
}

export function entryName(entry: Entry): string {
  return entry.fileName;
}

/** yauzl's own name checks, which end the central-directory walk, said the way ours are. */
const yauzlNameErrors: Array<[RegExp, string]> = [
  [/^invalid characters in fileName: (.*)$/s, 'backslash in the path'],
  [/^absolute path: (.*)$/s, 'absolute path'],
  [/^invalid relative path: (.*)$/s, 'relative path segment'],
];

export function walkError(error: Error): PersoniumError {
  for (const [pattern, reason] of yauzlNameErrors) {
    const match = pattern.exec(error.message);
    if (match) return personiumError('PR400-SN-0001', match[1]!, reason);
  }
  return personiumError('PR400-SN-0006', error.message);
}

/**
 * A folder or file of the tree whose every segment is plain (not empty, not hidden, no backslash
 * or NUL) and whose file is a `.pmeta` or a `content`: nearly every entry of a snapshot, safe and
 * in the layout, told in one match instead of the splits of the two checks below.
 */
const plainTreeEntry = new RegExp(String.raw`^${webdavFolder}(?:[^/\\\0.][^/\\\0]*/)*(?:\.pmeta|content)?$`);

/** Why a name is unsafe, or undefined. */
function unsafeName(name: string): string | undefined {
  if (name.includes('\0')) return 'NUL in the name';
  if (name.includes('\\')) return 'backslash in the path';
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) return 'absolute path';
  const segments = name.replace(/\/$/, '').split('/');
  if (segments.some((segment) => segment === '..' || segment === '.')) return 'relative path segment';
  if (segments.some((segment) => segment === '')) return 'empty path segment';
  return undefined;
}

/** Where the entry belongs in the layout, or why it does not. */
function outsideLayout(name: string): string | undefined {
  if (name === manifestEntry || name === checksumsEntry || name === odataFolder) return undefined;
  if (name.startsWith(odataFolder)) return name === cellEntry || pjsonFiles.some(([file]) => name === `${odataFolder}${file}`) ? undefined : 'not part of the snapshot layout';
  if (!name.startsWith(webdavFolder)) return 'not part of the snapshot layout';
  const below = name.slice(webdavFolder.length).replace(/\/$/, '');
  if (below === '') return undefined;
  const segments = below.split('/');
  const last = segments.pop()!;
  // A path through a hidden folder (`x/.pmeta/content`) would put a folder where a file goes.
  if (segments.some((segment) => segment.startsWith('.'))) return 'hidden folder';
  if (name.endsWith('/')) return last.startsWith('.') ? 'hidden folder' : undefined;
  return last === '.pmeta' || last === 'content' ? undefined : 'not part of the snapshot layout';
}

/** The folders named content seen so far; the table is made only when one is (they are rare). */
interface ContentFolders {
  capacity: number;
  keys?: KeySet;
}

/**
 * A resource's data file is `{resource}/content`, and a collection may hold a resource named
 * `content`: a zip that has both `x/content` as a file and `x/content/...` would make the import
 * write a file where it made a folder. Folders named content are kept as keys, whichever comes
 * first; returns the name both are, or undefined. (A hidden segment, `.pmeta`, is refused before.)
 */
function fileFolderClash(name: string, key: NameKey, folders: ContentFolders, names: KeySet): string | undefined {
  if (!name.startsWith(webdavFolder)) return undefined;
  const isFolder = name.endsWith('/');
  if (!isFolder && name.endsWith('/content') && folders.keys?.has(key)) return name;
  // Nearly every entry: no folder named content on its path, nothing more to do.
  if (!name.includes('/content/')) return undefined;
  const segments = name.replace(/\/$/, '').split('/');
  // Deepest first: a folder already kept had its own folders named content kept with it.
  for (let end = segments.length - (isFolder ? 1 : 2); end >= 0; end -= 1) {
    if (segments[end] !== 'content') continue;
    const folder = segments.slice(0, end + 1).join('/');
    const folderKey = nameKey(folder);
    let existed: boolean;
    try {
      folders.keys ??= new KeySet(folders.capacity);
      existed = folders.keys.insert(folderKey).existed;
    } catch {
      throw personiumError('PR400-SN-0001', name, 'too many folders named content');
    }
    if (existed) break;
    if (names.has(folderKey)) return folder;
  }
  return undefined;
}

export async function readSmallEntry(zip: ZipFile, entry: Entry, limit = smallEntryLimit): Promise<string> {
  return (await readEntryBytes(zip, entry, limit)).toString('utf8');
}

/** An entry's bytes as they inflate; its errors said as PR400-SN-0006 naming it. */
async function* entryStream(zip: ZipFile, entry: Entry): AsyncGenerator<Buffer> {
  const stream = await zip.openReadStreamPromise(entry).catch((error: Error) => {
    throw personiumError('PR400-SN-0006', `${entryName(entry)}: ${error.message}`);
  });
  try {
    for await (const chunk of stream) yield chunk as Buffer;
  } catch (error) {
    throw personiumError('PR400-SN-0006', `${entryName(entry)}: ${(error as Error).message}`);
  }
}

/** A small entry's bytes (a manifest, a `.pjson`, a `.pmeta`), with a size limit. */
export async function readEntryBytes(zip: ZipFile, entry: Entry, limit = smallEntryLimit): Promise<Buffer> {
  if (entry.uncompressedSize > limit) throw personiumError('PR400-SN-0003', limit);
  const stream = await zip.openReadStreamPromise(entry).catch((error: Error) => {
    throw personiumError('PR400-SN-0006', `${entryName(entry)}: ${error.message}`);
  });
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of stream) chunks.push(chunk as Buffer);
  } catch (error) {
    throw personiumError('PR400-SN-0006', `${entryName(entry)}: ${(error as Error).message}`);
  }
  return Buffer.concat(chunks);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw personiumError('PR400-CM-0004', text.length > 200 ? `${text.slice(0, 200)}...` : text);
  }
}

async function readEntries(zip: ZipFile, limits: ImportLimits): Promise<{ names: KeySet; entries: Map<string, Entry>; totalBytes: number; files: number }> {
  if (zip.entryCount > limits.maxEntries) throw personiumError('PR400-SN-0002', limits.maxEntries);
  const names = new KeySet(zip.entryCount);
  const contentFolders: ContentFolders = { capacity: zip.entryCount + 64 };
  const entries = new Map<string, Entry>();
  let totalBytes = 0;
  let files = 0;
  try {
    let walked = 0;
    for (const entry of centralDirectory(zip)) {
      if (++walked % entriesPerTurn === 0) await yieldToEventLoop();
      const name = entryName(entry);
      const unsafe = plainTreeEntry.test(name) ? undefined : unsafeName(name) ?? outsideLayout(name);
      if (unsafe) throw personiumError('PR400-SN-0001', name, unsafe);
      const key = nameKey(name);
      if (names.insert(key).existed) throw personiumError('PR400-SN-0001', name, 'duplicate entry name');
      const clash = fileFolderClash(name, key, contentFolders, names);
      if (clash) throw personiumError('PR400-SN-0001', clash, 'a file and a folder of the same name');
      const mode = (entry.externalFileAttributes >>> 16) & S_IFMT;
      if (mode === S_IFLNK) throw personiumError('PR400-SN-0001', name, 'symbolic link');
      if (entry.generalPurposeBitFlag & 0x1) throw personiumError('PR400-SN-0001', name, 'encrypted entry');
      if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) throw personiumError('PR400-SN-0001', name, `compression method ${entry.compressionMethod}`);
      if (name.endsWith('/') && entry.uncompressedSize !== 0) throw personiumError('PR400-SN-0001', name, 'folder with content');
      totalBytes += entry.uncompressedSize;
      if (totalBytes > limits.maxTotalBytes) throw personiumError('PR400-SN-0003', limits.maxTotalBytes);
      if (entry.uncompressedSize > ratioFloorBytes && entry.uncompressedSize > limits.maxCompressionRatio * Math.max(entry.compressedSize, 1)) {
        throw personiumError('PR400-SN-0004', name, limits.maxCompressionRatio);
      }
      if (!name.endsWith('/')) files += 1;
      if (!name.startsWith(webdavFolder)) entries.set(name, entry);
    }
  } catch (error) {
    if (isPersoniumError(error)) throw error;
    throw walkError(error as Error);
  }
  return { names, entries, totalBytes, files };
}

/** Judges the stored snapshot; throws the error the client gets. Closes the zip. */
export async function inspectSnapshot(file: string, limits: ImportLimits): Promise<InspectedSnapshot> {
  const openedMs = Date.now();
  const zip = await openZip(file);
  const opened = { identity: zipIdentity(zip), openedMs };
  try {
    const { names, entries, totalBytes, files } = await readEntries(zip, limits);
    const manifestZipEntry = entries.get(manifestEntry);
    if (!manifestZipEntry) throw personiumError('PR400-MC-0001', manifestEntry);
    const manifest = parseJson(await readSmallEntry(zip, manifestZipEntry, 1024 * 1024)) as SnapshotManifest;
    if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) throw personiumError('PR400-CM-0004', JSON.stringify(manifest));
    if (manifest.export_version !== snapshotExportVersion) {
      throw personiumError('PR400-MC-0003', snapshotExportVersion, manifest.export_version === undefined ? 'null' : JSON.stringify(manifest.export_version));
    }
    const required = [cellEntry, ...pjsonFiles.map(([name]) => `${odataFolder}${name}`)];
    for (const name of required) if (!entries.has(name)) throw personiumError('PR400-MC-0001', name);
    if (!names.has(nameKey(`${webdavFolder}.pmeta`))) throw personiumError('PR400-MC-0001', `${webdavFolder}.pmeta`);
    const listed = entries.get(checksumsEntry);
    if (!listed) return { names, entries, manifest, checksums: undefined, missingListed: undefined, totalBytes, ...opened };
    const { table, missing } = await readChecksumList(await entryStream(zip, listed), names, files, checksumsEntry);
    return { names, entries, manifest, checksums: table, missingListed: missing, totalBytes, ...opened };
  } finally {
    zip.close();
  }
}
