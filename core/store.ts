// The unit's registry of cells, one lowdb document on disk (`unit.json` in the data directory).
// Only core/cell-status.ts changes a cell's status or job record (through `writeCellState`).
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Low } from 'lowdb';
import { DurableJsonFile } from './json-file.ts';
import type { PersoniumErrorBody } from './errors.ts';

export type CellStatus = 'normal' | 'import failed';
export type JobKind = 'export' | 'import';

/** The persisted in-progress record of an export or import, stored before the 202. */
export interface JobRecord {
  kind: JobKind;
  name: string;
  startedAt: string;
}

export interface ImportFailure {
  status: 'import failed';
  started_at: string;
  progress: string;
  importation_name: string;
  message: PersoniumErrorBody;
}

export interface CellRecord {
  id: string;
  name: string;
  createdAt: number;
  updatedAt: number;
  status: CellStatus;
  /** Folder under cells/{id}/ holding the live content; an import swaps it in one store write. */
  contentId: string;
  importFailure?: ImportFailure;
  job?: JobRecord;
}

interface UnitDocument {
  version: 1;
  cells: CellRecord[];
}

export class UnitStore {
  readonly #db: Low<UnitDocument>;

  constructor(readonly dataDir: string) {
    this.#db = new Low<UnitDocument>(new DurableJsonFile<UnitDocument>(path.join(dataDir, 'unit.json')), { version: 1, cells: [] });
  }

  /** Reads the document; a corrupt file is kept aside and CorruptFileError is thrown (never an empty start). */
  async initialize(): Promise<void> {
    await this.#db.read();
    if (!Array.isArray(this.#db.data.cells)) throw new Error(`${path.join(this.dataDir, 'unit.json')} has no cells list`);
  }

  listCells(): readonly CellRecord[] {
    return this.#db.data.cells;
  }

  findCell(name: string): CellRecord | undefined {
    return this.#db.data.cells.find((cell) => cell.name === name);
  }

  getCellById(id: string): CellRecord | undefined {
    return this.#db.data.cells.find((cell) => cell.id === id);
  }

  async addCell(name: string): Promise<CellRecord> {
    const now = Date.now();
    const cell: CellRecord = { id: randomUUID().replace(/-/g, ''), name, createdAt: now, updatedAt: now, status: 'normal', contentId: newContentId() };
    this.#db.data.cells.push(cell);
    await this.#db.write();
    return cell;
  }

  async removeCell(id: string): Promise<void> {
    this.#db.data.cells = this.#db.data.cells.filter((cell) => cell.id !== id);
    await this.#db.write();
  }

  /** For core/cell-status.ts only: the status, job record and content pointer move together. */
  async writeCellState(id: string, change: (cell: CellRecord) => void): Promise<CellRecord> {
    const cell = this.getCellById(id);
    if (!cell) throw new Error(`cell ${id} is not in the registry`);
    change(cell);
    cell.updatedAt = Date.now();
    await this.#db.write();
    return cell;
  }
}

export function newContentId(): string {
  return `content-${randomUUID().slice(0, 8)}`;
}
