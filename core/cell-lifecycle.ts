// Creating and deleting a cell, all or nothing across crashes. Creation lays out the folders
// first, marked `.creating` (built under a hidden name, then renamed), and lists the cell in the
// registry last; deletion marks the folder
// `.deleting`, unlists the cell, then removes the folders. Whatever a crash leaves is told apart by
// those marks at the next start (core/unit-repair.ts): a listed cell is whole, an unlisted marked
// folder is garbage.
import { mkdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { buildingPrefix, CellContents, clearMarker, discard, markers, placeMarker } from './cell-content.ts';
import type { CellRecord, UnitStore } from './store.ts';

/** Creates the cell; throws CellNameTakenError for a taken name, and leaves nothing listed on any failure. */
export async function createCell(store: UnitStore, contents: CellContents, name: string): Promise<CellRecord> {
  let createdId: string | undefined;
  try {
    const cell = await store.addCell(name, async (record) => {
      createdId = record.id;
      // Built under a hidden name and renamed whole, so the folder never exists without its mark.
      const building = path.join(path.dirname(contents.cellDir(record.id)), `${buildingPrefix}${record.id}`);
      await mkdir(building, { recursive: true });
      await placeMarker(building, markers.creating);
      await contents.createEmptyContent(path.join(building, record.contentId));
      await rename(building, contents.cellDir(record.id));
      await mkdir(contents.snapshotDir(record.id), { recursive: true });
    });
    await clearMarker(contents.cellDir(cell.id), markers.creating).catch(() => {});
    return cell;
  } catch (error) {
    // Left for the start-up repair when even this fails: the folder still carries its mark.
    if (createdId) {
      await discard(path.join(path.dirname(contents.cellDir(createdId)), `${buildingPrefix}${createdId}`)).catch(() => {});
      await contents.removeCell(createdId).catch(() => {});
    }
    throw error;
  }
}

/** Deletes the cell: once this resolves it is unlisted and its folders are gone. */
export async function deleteCell(store: UnitStore, contents: CellContents, cell: CellRecord): Promise<void> {
  const folder = contents.cellDir(cell.id);
  await placeMarker(folder, markers.deleting);
  try {
    await store.removeCell(cell.id);
  } catch (error) {
    await clearMarker(folder, markers.deleting).catch(() => {});
    throw error;
  }
  await contents.removeCell(cell.id);
}
