// A small zip entry's bytes read synchronously from the zip file, through a window of it: its local
// header, then its data. Shared by the main thread (block-reader.ts) and the file writer threads,
// which read the entries they write from the same descriptor (positioned reads move no offset);
// plain JavaScript for the threads, which load no TypeScript.
import { readSync } from 'node:fs';
import { DamagedEntryError, inflateEntry } from './inflate-entry.mjs';

const windowSize = 1024 * 1024;
const localHeaderBytes = 30;
const localHeaderSignature = 0x04034b50;

/** Synchronous reads of a file through a 1 MiB window: read in file order, nearly every read is a copy. */
export class FileWindow {
  #memory = undefined;
  #start = 0;
  #length = 0;

  constructor(fd) {
    this.fd = fd;
  }

  /** Fills `buffer` from `position`; the bytes read (fewer at the end of the file). */
  read(buffer, position) {
    if (buffer.length > windowSize) return readSync(this.fd, buffer, 0, buffer.length, position);
    return this.view(position, buffer.length).copy(buffer);
  }

  /**
   * The `length` bytes from `position` (fewer at the end of the file), as a view of the window
   * that holds until the next read, or as a buffer of their own when longer than the window.
   */
  view(position, length) {
    if (length > windowSize) {
      const own = Buffer.allocUnsafe(length);
      return own.subarray(0, readSync(this.fd, own, 0, length, position));
    }
    if (!this.#memory || position < this.#start || position + length > this.#start + this.#length) {
      this.#memory ??= Buffer.allocUnsafe(windowSize);
      this.#start = position;
      this.#length = readSync(this.fd, this.#memory, 0, windowSize, position);
    }
    const from = position - this.#start;
    return this.#memory.subarray(from, Math.min(this.#length, from + length));
  }
}

function readFully(window, buffer, position) {
  let read;
  try {
    read = window.read(buffer, position);
  } catch (error) {
    throw new DamagedEntryError(error.message);
  }
  if (read !== buffer.length) throw new DamagedEntryError('the zip ends inside the entry');
}

/**
 * The raw (stored or deflated) bytes of the entry whose local header is at `at`, read into
 * `memory` (which must hold 30 bytes and `compressedSize`): a view of it.
 */
export function readRawEntry(window, memory, at, compressedSize) {
  const header = memory.subarray(0, localHeaderBytes);
  readFully(window, header, at);
  const signature = header.readUInt32LE(0);
  if (signature !== localHeaderSignature) throw new DamagedEntryError(`invalid local file header signature: 0x${signature.toString(16)}`);
  const raw = memory.subarray(0, compressedSize);
  readFully(window, raw, at + localHeaderBytes + header.readUInt16LE(26) + header.readUInt16LE(28));
  return raw;
}

/** What raw bytes hold: inflated when `deflated`, else as they are; exactly `size` bytes either way. */
export function entryData(raw, deflated, size) {
  if (deflated) return inflateEntry(raw, size);
  if (raw.length !== size) throw new DamagedEntryError(`stored size ${raw.length} is not the declared ${size}`);
  return raw;
}
