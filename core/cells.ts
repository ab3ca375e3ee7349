// A cell's life, in one place: creation, removal, and an import's new content going live, each
// all or nothing across crashes. Creation lays out the folders first (built under a hidden name,
// marked `.creating`, then renamed whole) and lists the cell in the registry last; removal marks
// the folder `.deleting`, unlists the cell, then removes the folders. Whatever a crash leaves is
// told apart by those marks at the next start (unit-repair.ts): a listed cell is whole, an
// unlisted marked folder is garbage. Every change is told to the listeners, so the caches that
// hold something of a cell (the box WebDAV servers) drop it when it stops being true.
import { mkdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { buildingPrefix, clearImportStaging, clearMarker, discard, markers, placeMarker, type CellContents, type StagedContent } from './cell-content.ts';
import type { CellStatusService } from './cell-status.ts';
import type { SnapshotStore } from './snapshot-store.ts';
import type { CellRecord, UnitStore } from './store.ts';

export type CellChange = 'created' | 'removed' | 'content-replaced';
export type CellChangeListener = (cellId: string, change: CellChange) => void;

export class Cells {
  readonly #listeners: CellChangeListener[] = [];

  constructor(
    private readonly store: UnitStore,
    private readonly contents: CellContents,
    private readonly snapshots: SnapshotStore,
    private readonly status: CellStatusService,
  ) {}

  onChange(listener: CellChangeListener): void {
    this.#listeners.push(listener);
  }

  /** A new empty cell; throws CellNameTakenError for a taken name, and leaves nothing listed on any failure. */
  async create(name: string): Promise<CellRecord> {
    const { store, contents } = this;
    let createdId: string | undefined;
    const building = (id: string) => path.join(path.dirname(contents.cellDir(id)), `${buildingPrefix}${id}`);
    try {
      const cell = await store.addCell(name, async (record) => {
        createdId = record.id;
        // Built under a hidden name and renamed whole, so the folder never exists without its mark.
        await mkdir(building(record.id), { recursive: true });
        await placeMarker(building(record.id), markers.creating);
        await contents.createEmptyContent(path.join(building(record.id), record.contentId));
        await rename(building(record.id), contents.cellDir(record.id));
        await mkdir(contents.snapshotDir(record.id), { recursive: true });
      });
      await clearMarker(contents.cellDir(cell.id), markers.creating).catch(() => {});
      this.#tell(cell.id, 'created');
      return cell;
    } catch (error) {
      // Left for the start-up repair when even this fails: the folder still carries its mark.
      if (createdId) {
        await discard(building(createdId)).catch(() => {});
        await contents.removeCell(createdId).catch(() => {});
      }
      throw error;
    }
  }

  /** Once this resolves the cell is unlisted and its content and snapshot area are gone. */
  async remove(cell: CellRecord): Promise<void> {
    const folder = this.contents.cellDir(cell.id);
    await placeMarker(folder, markers.deleting);
    try {
      await this.store.removeCell(cell.id);
    } catch (error) {
      await clearMarker(folder, markers.deleting).catch(() => {});
      throw error;
    }
    this.#tell(cell.id, 'removed');
    await this.contents.removeCell(cell.id);
    this.snapshots.forget(cell.id);
  }

  /**
   * An import's staged content becomes the cell's: the state machine moves the pointer and ends the
   * job in one store write; the staging mark and the old content are removed only after it.
   */
  async commitImport(cellId: string, staged: StagedContent): Promise<void> {
    const cell = this.store.getCellById(cellId);
    if (!cell) throw new Error(`cell ${cellId} is not in the registry`);
    const oldDir = this.contents.contentDir(cell);
    await this.status.importSucceeded(cellId, staged.contentId);
    await clearImportStaging(staged.dir);
    this.contents.forget(oldDir);
    this.#tell(cellId, 'content-replaced');
    await discard(oldDir);
  }

  #tell(cellId: string, change: CellChange): void {
    for (const listener of this.#listeners) listener(cellId, change);
  }
}
