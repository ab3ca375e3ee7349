// Whether a small entry looks like random bytes (compressed media, keys), which deflate cannot
// shrink: 512 random bytes hold about 220 distinct values, text and JSON (UTF-8 too) far fewer.
// Counting them costs a few µs, deflating a 4 KiB entry in vain tens. A wrong guess costs only
// size. Plain JavaScript: the export thread and its deflating thread (deflate-worker.mjs) share it.

/** Bytes sampled, and the distinct values among them past which they look random. */
const sampleBytes = 512;
const randomDistinct = 170;

export function looksRandom(bytes) {
  const sample = Math.min(bytes.length, sampleBytes);
  if (sample < sampleBytes) return false;
  const seen = new Uint8Array(256);
  let distinct = 0;
  for (let index = 0; index < sample; index += 1) {
    const value = bytes[index];
    if (seen[value] === 0) {
      seen[value] = 1;
      distinct += 1;
    }
  }
  return distinct > randomDistinct;
}
