// Walks a cell's WebDAV tree (core/cell-content.ts: dav/.pmeta, dav/__/, dav/{boxId}/, a folder per
// resource with `.pmeta` and `content`) in a fixed order, one folder listing at a time, so a cell
// of any size is walked in constant memory. The layout is Personium's already, so the zip's
// 20_webdav/ mirrors it name for name.
import { lstat, readdir } from 'node:fs/promises';
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

/** Depth first: a folder, then its files, then its subfolders, each sorted by name. */
export async function* walkTree(root: string, relative = ''): AsyncGenerator<TreeItem> {
  const absolute = relative ? path.join(root, ...relative.split('/')) : root;
  yield { kind: 'directory', relative, absolute, size: 0 };
  const entries = (await readdir(absolute, { withFileTypes: true })).filter((entry) => isExported(entry.name));
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const below = (name: string) => (relative ? `${relative}/${name}` : name);
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const file = path.join(absolute, entry.name);
    yield { kind: 'file', relative: below(entry.name), absolute: file, size: (await lstat(file)).size };
  }
  // Links and other special files are never part of the layout; they are not followed.
  for (const entry of entries) {
    if (entry.isDirectory()) yield* walkTree(root, below(entry.name));
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
