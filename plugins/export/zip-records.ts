// The byte layout of the zip records the export writes (APPNOTE 6.3): local file headers, central
// directory records, and the end records, with ZIP64 fields where a size, an offset or the entry
// count does not fit in the classic ones. Names are UTF-8 (flag bit 11); sizes are always known
// when a local header is final, so no entry has a data descriptor (readers that stream, such as
// Java's ZipInputStream, cannot read stored entries that have one).

/** Largest value of a classic 32-bit field; this value itself means "see the ZIP64 extra field". */
export const max32 = 0xffffffff;
/** Largest entry count of the classic end record. */
export const max16 = 0xffff;
export const methodStored = 0;
export const methodDeflated = 8;

const utf8Flag = 0x0800;
/** Made by Unix, spec 3.0: the external attributes hold a Unix mode. */
const madeBy = 0x031e;
const fileAttributes = (0o100644 << 16) >>> 0;
const folderAttributes = ((0o40755 << 16) | 0x10) >>> 0;

export interface EntryRecord {
  name: Buffer;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  offset: number;
  directory: boolean;
  /** The local header carries ZIP64 sizes (decided before the data is written). */
  zip64Local: boolean;
}

/** MS-DOS time and date of `date` in local time, as zip tools write them. */
export function dosDateTime(date: Date): { time: number; date: number } {
  const year = Math.min(Math.max(date.getFullYear(), 1980), 2107);
  return {
    time: (date.getHours() << 11) | (date.getMinutes() << 5) | (date.getSeconds() >> 1),
    date: ((year - 1980) << 9) | ((date.getMonth() + 1) << 5) | date.getDate(),
  };
}

function versionNeeded(zip64: boolean, directory: boolean, method: number): number {
  if (zip64) return 45;
  return directory || method === methodDeflated ? 20 : 10;
}

/** Bytes of the local header of `entry`. */
export function localHeaderLength(entry: Pick<EntryRecord, 'name' | 'zip64Local'>): number {
  return 30 + entry.name.length + (entry.zip64Local ? 20 : 0);
}

/** Writes the local header of `entry` at `at` in `target`; returns its length. */
export function writeLocalHeader(target: Buffer, at: number, entry: EntryRecord, stamp: { time: number; date: number }): number {
  const { name, zip64Local } = entry;
  target.writeUInt32LE(0x04034b50, at);
  target.writeUInt16LE(versionNeeded(zip64Local, entry.directory, entry.method), at + 4);
  target.writeUInt16LE(utf8Flag, at + 6);
  target.writeUInt16LE(entry.method, at + 8);
  target.writeUInt16LE(stamp.time, at + 10);
  target.writeUInt16LE(stamp.date, at + 12);
  target.writeUInt32LE(entry.crc >>> 0, at + 14);
  target.writeUInt32LE(zip64Local ? max32 : entry.compressedSize, at + 18);
  target.writeUInt32LE(zip64Local ? max32 : entry.size, at + 22);
  target.writeUInt16LE(name.length, at + 26);
  target.writeUInt16LE(zip64Local ? 20 : 0, at + 28);
  name.copy(target, at + 30);
  if (zip64Local) {
    const extra = at + 30 + name.length;
    target.writeUInt16LE(0x0001, extra);
    target.writeUInt16LE(16, extra + 2);
    target.writeBigUInt64LE(BigInt(entry.size), extra + 4);
    target.writeBigUInt64LE(BigInt(entry.compressedSize), extra + 12);
  }
  return localHeaderLength(entry);
}

/** The fields of a central directory record that need ZIP64 (all of them when `force`). */
function zip64Fields(entry: EntryRecord, force: boolean): { size: boolean; compressed: boolean; offset: boolean } {
  return {
    size: force || entry.zip64Local || entry.size >= max32,
    compressed: force || entry.zip64Local || entry.compressedSize >= max32,
    offset: force || entry.offset >= max32,
  };
}

export function centralRecordLength(entry: EntryRecord, force: boolean): number {
  const wide = zip64Fields(entry, force);
  const extra = (wide.size ? 8 : 0) + (wide.compressed ? 8 : 0) + (wide.offset ? 8 : 0);
  return 46 + entry.name.length + (extra ? extra + 4 : 0);
}

/** Writes the central directory record of `entry` at `at`; returns its length. */
export function writeCentralRecord(target: Buffer, at: number, entry: EntryRecord, stamp: { time: number; date: number }, force: boolean): number {
  const wide = zip64Fields(entry, force);
  const extraLength = (wide.size ? 8 : 0) + (wide.compressed ? 8 : 0) + (wide.offset ? 8 : 0);
  const zip64 = extraLength > 0;
  target.writeUInt32LE(0x02014b50, at);
  target.writeUInt16LE(madeBy, at + 4);
  target.writeUInt16LE(versionNeeded(zip64, entry.directory, entry.method), at + 6);
  target.writeUInt16LE(utf8Flag, at + 8);
  target.writeUInt16LE(entry.method, at + 10);
  target.writeUInt16LE(stamp.time, at + 12);
  target.writeUInt16LE(stamp.date, at + 14);
  target.writeUInt32LE(entry.crc >>> 0, at + 16);
  target.writeUInt32LE(wide.compressed ? max32 : entry.compressedSize, at + 20);
  target.writeUInt32LE(wide.size ? max32 : entry.size, at + 24);
  target.writeUInt16LE(entry.name.length, at + 28);
  target.writeUInt16LE(zip64 ? extraLength + 4 : 0, at + 30);
  target.writeUInt16LE(0, at + 32);
  target.writeUInt16LE(0, at + 34);
  target.writeUInt16LE(0, at + 36);
  target.writeUInt32LE(entry.directory ? folderAttributes : fileAttributes, at + 38);
  target.writeUInt32LE(wide.offset ? max32 : entry.offset, at + 42);
  entry.name.copy(target, at + 46);
  let extra = at + 46 + entry.name.length;
  if (zip64) {
    target.writeUInt16LE(0x0001, extra);
    target.writeUInt16LE(extraLength, extra + 2);
    extra += 4;
    if (wide.size) extra = target.writeBigUInt64LE(BigInt(entry.size), extra);
    if (wide.compressed) extra = target.writeBigUInt64LE(BigInt(entry.compressedSize), extra);
    if (wide.offset) extra = target.writeBigUInt64LE(BigInt(entry.offset), extra);
  }
  return extra - at;
}

/**
 * The end of the archive: ZIP64 end record and locator when the count, the directory's size or
 * its offset does not fit the classic record (or when `force`), then the classic record.
 */
export function endRecords(entries: number, directoryOffset: number, directorySize: number, force: boolean): Buffer {
  const zip64 = force || entries >= max16 || directoryOffset >= max32 || directorySize >= max32;
  const end = Buffer.alloc((zip64 ? 56 + 20 : 0) + 22);
  let at = 0;
  if (zip64) {
    const recordOffset = directoryOffset + directorySize;
    end.writeUInt32LE(0x06064b50, 0);
    end.writeBigUInt64LE(44n, 4);
    end.writeUInt16LE(madeBy, 12);
    end.writeUInt16LE(45, 14);
    end.writeUInt32LE(0, 16);
    end.writeUInt32LE(0, 20);
    end.writeBigUInt64LE(BigInt(entries), 24);
    end.writeBigUInt64LE(BigInt(entries), 32);
    end.writeBigUInt64LE(BigInt(directorySize), 40);
    end.writeBigUInt64LE(BigInt(directoryOffset), 48);
    end.writeUInt32LE(0x07064b50, 56);
    end.writeUInt32LE(0, 60);
    end.writeBigUInt64LE(BigInt(recordOffset), 64);
    end.writeUInt32LE(1, 72);
    at = 76;
  }
  end.writeUInt32LE(0x06054b50, at);
  end.writeUInt16LE(0, at + 4);
  end.writeUInt16LE(0, at + 6);
  end.writeUInt16LE(zip64 ? max16 : entries, at + 8);
  end.writeUInt16LE(zip64 ? max16 : entries, at + 10);
  end.writeUInt32LE(zip64 ? max32 : directorySize, at + 12);
  end.writeUInt32LE(zip64 ? max32 : directoryOffset, at + 16);
  end.writeUInt16LE(0, at + 20);
  return end;
}
