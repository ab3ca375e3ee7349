// How a batch of small zip entries is laid out for a file writer thread (entry-batches.ts, file-writer-worker.mjs):
// per entry, `count` numbers of a Float64Array, and the SHA-256 of its checksum line (32 bytes) when checked against one.

export const entryFields = Object.freeze({
  /** Where its local header starts in the zip. */
  offset: 0,
  compressedSize: 1,
  /** Its declared expanded size. */
  size: 2,
  flags: 3,
  /** The zip's CRC-32, or the size on its checksum line when `flags` has sha256. */
  check: 4,
  count: 5,
});

export const entryFlags = Object.freeze({
  folder: 1,
  deflated: 2,
  /** Held to a line of 00_checksums.json rather than to the zip's CRC-32. */
  sha256: 4,
  /** Its line held a size and a SHA-256 (a line that did not matches nothing). */
  listed: 8,
});

// How a batch of a unit backup's entries is laid out for a thread to copy out of the archive
// (file-writer.ts `copy`, file-writer-worker.mjs): per entry, `count` numbers of a Float64Array.
export const copyFields = Object.freeze({
  /** Where its bytes start in the archive. */
  offset: 0,
  size: 1,
  mode: 2,
  /** Its time, in milliseconds since the epoch. */
  mtimeMs: 3,
  /** 1 for a folder, to make (no bytes, no digest). */
  folder: 4,
  count: 5,
});
