// Walks a cell's WebDAV tree (core/cell-content.ts: dav/.pmeta, dav/__/, dav/{boxId}/, a folder per
// resource with `.pmeta` and `content`) in a fixed order, one folder listing at a time, so a cell
// of any size is walked in constant memory. The layout is Personium's already, so the zip's
// 20_webdav/ mirrors it name for name. It runs on the export's own thread, with synchronous
// calls: a folder listing costs about 10 µs so, against a thread-pool round trip of about 30 µs
// for each listing and each size (measured), and a cell of small files is mostly folders. The
// tree is measured (for the progress) on the deflating thread (deflate-worker.mjs) while the
// export thread walks it: plain JavaScript, so that both load it (types in cell-tree.d.mts).
import { lstatSync, readdirSync } from 'node:fs';
import path from 'node:path';

/**
 * Hidden names other than `.pmeta` are Cellar's temporaries (an upload's `.content.tmp-*`, a
 * durable write's `.*.tmp`) or what Personium keeps out of exports (`.pkeys`, `.pauthhistory`).
 */
export function isExported(name) {
  return name === '.pmeta' || !name.startsWith('.');
}

const byName = (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * Depth first: a folder, then its files, then its subfolders, each sorted by name. The pending
 * folders are kept as a stack rather than nested generators. Links and other special files are
 * never part of the layout; they are not followed.
 */
export function* walkTree(root) {
  const stack = [''];
  while (stack.length > 0) {
    const relative = stack.pop();
    const absolute = relative ? path.join(root, relative) : root;
    yield { kind: 'directory', relative, absolute };
    const entries = readdirSync(absolute, { withFileTypes: true }).filter((entry) => isExported(entry.name)).sort(byName);
    const prefix = relative ? `${relative}/` : '';
    for (const entry of entries) {
      if (entry.isFile()) yield { kind: 'file', relative: prefix + entry.name, absolute: `${absolute}/${entry.name}` };
    }
    for (let index = entries.length - 1; index >= 0; index -= 1) {
      if (entries[index].isDirectory()) stack.push(prefix + entries[index].name);
    }
  }
}

/** The tree's totals, one step (an entry) at a time: it yields after each and returns the totals. */
export function* measureSteps(root) {
  const totals = { files: 0, directories: 0, bytes: 0, largestFile: 0 };
  for (const item of walkTree(root)) {
    if (item.kind === 'directory') {
      totals.directories += 1;
    } else {
      // `.pmeta` files are a few hundred bytes: their weight as entries stands for their size.
      const size = item.relative === '.pmeta' || item.relative.endsWith('/.pmeta') ? 0 : lstatSync(item.absolute).size;
      totals.files += 1;
      totals.bytes += size;
      totals.largestFile = Math.max(totals.largestFile, size);
    }
    yield;
  }
  return totals;
}

export function measureTree(root) {
  const steps = measureSteps(root);
  for (let step = steps.next(); ; step = steps.next()) if (step.done) return step.value;
}
