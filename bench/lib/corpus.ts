// The export benchmark's corpus: by default 2,000 files, ~300 MB, half random bytes (which do not
// compress) and half word-salad text (which deflates to about half), with lognormal sizes, in
// 20 × 5 collections. Written straight into a box folder in Personium's layout (a folder per
// resource with `.pmeta` and `content`), into a temporary data directory; never committed.
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { newPmeta, writePmeta } from '../../core/cell-content.ts';

export interface CorpusOptions {
  files: number;
  totalBytes: number;
  largestFile: number;
  seed: number;
}

export const defaultCorpus: CorpusOptions = { files: 2000, totalBytes: 300 * 1000 * 1000, largestFile: 2_200_000, seed: 42 };

export interface CorpusSummary {
  files: number;
  bytes: number;
  randomBytes: number;
  textBytes: number;
}

/** A small seeded generator (mulberry32), so sizes and words repeat from run to run. */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function lognormalSizes(random: () => number, options: CorpusOptions): number[] {
  const raw = Array.from({ length: options.files }, () => {
    const normal = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    return Math.exp(normal * 1.0);
  });
  const scale = options.totalBytes / raw.reduce((sum, value) => sum + value, 0);
  let sizes = raw.map((value) => Math.min(options.largestFile, Math.round(value * scale)));
  // Capping takes bytes away; spread them over the files below the cap.
  for (let round = 0; round < 5; round += 1) {
    const missing = options.totalBytes - sizes.reduce((sum, size) => sum + size, 0);
    const below = sizes.filter((size) => size < options.largestFile).reduce((sum, size) => sum + size, 0);
    if (missing <= 0 || below === 0) break;
    sizes = sizes.map((size) => (size < options.largestFile ? Math.min(options.largestFile, Math.round(size * (1 + missing / below))) : size));
  }
  return sizes;
}

/** Word salad: words of 2–10 letters from a fixed vocabulary, in sentences and lines. */
export function textPool(random: () => number, bytes: number): Buffer {
  const letters = 'etaoinshrdlcumwfgypbvkjxqz';
  const vocabulary = Array.from({ length: 4000 }, () => {
    const length = 2 + Math.floor(random() * 9);
    let word = '';
    for (let i = 0; i < length; i += 1) word += letters[Math.floor(Math.pow(random(), 1.8) * letters.length)];
    return word;
  });
  const parts: string[] = [];
  let size = 0;
  while (size < bytes) {
    const words = Array.from({ length: 6 + Math.floor(random() * 12) }, () => vocabulary[Math.floor(Math.pow(random(), 2) * vocabulary.length)]);
    const line = `${words.join(' ')}.\n`;
    parts.push(line);
    size += line.length;
  }
  return Buffer.from(parts.join(''), 'latin1');
}

/** Writes the corpus below `boxDir` (a box's folder, which must exist). */
export async function writeCorpus(boxDir: string, options: CorpusOptions = defaultCorpus): Promise<CorpusSummary> {
  const random = seeded(options.seed);
  const sizes = lognormalSizes(random, options);
  const pool = textPool(random, 16 * 1024 * 1024);
  const summary: CorpusSummary = { files: 0, bytes: 0, randomBytes: 0, textBytes: 0 };
  const folders = Array.from({ length: 20 }, (_, top) => Array.from({ length: 5 }, (_, sub) => `dir${top}/sub${sub}`)).flat();
  for (const folder of new Set(folders.flatMap((leaf) => [leaf.split('/')[0]!, leaf]))) {
    await mkdir(path.join(boxDir, ...folder.split('/')), { recursive: true });
    await writePmeta(path.join(boxDir, ...folder.split('/')), newPmeta('col.webdav'));
  }
  for (const [index, size] of sizes.entries()) {
    const isText = index % 2 === 1;
    let content: Buffer;
    if (isText) {
      const start = Math.floor(random() * Math.max(1, pool.length - size));
      content = size <= pool.length - start ? pool.subarray(start, start + size) : Buffer.concat([pool, pool]).subarray(0, size);
    } else {
      content = randomBytes(size);
    }
    const name = `file${String(index).padStart(4, '0')}.${isText ? 'txt' : 'bin'}`;
    const dir = path.join(boxDir, ...folders[index % folders.length]!.split('/'), name);
    await mkdir(dir);
    await writeFile(path.join(dir, 'content'), content);
    await writePmeta(dir, newPmeta('dav.file', { ct: isText ? 'text/plain' : 'application/octet-stream', cl: size }));
    summary.files += 1;
    summary.bytes += size;
    if (isText) summary.textBytes += size;
    else summary.randomBytes += size;
  }
  return summary;
}
