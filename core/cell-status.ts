// The cell status state machine, in one place. The persistent status
// (`normal` | `import failed`) and the job record live in the unit store; the transient activity
// (`idle` | `exporting` | `importing`) is derived from the job record. No other module writes them.
import type { CellHolds } from './cell-holds.ts';
import { errorBody, personiumError, type PersoniumErrorBody } from './errors.ts';
import type { CellRecord, CellStatus, ImportFailure, JobKind, UnitStore } from './store.ts';

export type Activity = 'idle' | 'exporting' | 'importing';

export interface CellState {
  status: CellStatus;
  activity: Activity;
}

export type CellEvent =
  | { type: 'export-accepted' }
  | { type: 'export-ended' }
  | { type: 'import-accepted' }
  | { type: 'import-succeeded' }
  | { type: 'import-failed' }
  | { type: 'import-withdrawn' };

const runningName: Record<Exclude<Activity, 'idle'>, string> = { exporting: 'cell export', importing: 'cell import' };

/** The pure transition table. Refused transitions throw the error a client would see. */
export function transition(state: CellState, event: CellEvent): CellState {
  switch (event.type) {
    case 'export-accepted':
      if (state.activity !== 'idle') throw personiumError('PR409-CM-0002', runningName[state.activity]);
      if (state.status !== 'normal') throw personiumError('PR409-CM-0001');
      return { status: state.status, activity: 'exporting' };
    case 'import-accepted':
      if (state.activity !== 'idle') throw personiumError('PR409-CM-0002', runningName[state.activity]);
      return { status: state.status, activity: 'importing' };
    case 'export-ended':
      if (state.activity !== 'exporting') throw new Error(`export-ended while ${state.activity}`);
      return { status: state.status, activity: 'idle' };
    case 'import-succeeded':
      if (state.activity !== 'importing') throw new Error(`import-succeeded while ${state.activity}`);
      return { status: 'normal', activity: 'idle' };
    case 'import-failed':
      if (state.activity !== 'importing') throw new Error(`import-failed while ${state.activity}`);
      return { status: 'import failed', activity: 'idle' };
    case 'import-withdrawn':
      if (state.activity !== 'importing') throw new Error(`import-withdrawn while ${state.activity}`);
      return { status: state.status, activity: 'idle' };
  }
}

export function activityOf(cell: CellRecord): Activity {
  if (!cell.job) return 'idle';
  return cell.job.kind === 'export' ? 'exporting' : 'importing';
}

export function stateOf(cell: CellRecord): CellState {
  return { status: cell.status, activity: activityOf(cell) };
}

/** What runs a job while it is live: the name and the progress, kept in memory between store writes. */
export interface LiveProgress {
  percent: number;
}

export class CellStatusService {
  readonly #progress = new Map<string, LiveProgress>();

  constructor(private readonly store: UnitStore, private readonly holds?: CellHolds) {}

  /** Accepts a job: the in-progress record is on disk when this resolves (before the 202). A held cell refuses it. */
  async accept(cellId: string, kind: JobKind, name: string, startedAt: Date = new Date()): Promise<CellRecord> {
    const cell = this.#require(cellId);
    const holder = this.holds?.holderOf(cellId);
    if (holder !== undefined) throw personiumError('PR409-CM-0002', holder);
    const next = transition(stateOf(cell), { type: kind === 'export' ? 'export-accepted' : 'import-accepted' });
    this.#progress.set(cellId, { percent: 0 });
    try {
      return await this.store.writeCellState(cellId, (record) => {
        record.job = { kind, name, startedAt: startedAt.toISOString() };
        record.status = next.status;
      });
    } catch (error) {
      this.#progress.delete(cellId);
      throw error;
    }
  }

  /** Progress never goes down. */
  reportProgress(cellId: string, percent: number): void {
    const live = this.#progress.get(cellId);
    if (!live) return;
    const clamped = Math.max(0, Math.min(100, Math.floor(percent)));
    if (clamped > live.percent) live.percent = clamped;
  }

  progressOf(cellId: string): number {
    return this.#progress.get(cellId)?.percent ?? 0;
  }

  async endExport(cellId: string): Promise<void> {
    const cell = this.#require(cellId);
    transition(stateOf(cell), { type: 'export-ended' });
    await this.store.writeCellState(cellId, (record) => {
      delete record.job;
    });
    this.#progress.delete(cellId);
  }

  /** A successful import: the new content goes live in the same store write that clears the job. */
  async importSucceeded(cellId: string, newContentId: string): Promise<void> {
    const cell = this.#require(cellId);
    const next = transition(stateOf(cell), { type: 'import-succeeded' });
    await this.store.writeCellState(cellId, (record) => {
      record.status = next.status;
      record.contentId = newContentId;
      delete record.importFailure;
      delete record.job;
    });
    this.#progress.delete(cellId);
  }

  /** An accepted import refused before its 202 (writes did not drain): the cell is as it was. */
  async withdrawImport(cellId: string): Promise<void> {
    const cell = this.#require(cellId);
    transition(stateOf(cell), { type: 'import-withdrawn' });
    await this.store.writeCellState(cellId, (record) => {
      delete record.job;
    });
    this.#progress.delete(cellId);
  }

  async importFailed(cellId: string, message: PersoniumErrorBody): Promise<void> {
    const cell = this.#require(cellId);
    const next = transition(stateOf(cell), { type: 'import-failed' });
    const job = cell.job!;
    const failure: ImportFailure = {
      status: 'import failed',
      started_at: job.startedAt,
      progress: `${this.progressOf(cellId)}%`,
      importation_name: job.name,
      message,
    };
    await this.store.writeCellState(cellId, (record) => {
      record.status = next.status;
      record.importFailure = failure;
      delete record.job;
    });
    this.#progress.delete(cellId);
  }

  /**
   * After a restart nothing is running: each job record left on disk is ended through the machine.
   * Returns the records so the export and import services can clean up after them.
   */
  async recoverInterruptedJobs(): Promise<Array<{ cell: CellRecord; kind: JobKind; name: string }>> {
    const interrupted: Array<{ cell: CellRecord; kind: JobKind; name: string }> = [];
    for (const cell of this.store.listCells()) {
      if (!cell.job) continue;
      const { kind, name } = cell.job;
      interrupted.push({ cell, kind, name });
      if (kind === 'export') await this.endExport(cell.id);
      else await this.importFailed(cell.id, interruptedImportMessage());
    }
    return interrupted;
  }

  #require(cellId: string): CellRecord {
    const cell = this.store.getCellById(cellId);
    if (!cell) throw personiumError('PR404-DV-0003');
    return cell;
  }
}

export function interruptedImportMessage(): PersoniumErrorBody {
  return errorBody('PR500-CM-0002', ['import (the server stopped while the import was running)']);
}
