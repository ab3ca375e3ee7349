// A small deflated zip entry inflated whole and held to its declared size: shared by the main
// thread and the file writer threads, which load no TypeScript (hence plain JavaScript).
import { inflateRawSync } from 'node:zlib';

/** Why an entry's bytes are not what its central directory says. */
export class DamagedEntryError extends Error {}

/** The bytes `raw` (deflated) expands to, which must be exactly `size`; else a DamagedEntryError. */
export function inflateEntry(raw, size) {
  let data;
  try {
    // One byte more than declared is enough to catch an entry that expands beyond its size; an
    // output chunk of that size makes the result one buffer, not 16 KiB pieces joined by a copy.
    const room = Math.max(64, size + 1);
    data = inflateRawSync(raw, { maxOutputLength: room, chunkSize: room });
  } catch (error) {
    throw new DamagedEntryError(error.message);
  }
  if (data.length !== size) throw new DamagedEntryError(data.length > size ? `expands to more than its declared ${size} bytes` : `expands to ${data.length} bytes, not the declared ${size}`);
  return data;
}
