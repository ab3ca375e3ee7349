// Creating and deleting a cell, all or nothing across crashes. Creation lays out the folders
// first, marked `.creating`, and lists the cell in the registry last; deletion marks the folder
// `.deleting`, unlists the cell, then removes the folders. Whatever a crash leaves is told apart by
// those marks at the next start (core/unit-repair.ts): a listed cell is whole, an unlisted marked
// folder is garbage.
import { mkdir } from 'node:fs/promises';
import { CellContents, clearMarker, markers, placeMarker } from './cell-content.ts';
import type { CellRecord, UnitStore } from './store.ts';

/** Creates the cell; throws CellNameTakenError for a taken name, and leaves nothing listed on any failure. */
export async function createCell(store: UnitStore, contents: CellContents, name: string): Promise<CellRecord> {
  let createdId: string | undefined;
  try {
    const cell = await store.addCell(name, async (record) => {
      createdId = record.id;
      const folder = contents.cellDir(record.id);
      await mkdir(folder, { recursive: true });
      await placeMarker(folder, markers.creating);
      await contents.createCell(record);
    });
    await clearMarker(contents.cellDir(cell.id), markers.creating).catch(() => {});
    return cell;
  } catch (error) {
    // Left for the start-up repair when even this fails: the folder still carries its mark.
    if (createdId) await contents.removeCell(createdId).catch(() => {});
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
