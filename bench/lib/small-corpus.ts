// The many-small-files corpus: files of 1–4 KB (three in four text, one in four random bytes) in
// collections of 500, each file a resource folder with `.pmeta` and `content` in Personium's
// layout, so every file is three zip entries. Written with synchronous calls and no fsync, a
// folder at a time with a turn of the event loop between folders (so that the caller's open
// connections notice the server closing them): it is generated for one run in a temporary
// folder and never committed.
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { newPmeta } from '../../core/cell-content.ts';
import { seeded, textPool } from './corpus.ts';

export const filesPerFolder = 500;

export interface SmallCorpusSummary {
  files: number;
  folders: number;
  bytes: number;
}

export interface SmallCorpusOptions {
  seed: number;
  /** Sizes of the files, drawn evenly between these. */
  minBytes: number;
  maxBytes: number;
}

/** Writes `files` small files below `boxDir` (a box's folder, which must exist). */
export async function writeSmallCorpus(boxDir: string, files: number, options: Partial<SmallCorpusOptions> = {}): Promise<SmallCorpusSummary> {
  const { seed = 7, minBytes = 1024, maxBytes = 4096 } = options;
  const random = seeded(seed);
  const pool = textPool(random, 4 * 1024 * 1024);
  const summary: SmallCorpusSummary = { files: 0, folders: 0, bytes: 0 };
  for (let index = 0; index < files; index += 1) {
    const folder = path.join(boxDir, `folder${String(Math.floor(index / filesPerFolder)).padStart(4, '0')}`);
    if (index % filesPerFolder === 0) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      mkdirSync(folder);
      writeFileSync(path.join(folder, '.pmeta'), JSON.stringify(newPmeta('col.webdav')));
      summary.folders += 1;
    }
    const size = minBytes + Math.floor(random() * (maxBytes - minBytes));
    const isText = index % 4 !== 3;
    const start = Math.floor(random() * (pool.length - size));
    const content = isText ? pool.subarray(start, start + size) : randomBytes(size);
    const dir = path.join(folder, `note${String(index).padStart(6, '0')}.${isText ? 'txt' : 'bin'}`);
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'content'), content);
    writeFileSync(path.join(dir, '.pmeta'), JSON.stringify(newPmeta('dav.file', { ct: isText ? 'text/plain' : 'application/octet-stream', cl: size })));
    summary.files += 1;
    summary.bytes += size;
  }
  return summary;
}
