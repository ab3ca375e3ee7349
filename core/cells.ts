// A cell's life, in one place: creation, removal, and an import's new content going live. Every
// change is told to the listeners, so the caches that hold something of a cell (the OData
// document, the snapshot area, the box WebDAV servers) drop it at the moment it stops being true.
import { rm } from 'node:fs/promises';
import type { CellContents, StagedContent } from './cell-content.ts';
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

  /** A new empty cell; when its folders cannot be made, the registry does not keep it. */
  async create(name: string): Promise<CellRecord> {
    const cell = await this.store.addCell(name);
    try {
      await this.contents.createCell(cell);
    } catch (error) {
      await this.store.removeCell(cell.id);
      await this.contents.removeCell(cell.id).catch(() => {});
      throw error;
    }
    this.#tell(cell.id, 'created');
    return cell;
  }

  /** The cell leaves the registry first, then its content and snapshot area go. */
  async remove(cell: CellRecord): Promise<void> {
    await this.store.removeCell(cell.id);
    this.#tell(cell.id, 'removed');
    await this.contents.removeCell(cell.id);
    this.snapshots.forget(cell.id);
  }

  /**
   * An import's staged content becomes the cell's: the state machine moves the pointer and ends the
   * job in one store write; the old content is removed only after it.
   */
  async commitImport(cellId: string, staged: StagedContent): Promise<void> {
    const cell = this.store.getCellById(cellId);
    if (!cell) throw new Error(`cell ${cellId} is not in the registry`);
    const oldDir = this.contents.contentDir(cell);
    await this.status.importSucceeded(cellId, staged.contentId);
    this.contents.forget(oldDir);
    this.#tell(cellId, 'content-replaced');
    await rm(oldDir, { recursive: true, force: true });
  }

  #tell(cellId: string, change: CellChange): void {
    for (const listener of this.#listeners) listener(cellId, change);
  }
}
