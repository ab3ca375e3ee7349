// A walk of a tar file's headers with positioned reads: each entry's name, kind, size, mode, time
// and where its bytes start in the file, read without reading those bytes. The unit backup's
// checks (backup-archive.ts) need the headers on the main thread and hand the bytes to threads
// that read them from the same descriptor. It reads what tar-stream, which writes the backups,
// writes: ustar and GNU headers, pax extended headers (path, linkpath, size) and GNU long names;
// any other header is damaged, as tar-stream's parser says too.
import { readSync } from 'node:fs';

const block = 512;
/** A pax or long-name header's data is held in memory: a larger one is refused. */
const maxLongHeaderBytes = 1024 * 1024;

/** Why the bytes at a position are not a tar entry ("truncated" when the file ends too soon). */
export class TarFormatError extends Error {}

export interface TarHeader {
  name: string;
  /** tar-stream's names: file, directory, symlink, link, character-device, fifo, ... */
  type: string;
  size: number;
  mode: number;
  /** Seconds since the epoch. */
  mtime: number;
  linkname?: string;
  /** Where the entry's bytes start in the file. */
  dataOffset: number;
}

const typeNames: Record<string, string> = {
  '0': 'file', '\0': 'file', '1': 'link', '2': 'symlink', '3': 'character-device', '4': 'block-device', '5': 'directory',
  '6': 'fifo', '7': 'contiguous-file', x: 'pax-header', g: 'pax-global-header', L: 'gnu-long-path', K: 'gnu-long-link-path',
};

function text(header: Buffer, start: number, length: number): string {
  const field = header.subarray(start, start + length);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? length : end).toString('utf8');
}

/** An octal field (spaces or NULs around it), or a base-256 one (its first byte 0x80). */
function number(header: Buffer, start: number, length: number): number {
  const field = header.subarray(start, start + length);
  if (field[0]! & 0x80) {
    if (field[0] !== 0x80) throw new TarFormatError('a header holds a negative number');
    let value = 0;
    for (let at = 1; at < length; at += 1) value = value * 256 + field[at]!;
    return value;
  }
  const digits = field.toString('latin1').replace(/[\0 ]+$/, '').replace(/^[\0 ]+/, '');
  if (digits === '') return 0;
  if (!/^[0-7]+$/.test(digits)) throw new TarFormatError('a header holds a number that is not octal');
  return parseInt(digits, 8);
}

function checksum(header: Buffer): number {
  let sum = 8 * 32;
  for (let at = 0; at < 148; at += 1) sum += header[at]!;
  for (let at = 156; at < block; at += 1) sum += header[at]!;
  return sum;
}

/** The records of a pax header ("length key=value\n" each). */
function paxRecords(data: Buffer): Map<string, string> {
  const records = new Map<string, string>();
  for (let at = 0; at < data.length;) {
    const space = data.indexOf(32, at);
    const length = space === -1 ? NaN : Number(data.toString('latin1', at, space));
    if (!Number.isSafeInteger(length) || length <= space - at || at + length > data.length) throw new TarFormatError('a pax header is damaged');
    const record = data.toString('utf8', space + 1, at + length - 1);
    const equals = record.indexOf('=');
    if (equals === -1) throw new TarFormatError('a pax header is damaged');
    records.set(record.slice(0, equals), record.slice(equals + 1));
    at += length;
  }
  return records;
}

/** What next() gives when the entry is not all in the file yet (a file still being written). */
export const needMore = Symbol('more of the file is needed');

/** Thrown inside the walk and caught in next(); one for all, since it carries nothing (`needed` does). */
class NeedMore extends Error {}
const needMoreSignal = new NeedMore();

/**
 * The walk of a whole file, or of one still being written (a download): then `grow` says how much
 * of it is there, and next() gives `needMore` until the entry it reached is all there.
 */
export class TarFileWalk {
  #position = 0;
  #ended = false;
  #needed = 0;
  readonly #header = Buffer.alloc(block);

  constructor(private readonly fd: number, private fileSize: number, private whole = true) {}

  /** Where the next header starts (all of the file once the walk has ended). */
  get position(): number {
    return this.#ended ? this.fileSize : this.#position;
  }

  /** After `needMore`: the size the file must reach before next() can go on. */
  get needed(): number {
    return this.#needed;
  }

  /** The file now holds `size` bytes; `whole` once it holds all it ever will. */
  grow(size: number, whole: boolean): void {
    this.fileSize = size;
    this.whole = whole;
  }

  /** The next entry, or undefined at the archive's end (its zero block, or the end of the file). */
  next(): TarHeader | undefined | typeof needMore {
    if (this.#ended) return undefined;
    const start = this.#position;
    try {
      return this.#next();
    } catch (error) {
      if (!(error instanceof NeedMore)) throw error;
      this.#position = start;
      return needMore;
    }
  }

  /** Throws NeedMore (the file is not whole, and must reach `needed` bytes) where it would say the archive is truncated. */
  #truncated(message: string, needed: number): never {
    if (this.whole) throw new TarFormatError(message);
    // More than the file holds, even when a read came back short of what its size promised.
    this.#needed = Math.max(needed, this.fileSize + 1);
    throw needMoreSignal;
  }

  #next(): TarHeader | undefined {
    let pax: Map<string, string> | undefined;
    let global: Map<string, string> | undefined;
    let longName: string | undefined;
    let longLink: string | undefined;
    for (;;) {
      const header = this.#readHeader();
      if (!header) return undefined;
      const extended = header.type === 'pax-header' || header.type === 'pax-global-header' || header.type === 'gnu-long-path' || header.type === 'gnu-long-link-path';
      if (!extended) {
        const records = pax ?? global;
        const name = records?.get('path') ?? longName ?? header.name;
        const linkname = records?.get('linkpath') ?? longLink ?? header.linkname;
        const paxSize = records?.get('size');
        const size = paxSize === undefined ? header.size : Number(paxSize);
        if (!Number.isSafeInteger(size) || size < 0) throw new TarFormatError(`the size of [${name}] is not a number`);
        const type = header.type === 'file' && name.endsWith('/') ? 'directory' : header.type;
        this.#skip(header.dataOffset, size, name);
        return { ...header, name, type, size, ...(linkname === undefined ? {} : { linkname }) };
      }
      if (header.size > maxLongHeaderBytes) throw new TarFormatError(`a ${header.type} of ${header.size} bytes is larger than ${maxLongHeaderBytes}`);
      const data = Buffer.alloc(header.size);
      if (header.dataOffset + data.length > this.fileSize || readSync(this.fd, data, 0, data.length, header.dataOffset) !== data.length) this.#truncated('the archive is truncated inside a header', header.dataOffset + data.length);
      this.#skip(header.dataOffset, header.size, header.type);
      if (header.type === 'pax-header') pax = new Map([...(global ?? []), ...paxRecords(data)]);
      else if (header.type === 'pax-global-header') global = paxRecords(data);
      else if (header.type === 'gnu-long-path') longName = text(data, 0, data.length);
      else longLink = text(data, 0, data.length);
    }
  }

  /** Moves past an entry's bytes and their padding; they must all be in the file. */
  #skip(dataOffset: number, size: number, name: string): void {
    if (dataOffset + size > this.fileSize) this.#truncated(`the archive is truncated: it ends inside [${name}]`, dataOffset + size);
    this.#position = dataOffset + Math.ceil(size / block) * block;
  }

  #readHeader(): (TarHeader & { linkname?: string }) | undefined {
    const at = this.#position;
    if (at >= this.fileSize) {
      if (!this.whole) {
        this.#needed = at + block;
        throw needMoreSignal;
      }
      this.#ended = true;
      return undefined;
    }
    const header = this.#header;
    if (at + block > this.fileSize || readSync(this.fd, header, 0, block, at) !== block) this.#truncated('the archive is truncated: it ends inside a header', at + block);
    const sum = checksum(header);
    // Nothing but the checksum field (which a zero block leaves zero too): the end of the archive.
    if (sum === 8 * 32) {
      this.#ended = true;
      return undefined;
    }
    if (sum !== number(header, 148, 8)) throw new TarFormatError(`the header at byte ${at} does not match its checksum: the archive is damaged`);
    const magic = header.toString('latin1', 257, 263);
    const ustar = magic === 'ustar\0';
    if (!ustar && magic !== 'ustar ') throw new TarFormatError(`the header at byte ${at} is of an unknown format`);
    const flag = String.fromCharCode(header[156]!);
    const type = typeNames[flag] ?? `unknown (${JSON.stringify(flag)})`;
    let name = text(header, 0, 100);
    if (ustar && header[345] !== 0) name = `${text(header, 345, 155)}/${name}`;
    const link = header[157] === 0 ? undefined : text(header, 157, 100);
    return {
      name, type, size: number(header, 124, 12), mode: number(header, 100, 8), mtime: number(header, 136, 12),
      dataOffset: at + block, ...(link === undefined ? {} : { linkname: link }),
    };
  }
}
