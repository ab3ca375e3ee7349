// Walks a cell's WebDAV tree (core/cell-content.ts: dav/.pmeta, dav/__/, dav/{boxId}/, a folder per
// resource with `.pmeta` and `content`) in a fixed order, one folder listing at a time, so a cell
// of any size is walked in constant memory. The layout is Personium's already, so the zip's
// 20_webdav/ mirrors it name for name.
import { lstatSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';

export interface TreeItem {
  kind: 'directory' | 'file';
  /** Path below the tree's root, with '/' separators; '' for the root itself. */
  relative: string;
  absolute: string;
  /** Bytes, for files. */
  size: number;
}

export interface TreeTotals {
  files: number;
  directories: number;
  bytes: number;
  largestFile: number;
}

/**
 * Hidden names other than `.pmeta` are Cellar's temporaries (an upload's `.content.tmp-*`, a
 * durable write's `.*.tmp`) or what Personium keeps out of exports (`.pkeys`, `.pauthhistory`).
 */
export function isExported(name: string): boolean {
  return name === '.pmeta' || !name.startsWith('.');
}

/** Files whose sizes are read per turn of the event loop: a batch holds the loop well under 1 ms. */
const statBatch = 200;

/**
 * Depth first: a folder, then its files, then its subfolders, each sorted by name. The pending
 * folders are kept as a stack rather than nested generators. Sizes are read with synchronous
 * lstat calls in batches, with a yield to the event loop between batches: about 3.5 µs a file
 * against about 28 µs as a thread-pool round trip (measured), as the snapshot PROPFIND does.
 */
export async function* walkTree(root: string): AsyncGenerator<TreeItem> {
  const stack: string[] = [''];
  while (stack.length > 0) {
    const relative = stack.pop()!;
    const absolute = relative ? path.join(root, ...relative.split('/')) : root;
    yield { kind: 'directory', relative, absolute, size: 0 };
    const entries = (await readdir(absolute, { withFileTypes: true })).filter((entry) => isExported(entry.name));
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const below = (name: string) => (relative ? `${relative}/${name}` : name);
    const files = entries.filter((entry) => entry.isFile());
    for (let start = 0; start < files.length; start += statBatch) {
      if (start > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      const batch = files.slice(start, start + statBatch).map((entry) => {
        const file = path.join(absolute, entry.name);
        return { kind: 'file' as const, relative: below(entry.name), absolute: file, size: lstatSync(file).size };
      });
      yield* batch;
    }
    // Links and other special files are never part of the layout; they are not followed.
    const folders = entries.filter((entry) => entry.isDirectory());
    for (let index = folders.length - 1; index >= 0; index -= 1) stack.push(below(folders[index]!.name));
  }
}

export async function measureTree(root: string): Promise<TreeTotals> {
  const totals: TreeTotals = { files: 0, directories: 0, bytes: 0, largestFile: 0 };
  for await (const item of walkTree(root)) {
    if (item.kind === 'directory') {
      totals.directories += 1;
      continue;
    }
    totals.files += 1;
    totals.bytes += item.size;
    totals.largestFile = Math.max(totals.largestFile, item.size);
  }
  return totals;
}
