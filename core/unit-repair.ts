// The start-up repair: what a crash (or a restored older `unit.json`) left between the registry and
// the folders on disk is brought back in line, and nothing is deleted that cannot be proven to be
// garbage. Proof is a mark left by the operation that made the folder (core/cells.ts,
// the import's staging mark) or a `.deleted-` name; every other folder is kept and reported.
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { buildingPrefix, clearImportStaging, clearMarker, discard, discardedPrefix, hasMarker, markers, type CellContents } from './cell-content.ts';
import { confine } from './confine.ts';
import type { CellRecord, UnitStore } from './store.ts';

export interface RepairReport {
  /** Folders removed, relative to the data directory. */
  removed: string[];
  /** Folders kept although nothing in the registry names them. */
  kept: string[];
  /** Registry entries or folders set right, in words. */
  repaired: string[];
}

async function folderNames(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((entry) => entry.isDirectory()).map((entry) => entry.name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

async function exists(dir: string): Promise<boolean> {
  return readdir(dir).then(() => true, () => false);
}

export async function repairUnit(store: UnitStore, contents: CellContents, logger: Logger): Promise<RepairReport> {
  const report: RepairReport = { removed: [], kept: [], repaired: [] };
  const relative = (dir: string) => path.relative(contents.dataDir, dir);
  const listed = new Set(store.listCells().map((cell) => cell.id));

  for (const area of ['cells', 'snapshots']) {
    const root = path.join(contents.dataDir, area);
    for (const name of await folderNames(root)) {
      const dir = confine(root, name);
      if (name.startsWith(discardedPrefix) || name.startsWith(buildingPrefix)) {
        await rm(dir, { recursive: true, force: true });
        report.removed.push(relative(dir));
      } else if (listed.has(name) || name.startsWith('.')) {
        continue;
      } else if (area === 'cells' && ((await hasMarker(dir, markers.creating)) || (await hasMarker(dir, markers.deleting)))) {
        await discard(contents.snapshotDir(name));
        await discard(dir);
        report.removed.push(relative(dir));
      } else if (area === 'cells' || !(await exists(contents.cellDir(name)))) {
        report.kept.push(relative(dir));
      }
    }
  }

  for (const cell of store.listCells()) await repairCell(store, contents, cell, report);

  for (const dir of report.removed) logger.info({ folder: dir }, 'removed a folder left by an interrupted operation');
  for (const dir of report.kept) logger.warn({ folder: dir }, 'kept a folder the registry does not name; move it away or restore the matching unit.json');
  for (const what of report.repaired) logger.warn(what);
  return report;
}

async function repairCell(store: UnitStore, contents: CellContents, cell: CellRecord, report: RepairReport): Promise<void> {
  const cellDir = contents.cellDir(cell.id);
  await clearMarker(cellDir, markers.creating).catch(() => {});
  await clearMarker(cellDir, markers.deleting).catch(() => {});
  for (const name of await folderNames(cellDir)) {
    if (!name.startsWith(discardedPrefix)) continue;
    await rm(confine(cellDir, name), { recursive: true, force: true });
    report.removed.push(path.relative(contents.dataDir, confine(cellDir, name)));
  }
  let folders = (await folderNames(cellDir)).filter((name) => !name.startsWith('.'));

  if (!folders.includes(cell.contentId)) {
    const finished: string[] = [];
    for (const name of folders) if (!(await hasMarker(confine(cellDir, name), markers.importStaging))) finished.push(name);
    if (finished.length === 1) {
      // A registry from before an import names the content that import replaced.
      report.repaired.push(`cell ${cell.name}: the registry named content ${cell.contentId}, which is not on disk; it now names ${finished[0]}, the only content folder there`);
      await store.pointContentAt(cell.id, finished[0]!);
    } else if (finished.length === 0) {
      report.repaired.push(`cell ${cell.name}: no content on disk; laid out an empty cell`);
      await contents.createEmptyContent(contents.contentDir(cell));
      await mkdir(contents.snapshotDir(cell.id), { recursive: true });
    } else {
      for (const name of finished) report.kept.push(path.relative(contents.dataDir, confine(cellDir, name)));
      report.repaired.push(`cell ${cell.name}: the registry names content ${cell.contentId}, which is not on disk, and ${finished.length} content folders are there; none was chosen`);
      return;
    }
    folders = (await folderNames(cellDir)).filter((name) => !name.startsWith('.'));
  }

  const live = contents.contentDir(cell);
  // The import that made it live stopped before it took its staging mark off.
  await clearImportStaging(live);
  for (const name of folders) {
    if (name === cell.contentId) continue;
    const dir = confine(cellDir, name);
    if (await hasMarker(dir, markers.importStaging)) {
      await discard(dir);
      contents.forget(dir);
      report.removed.push(path.relative(contents.dataDir, dir));
    } else {
      report.kept.push(path.relative(contents.dataDir, dir));
    }
  }
}
