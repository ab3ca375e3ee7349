// The layout of a whole-unit backup (a tar stream), shared by the server that writes it and the
// commands that verify and restore it. Only these names may appear, in this order of kinds:
//
//   cells/                                     directory
//   cells/{cellId}/                            directory, one per cell
//   cells/{cellId}/{contentId}/...             the cell's live content: directories and files
//   snapshots/                                 directory (absent with ?snapshots=false)
//   snapshots/{cellId}/                        directory, one per cell
//   snapshots/{cellId}/{file}                  files of the cell's snapshot area
//   master-token, token-key                    the unit's secrets, when present
//   unit.json                                  the registry, listing exactly the cells above
//   cellar-backup.ndjson                       the manifest, always the last entry
//
// The manifest is JSON lines: a header, one line per entry before it (in archive order) with its
// type, size and SHA-256, then a trailer with the totals. It is written once every entry is out,
// so an archive without a whole manifest is a backup that did not finish.

export const storeFileName = 'unit.json';
export const manifestName = 'cellar-backup.ndjson';
export const backupFormat = 'cellar-unit-backup';
export const backupFormatVersion = 1;
/** Files of the data directory that hold the unit's secrets; each is backed up when present. */
export const secretFileNames = ['master-token', 'token-key'] as const;
export const cellsFolder = 'cells';
export const snapshotsFolder = 'snapshots';

export type EntryType = 'file' | 'directory';

export interface ManifestHeader {
  format: typeof backupFormat;
  version: number;
  generator: string;
  unit_url: string;
  created: string;
  snapshots: boolean;
}

export interface ManifestEntry {
  name: string;
  type: EntryType;
  size: number;
  /** Files only. */
  sha256?: string;
  /** Seconds since the epoch, as in the tar header. */
  mtime: number;
}

export interface ManifestTrailer {
  entries: number;
  bytes: number;
}

/** Ids of cells and content folders: one plain segment of safe characters (as unit.json requires). */
const folderIdPattern = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

/** Why `name` is not a safe relative path, or undefined when it is one. */
export function unsafeNameProblem(name: string): string | undefined {
  if (name === '') return 'the name is empty';
  if (name.includes('\0')) return 'the name holds a NUL character';
  if (name.includes('\\')) return 'the name holds a backslash';
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) return 'the name is an absolute path';
  for (const segment of name.split('/')) {
    if (segment === '..') return 'the name climbs out of the archive (..)';
    if (segment === '' || segment === '.') return 'the name has an empty or "." segment';
  }
  return undefined;
}

/** Why an entry of `type` named `name` is outside the layout, or undefined when it belongs. */
export function layoutProblem(name: string, type: string): string | undefined {
  const unsafe = unsafeNameProblem(name);
  if (unsafe) return unsafe;
  if (type !== 'file' && type !== 'directory') return `a ${type} entry (only files and directories are allowed)`;
  const segments = name.split('/');
  const [top, id, rest] = [segments[0]!, segments[1], segments.length > 2];
  const expect = (wanted: EntryType) => (type === wanted ? undefined : `it must be a ${wanted}`);
  if (segments.length === 1) {
    if (name === storeFileName || name === manifestName || (secretFileNames as readonly string[]).includes(name)) return expect('file');
    if (name === cellsFolder || name === snapshotsFolder) return expect('directory');
    return 'not a name of the unit backup layout';
  }
  if (!folderIdPattern.test(id!)) return 'not a cell id';
  if (top === cellsFolder) {
    if (segments.length === 2) return expect('directory');
    if (!folderIdPattern.test(segments[2]!)) return 'not a content folder id';
    return segments.length === 3 ? expect('directory') : undefined;
  }
  if (top === snapshotsFolder) {
    if (!rest) return expect('directory');
    if (segments.length > 3) return 'snapshot areas hold files only';
    return expect('file');
  }
  return 'not a name of the unit backup layout';
}

/** The manifest line of an entry, the same bytes on both sides (keys in a fixed order). */
export function manifestLine(entry: ManifestEntry): string {
  const ordered: ManifestEntry = { name: entry.name, type: entry.type, size: entry.size, ...(entry.sha256 ? { sha256: entry.sha256 } : {}), mtime: entry.mtime };
  return `${JSON.stringify(ordered)}\n`;
}

/** What a restored or verified entry is checked by: everything but its time. */
export function sameEntry(a: ManifestEntry, b: ManifestEntry): boolean {
  return a.name === b.name && a.type === b.type && a.size === b.size && (a.sha256 ?? '') === (b.sha256 ?? '');
}

/** Mode a restored file gets: secrets and the registry stay readable by their owner only. */
export function restoredFileMode(name: string, headerMode: number): number {
  if (name === storeFileName || (secretFileNames as readonly string[]).includes(name)) return 0o600;
  return (headerMode & 0o666) | 0o600;
}
