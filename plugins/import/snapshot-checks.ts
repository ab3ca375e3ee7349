// The checks an import makes of a snapshot's content once inspect.ts found its central directory
// sound: the checksum list against the entries, the OData lines, each box folder against the box
// lines, the owners' `.pmeta`, and every file against its SHA-256 or its CRC-32. The import job
// and `cellar snapshot verify` both call these, so a snapshot the command passes is one the import
// takes, and the same entry is named when it does not.
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { Entry, ZipFile } from 'yauzl';
import { mainBoxName, newId, type BoxRecord, type ODataDocument, type Pmeta } from '../../core/cell-content.ts';
import { isPersoniumError, personiumError, type PersoniumError } from '../../core/errors.ts';
import { cellEntry, checksumsEntry, manifestEntry, odataFolder, pjsonFiles, webdavFolder, type PjsonLine } from '../../core/export-format.ts';
import { accountOf, roleLinkOf, roleOf } from '../../core/identity-lines.ts';
import type { Written } from './entry-writer.ts';
import { centralDirectory } from './central-directory.ts';
import { readEntryBytes, walkError, type InspectedSnapshot } from './inspect.ts';
import type { ChecksumTable } from './key-table.ts';

export interface SnapshotOData {
  document: ODataDocument;
  /** The box ids of the snapshot → the new ones. */
  boxIds: Map<string, string>;
  /** The cell's and the boxes' ids of the snapshot → the target's. */
  ids: Map<string, string>;
  /** The roles' ids of the snapshot → new ones, for the ACL principals in every `.pmeta`. */
  roleIds: Map<string, string>;
}

function parseLine(file: string, line: string): PjsonLine {
  try {
    const parsed = JSON.parse(line) as PjsonLine;
    if (typeof parsed !== 'object' || parsed === null || typeof parsed._id !== 'string') throw new Error('not a hit');
    return parsed;
  } catch {
    throw personiumError('PR400-CM-0004', `${odataFolder}${file}: ${line.length > 200 ? `${line.slice(0, 200)}...` : line}`);
  }
}

/** The central directory again, one entry at a time (central-directory.ts); its errors said as the inspection says them. */
export function* walkEntries(zip: ZipFile): Generator<Entry> {
  const entries = centralDirectory(zip);
  for (;;) {
    let next: IteratorResult<Entry>;
    try {
      next = entries.next();
    } catch (error) {
      throw isPersoniumError(error) ? error : walkError(error as Error);
    }
    if (next.done) return;
    yield next.value;
  }
}

/** Every entry 00_checksums.json lists exists, and the manifest holds to its line (or its CRC-32). */
export async function verifyListing(zip: ZipFile, snapshot: InspectedSnapshot): Promise<void> {
  if (snapshot.missingListed !== undefined) throw personiumError('PR400-SN-0006', `${snapshot.missingListed} is listed in ${checksumsEntry} but missing`);
  const manifest = snapshot.entries.get(manifestEntry)!;
  if (!snapshot.checksums || snapshot.checksums.has(manifestEntry)) checkSum(manifest, await readEntryBytes(zip, manifest), snapshot.checksums);
}

/**
 * The OData part: Box lines become boxes with new ids; every other line is kept, with the ids it
 * shares with the cell and its boxes (`c`, `b`, `l`; Personium's main box is the cell's id) made
 * the target cell's and the new boxes', as Personium's import rewrites them.
 */
export async function readOData(zip: ZipFile, snapshot: InspectedSnapshot, cellId: string): Promise<SnapshotOData> {
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
  // Accounts and roles get new ids too, as Personium's import gives them; the links and the
  // ACL principals that name them follow.
  const roleIds = new Map<string, string>();
  const identityIds = new Map<string, string>();
  for (const [file, lines] of kept) {
    if (file !== '11_account.pjson' && file !== '20_role.pjson') continue;
    for (const line of lines) {
      const id = newId();
      const old = parseLine(file, line)._id;
      identityIds.set(old, id);
      if (file === '20_role.pjson') roleIds.set(old, id);
    }
  }
  const ids = new Map([[cellLine._id, cellId], ...boxIds]);
  const lineIds = new Map([...identityIds, ...ids]);
  for (const [file, lines] of kept) {
    const rest = lines.map((line) => withIds(line, lineIds)).filter((line) => !modelIdentity(file, parseLine(file, line), document, now));
    if (rest.length) document.preserved[file] = rest;
  }
  return { document, boxIds, ids, roleIds };
}

/** Accounts, roles and Account↔Role links become records of the document; true when the line was one. */
function modelIdentity(file: string, hit: PjsonLine, document: ODataDocument, now: number): boolean {
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

/** The path segments under the cell's WebDAV root of an entry below 20_webdav/, its box's old id mapped to the new one. */
export function targetSegments(below: string, boxIds: Map<string, string>): string[] {
  const segments = below.replace(/\/$/, '').split('/').filter(Boolean);
  if (segments.length === 0 || (segments.length === 1 && segments[0] === '.pmeta')) return segments;
  const [box, ...rest] = segments;
  const mapped = box === mainBoxName ? mainBoxName : boxIds.get(box!);
  if (!mapped) throw personiumError('PR400-SN-0006', `${webdavFolder}${box}/ belongs to no box of 10_odata/10_box.pjson`);
  return [mapped, ...rest];
}

/**
 * Whose `.pmeta` an entry below 20_webdav/ is when its id must become the target's: the cell's or
 * the main box's (Personium gives both the cell's id) map through `ids`, a box's is its new id.
 * Undefined for every other entry.
 */
export function pmetaOwnerIds(below: string, odata: SnapshotOData): string | Map<string, string> | undefined {
  const owner = /^(?:([^/]+)\/)?\.pmeta$/.exec(below);
  if (!owner) return undefined;
  return owner[1] === undefined || owner[1] === mainBoxName ? odata.ids : odata.boxIds.get(owner[1])!;
}

/** The `.pmeta` of the cell or of a box, held to its checksum and parsed, with its id made the target's. */
export async function readOwnerPmeta(zip: ZipFile, entry: Entry, checksums: ChecksumTable | undefined, id: string | Map<string, string>, roleIds: Map<string, string> = new Map()): Promise<Pmeta> {
  const bytes = await readEntryBytes(zip, entry, 1024 * 1024);
  checkSum(entry, bytes, checksums);
  const text = bytes.toString('utf8');
  let pmeta: Pmeta;
  try {
    pmeta = JSON.parse(text) as Pmeta;
  } catch {
    throw personiumError('PR400-CM-0004', `${entry.fileName}: ${text.slice(0, 200)}`);
  }
  return { ...pmeta, a: pmeta.a === undefined ? pmeta.a : JSON.parse(withIds(JSON.stringify(pmeta.a), roleIds)), i: typeof id === 'string' ? id : id.get(pmeta.i) ?? pmeta.i };
}

/**
 * A resource's `.pmeta` with the role ids of its ACL made the target's; the bytes as they are
 * when they name none of the snapshot's roles (the usual case: one search per role).
 */
export function withRoleIds(data: Buffer, roleIds: Map<string, string>): Buffer {
  for (const old of roleIds.keys()) {
    if (data.includes(old)) return Buffer.from(withIds(data.toString('utf8'), roleIds));
  }
  return data;
}

/** The slot of a file's line in 00_checksums.json, which it must have when there is a list (-1 without one). */
export function requireListed(name: string, checksums: ChecksumTable | undefined): number {
  if (!checksums) return -1;
  const slot = checksums.slotOf(name);
  if (slot === -1) throw personiumError('PR400-SN-0005', name);
  return slot;
}

/** What a file entry expanded to, held against its line in 00_checksums.json (`slot`, from requireListed), or else its CRC-32. */
export function checkFileDigest(entry: Entry, written: Written, checksums: ChecksumTable | undefined, slot: number): void {
  const held = checksums ? written.sha256 !== undefined && checksums.slotMatches(slot, written.size, written.sha256) : written.crc32 === entry.crc32;
  if (!held) throw digestMismatch(entry.fileName, checksums !== undefined);
}

/** A small entry held to its line in 00_checksums.json, or else to its CRC-32 (the size yauzl holds it to). */
function checkSum(entry: Entry, bytes: Buffer, checksums: ChecksumTable | undefined): void {
  const held = checksums ? checksums.matches(entry.fileName, bytes.length, createHash('sha256').update(bytes).digest()) : crc32(bytes) === entry.crc32;
  if (!held) throw digestMismatch(entry.fileName, checksums !== undefined);
}

/** A file entry whose data does not hold to its line in 00_checksums.json (`listed`), or else to its CRC-32. */
export function digestMismatch(name: string, listed: boolean): PersoniumError {
  return listed ? personiumError('PR400-SN-0005', name) : personiumError('PR400-SN-0006', `${name}: its CRC-32 does not match its data`);
}

/** A kept `.pjson` line with the ids of `ids` (as JSON strings) replaced by their new values. */
function withIds(line: string, ids: Map<string, string>): string {
  return line.replace(/"([^"\\]{1,128})"/g, (whole, value: string) => {
    const mapped = ids.get(value);
    return mapped === undefined ? whole : `"${mapped}"`;
  });
}
