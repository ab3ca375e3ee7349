// How the export reads a file and judges it, on the export thread: synchronous reads (a cell of
// small files is mostly `.pmeta` files, where a thread-pool round trip costs more than the read),
// and the cheap tests that decide between deflating and storing.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { deflateRawSync } from 'node:zlib';

export { looksRandom } from './looks-random.mjs';

/** A block that deflates to more than this share of its size is stored, not deflated. */
export const incompressibleRatio = 0.97;
/** Files up to this size are read in one go into a shared buffer, and deflated synchronously. */
export const smallFileBytes = 64 * 1024;

/** A file's size changed between the walk and the read: the cell was not what was measured. */
export class SizeChangedError extends Error {}

/**
 * Whether a file whose first block is `head` is worth deflating. Tested at level 1, the cheapest:
 * what level 1 cannot shrink, no level shrinks enough to pay for itself.
 */
export function isCompressible(head: Buffer): boolean {
  if (head.length === 0) return false;
  return deflateRawSync(head, { level: 1 }).length <= head.length * incompressibleRatio;
}

/** Read buffer of small files, copied out at their size: most files of a cell are a few KiB. */
const scratch = Buffer.allocUnsafe(smallFileBytes + 1);

/**
 * A file's bytes when it has at most smallFileBytes, as a view of a buffer the next read reuses
 * (copy what is kept); otherwise only its size.
 */
export function readSmall(filePath: string): { bytes?: Buffer; size: number } {
  const fd = openSync(filePath, 'r');
  try {
    let filled = 0;
    for (let read = -1; read !== 0 && filled < scratch.length; filled += read) read = readSync(fd, scratch, filled, scratch.length - filled, filled);
    if (filled <= smallFileBytes) return { bytes: scratch.subarray(0, filled), size: filled };
    return { size: fstatSync(fd).size };
  } finally {
    closeSync(fd);
  }
}

/** Reads a file of `size` bytes whole; a file that is now shorter or longer is an error. */
export function readWhole(filePath: string, size: number, name: string): Buffer {
  const fd = openSync(filePath, 'r');
  try {
    // One byte more than expected, so a file that grew is noticed without reading all of it.
    const content = Buffer.allocUnsafe(size + 1);
    let filled = 0;
    for (let read = -1; read !== 0 && filled < content.length; filled += read) {
      read = readSync(fd, content, filled, content.length - filled, filled);
    }
    if (filled !== size) throw new SizeChangedError(`${name} changed size while it was exported`);
    return content.subarray(0, size);
  } finally {
    closeSync(fd);
  }
}
