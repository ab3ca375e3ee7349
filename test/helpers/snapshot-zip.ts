// Builds snapshot zips byte by byte, so tests can make the hostile ones no archiver would:
// symlink entries, backslash names, lying sizes, the encryption flag, duplicate names.
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { crc32, deflateRawSync } from 'node:zlib';
import { pjsonFiles } from '../../core/export-format.ts';
import { json, masterToken, startUnit, type TestUnit } from './unit.ts';

export interface ZipEntrySpec {
  name: string;
  data?: Buffer | string;
  /** Unix mode for the external attributes, e.g. 0o120777 for a symlink. */
  mode?: number;
  encrypted?: boolean;
  deflate?: boolean;
  /** A compression method to declare (the data stays stored), e.g. 12 for bzip2. */
  method?: number;
  /** Declared uncompressed size, when it should lie. */
  declaredSize?: number;
  /** An extra field in the local header only (the central directory's stays empty). */
  localExtra?: Buffer;
  /** An extra field in the central directory's record only. */
  centralExtra?: Buffer;
  /** The name's bytes as they are stored, and whether the UTF-8 flag is set (it is by default). */
  nameBytes?: Buffer;
  utf8?: boolean;
}

export function buildZip(specs: ZipEntrySpec[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const spec of specs) {
    const name = spec.nameBytes ?? Buffer.from(spec.name, 'utf8');
    const data = Buffer.isBuffer(spec.data) ? spec.data : Buffer.from(spec.data ?? '', 'utf8');
    const packed = spec.deflate ? deflateRawSync(data) : data;
    // An encrypted entry starts with the 12-byte ZipCrypto header.
    const stored = spec.encrypted ? Buffer.concat([Buffer.alloc(12, 7), packed]) : packed;
    const crc = crc32(data) >>> 0;
    const flags = (spec.utf8 === false ? 0 : 0x0800) | (spec.encrypted ? 0x1 : 0);
    const method = spec.method ?? (spec.deflate ? 8 : 0);
    const size = spec.declaredSize ?? data.length;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(stored.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    const localExtra = spec.localExtra ?? Buffer.alloc(0);
    local.writeUInt16LE(localExtra.length, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(0x0314, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(flags, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(stored.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    const centralExtra = spec.centralExtra ?? Buffer.alloc(0);
    central.writeUInt16LE(centralExtra.length, 30);
    const mode = spec.mode ?? (spec.name.endsWith('/') ? 0o40755 : 0o100644);
    central.writeUInt32LE(mode * 0x10000 + (spec.name.endsWith('/') ? 0x10 : 0), 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, localExtra, stored);
    centrals.push(central, name, centralExtra);
    offset += local.length + name.length + localExtra.length + stored.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(specs.length, 8);
  end.writeUInt16LE(specs.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * The entries of a small valid snapshot: one box `box1` (id `oldbox`) holding `hello.txt`, and the
 * main box holding `top.txt`. `change` may edit the list before the checksums are computed;
 * `checksums` may then be edited too.
 */
export function snapshotEntries(options: {
  change?: (entries: ZipEntrySpec[]) => ZipEntrySpec[];
  checksums?: (sums: Record<string, { size: number; sha256: string }>) => void;
  manifest?: Record<string, unknown>;
} = {}): ZipEntrySpec[] {
  const now = Date.now();
  const pmeta = (t: string, extra: Record<string, unknown> = {}) => JSON.stringify({ i: `id-${Math.random()}`, t, a: null, d: {}, p: now, u: now, v: 1, ...extra });
  let entries: ZipEntrySpec[] = [
    { name: '00_manifest.json', data: JSON.stringify(options.manifest ?? { export_version: 2, unit_url: 'http://elsewhere/', create_date: now }) },
    { name: '10_odata/' },
    { name: '10_odata/00_cell.json', data: JSON.stringify({ _type: 'Cell', _id: 'oldcell', _source: { s: { Name: 'source' }, p: now, u: now } }) },
    ...pjsonFiles.map(([file]) => ({
      name: `10_odata/${file}`,
      data: file === '10_box.pjson'
        ? `${JSON.stringify({ _type: 'Box', _id: 'oldbox', _source: { s: { Name: 'box1', Schema: null }, p: now, u: now } })}\n`
        : file === '12_extcell.pjson' ? `${JSON.stringify({ _type: 'ExtCell', _id: 'x1', _source: { s: { Url: 'https://other/' } } })}\n` : '',
    })),
    { name: '20_webdav/' },
    { name: '20_webdav/.pmeta', data: pmeta('Cell') },
    { name: '20_webdav/__/' },
    { name: '20_webdav/__/.pmeta', data: pmeta('col.box') },
    { name: '20_webdav/__/top.txt/' },
    { name: '20_webdav/__/top.txt/.pmeta', data: pmeta('dav.file', { ct: 'text/plain', cl: 3 }) },
    { name: '20_webdav/__/top.txt/content', data: 'top' },
    { name: '20_webdav/oldbox/' },
    { name: '20_webdav/oldbox/.pmeta', data: pmeta('col.box', { i: 'oldbox' }) },
    { name: '20_webdav/oldbox/hello.txt/' },
    { name: '20_webdav/oldbox/hello.txt/.pmeta', data: pmeta('dav.file', { ct: 'text/plain', cl: 5, d: { 'urn:zcolor': { value: [{ type: 'text', text: 'red' }] } } }) },
    { name: '20_webdav/oldbox/hello.txt/content', data: 'hello' },
  ];
  if (options.change) entries = options.change(entries);
  const sums: Record<string, { size: number; sha256: string }> = {};
  for (const entry of entries) {
    if (entry.name.endsWith('/') || entry.name === '00_manifest.json' || entry.name === '00_checksums.json') continue;
    const data = Buffer.isBuffer(entry.data) ? entry.data : Buffer.from(entry.data ?? '', 'utf8');
    sums[entry.name] = { size: data.length, sha256: sha256(data) };
  }
  options.checksums?.(sums);
  if (!entries.some((entry) => entry.name === '00_checksums.json')) entries.push({ name: '00_checksums.json', data: JSON.stringify(sums) });
  return entries;
}

/** A unit with cell1 holding box `keep` with `old.txt` ("old content"), put over a real socket. */
export async function unitWithCell(overrides: Parameters<typeof startUnit>[0] = {}): Promise<TestUnit> {
  const unit = await startUnit({ import: { maxEntries: 1000, maxTotalBytes: 50 * 1024 * 1024, maxCompressionRatio: 100 }, ...overrides });
  await unit.createCell('cell1');
  await unit.createBox('cell1', 'keep');
  const url = await unit.listen();
  const put = await fetch(`${url}/cell1/keep/old.txt`, { method: 'PUT', body: 'old content', headers: { authorization: `Bearer ${masterToken}` } });
  if (put.status !== 201) throw new Error(`PUT ${put.status}`);
  return unit;
}

/** Puts a zip into cell1's snapshot area as `{name}.zip`. */
export async function upload(unit: TestUnit, name: string, zip: Buffer): Promise<void> {
  const res = await unit.as({ method: 'PUT', url: `/cell1/__snapshot/${name}.zip`, payload: zip, headers: { 'content-type': 'application/zip' } });
  if (![201, 204].includes(res.statusCode)) throw new Error(`upload ${res.statusCode}`);
}

export const startImport = (unit: TestUnit, name: string) => unit.as({ method: 'POST', url: '/cell1/__import', payload: { Name: name } });

/** Polls GET __import until the import is no longer in progress; returns that status. */
export async function importStatus(unit: TestUnit): Promise<Record<string, any>> {
  for (let i = 0; i < 400; i++) {
    const status = json(await unit.as({ method: 'GET', url: '/cell1/__import' }));
    if (status.status !== 'importation in progress') return status;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('import did not end');
}

/** The folders of a cell's data once the job has removed what it replaced (it does so after the swap). */
export async function settledContentDirs(unit: TestUnit, cellName = 'cell1'): Promise<string[]> {
  const { store, contents } = unit.server.cellar;
  const dir = contents.cellDir(store.findCell(cellName)!.id);
  let names = await readdir(dir);
  for (let i = 0; i < 100 && names.length > 1; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    names = await readdir(dir);
  }
  return names;
}
