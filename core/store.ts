// The unit's registry of cells, one JSON document on disk (`unit.json` in the data directory).
// Only core/cell-status.ts changes a cell's status or job record (through `writeCellState`).
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { DurableJsonFile } from './json-file.ts';
import { checkUnitDocument } from './store-validation.ts';
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

/** A snapshot a schedule made: its own, the only kind its retention removes, while the file is the one it wrote (same ETag). */
export interface ScheduledSnapshot {
  name: string;
  etag: string;
  madeAt: string;
}

export interface ScheduledRun {
  /** When the run was due (or, for a run the server missed while down, when it was made up). */
  at: string;
  outcome: 'exporting' | 'exported' | 'export failed' | 'skipped';
  name?: string;
  reason?: string;
}

/** The cell's scheduled exports (plugins/export/): kept in the registry, never in the cell's export. */
export interface ExportSchedule {
  cron: string;
  keep: number;
  timeZone: string;
  /** When the schedule was set; with `lastRun`, where the search for a run missed while the server was down starts. */
  setAt: string;
  lastRun?: ScheduledRun;
  /** Oldest first. */
  made: ScheduledSnapshot[];
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
  exportSchedule?: ExportSchedule;
}

interface UnitDocument {
  version: 1;
  cells: CellRecord[];
}

/** A name already listed, or being created by another request. */
export class CellNameTakenError extends Error {
  constructor(readonly name: string) {
    super(`a cell named ${name} exists`);
  }
}

/**
 * Cells are listed in memory only once the write that lists them is durable, and unlisted only
 * once the write that drops them is: a failed write (a full disk) leaves memory as the disk is.
 * Each write builds the document when it reaches the disk, from the listed cells plus those
 * being added minus those being removed, so coalesced writes never lose one another's changes.
 */
export class UnitStore {
  readonly #file: DurableJsonFile<UnitDocument>;
  #data: UnitDocument = { version: 1, cells: [] };
  /** Names reserved by a creation under way (folders being made, registry being written). */
  readonly #reservedNames = new Set<string>();
  readonly #adding = new Map<string, CellRecord>();
  readonly #removing = new Set<string>();
  readonly #document = (): UnitDocument => ({
    version: 1,
    cells: [...this.#data.cells.filter((cell) => !this.#removing.has(cell.id)), ...this.#adding.values()],
  });

  constructor(readonly dataDir: string) {
    this.#file = new DurableJsonFile<UnitDocument>(path.join(dataDir, 'unit.json'), checkUnitDocument);
  }

  /** Reads the document; a corrupt or malformed file is kept aside and CorruptFileError is thrown (never an empty start). */
  async initialize(): Promise<void> {
    const data = await this.#file.read();
    if (data) this.#data = data;
  }

  listCells(): readonly CellRecord[] {
    return this.#data.cells;
  }

  findCell(name: string): CellRecord | undefined {
    return this.#data.cells.find((cell) => cell.name === name);
  }

  getCellById(id: string): CellRecord | undefined {
    return this.#data.cells.find((cell) => cell.id === id);
  }

  /**
   * Creates a cell all or nothing: the name is reserved, `prepare` lays out its folders, and the
   * registry write that lists it comes last. Throws CellNameTakenError for a taken name.
   */
  async addCell(name: string, prepare?: (cell: CellRecord) => Promise<void>): Promise<CellRecord> {
    if (this.findCell(name) || this.#reservedNames.has(name)) throw new CellNameTakenError(name);
    this.#reservedNames.add(name);
    const now = Date.now();
    const cell: CellRecord = { id: randomUUID().replace(/-/g, ''), name, createdAt: now, updatedAt: now, status: 'normal', contentId: newContentId() };
    try {
      await prepare?.(cell);
      this.#adding.set(cell.id, cell);
      await this.#file.write(this.#document);
      this.#data.cells.push(cell);
      return cell;
    } finally {
      this.#adding.delete(cell.id);
      this.#reservedNames.delete(name);
    }
  }

  /** Unlists a cell; it stays listed when the write fails. */
  async removeCell(id: string): Promise<void> {
    this.#removing.add(id);
    try {
      await this.#file.write(this.#document);
      this.#data.cells = this.#data.cells.filter((cell) => cell.id !== id);
    } finally {
      this.#removing.delete(id);
    }
  }

  /**
   * For core/cell-status.ts only: the status, job record and content pointer move together. A
   * change whose write fails is undone in memory too (a full disk must not leave a cell busy).
   */
  async writeCellState(id: string, change: (cell: CellRecord) => void): Promise<CellRecord> {
    const cell = this.getCellById(id);
    if (!cell) throw new Error(`cell ${id} is not in the registry`);
    const before = structuredClone(cell);
    change(cell);
    cell.updatedAt = Date.now();
    try {
      await this.#file.write(this.#document);
    } catch (error) {
      for (const key of Object.keys(cell) as Array<keyof CellRecord>) delete cell[key];
      Object.assign(cell, before);
      throw error;
    }
    return cell;
  }

  /**
   * For the export schedules only: sets (or, with undefined, removes) the cell's schedule. A write
   * that fails leaves the schedule in memory as it was. Resolves to false when the cell is gone.
   */
  async writeExportSchedule(id: string, schedule: ExportSchedule | undefined): Promise<boolean> {
    const cell = this.getCellById(id);
    if (!cell) return false;
    const before = cell.exportSchedule;
    if (schedule) cell.exportSchedule = schedule;
    else delete cell.exportSchedule;
    try {
      await this.#file.write(this.#document);
    } catch (error) {
      if (before) cell.exportSchedule = before;
      else delete cell.exportSchedule;
      throw error;
    }
    return true;
  }

  /** For the start-up repair: the registry named a content folder that is not there. */
  async pointContentAt(id: string, contentId: string): Promise<void> {
    const cell = this.getCellById(id);
    if (!cell) throw new Error(`cell ${id} is not in the registry`);
    cell.contentId = contentId;
    await this.#file.write(this.#document);
  }

}

export function newContentId(): string {
  return `content-${randomUUID().slice(0, 8)}`;
}
