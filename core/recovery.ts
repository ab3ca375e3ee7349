// Start-up recovery, in one place: after a crash or restart nothing is running, so every job
// record left on disk is ended through the state machine, an interrupted export leaves its
// `{Name}.error`, and the leftovers of unfinished writes are swept: snapshot uploads and export
// temporaries, then whatever unit-repair.ts can prove is garbage (cells half created or half
// deleted, content folders of imports that never went live).
import type { Logger } from 'pino';
import type { CellContents } from './cell-content.ts';
import type { CellStatusService } from './cell-status.ts';
import { errorBody, type PersoniumErrorBody } from './errors.ts';
import type { SnapshotStore } from './snapshot-store.ts';
import type { CellRecord, UnitStore } from './store.ts';
import { repairUnit } from './unit-repair.ts';

export interface RecoveryServices {
  store: UnitStore;
  status: CellStatusService;
  contents: CellContents;
  snapshots: SnapshotStore;
  logger: Logger;
}

export function interruptedExportBody(): PersoniumErrorBody {
  return errorBody('PR500-CM-0002', ['cell export (the server stopped while the export was running)']);
}

/** Removes what a plugin's unfinished writes left in one cell; says how many it removed. */
export type CellSweep = (cell: CellRecord, startedAt: number) => Promise<number>;

/**
 * The recovery steps in order. Plugins whose writes leave temporaries of their own (box uploads)
 * add a sweep here rather than a start-up hook of their own; those run after the rest, in the
 * background, for what they remove is invisible and they may walk big trees.
 */
export class Recovery {
  readonly #sweeps: Array<{ what: string; sweep: CellSweep }> = [];

  sweepInBackground(what: string, sweep: CellSweep): void {
    this.#sweeps.push({ what, sweep });
  }

  async run(services: RecoveryServices): Promise<void> {
    const startedAt = Date.now();
    await recoverAtStart(services);
    const { store, logger } = services;
    for (const { what, sweep } of this.#sweeps) {
      void (async () => {
        let removed = 0;
        for (const cell of store.listCells()) removed += await sweep(cell, startedAt);
        if (removed) logger.info({ removed }, `removed ${what}`);
      })().catch((error: unknown) => logger.warn({ err: error }, `sweeping ${what} failed`));
    }
  }
}

async function recoverAtStart({ store, status, contents, snapshots, logger }: RecoveryServices): Promise<void> {
  for (const { cell, kind, name } of await status.recoverInterruptedJobs()) {
    logger.warn({ cell: cell.name, kind, name }, 'job interrupted by a restart was ended');
    if (kind === 'export') {
      await snapshots.of(cell.id).writeSmallFile(`${name}.error`, JSON.stringify(interruptedExportBody()), 'application/json');
    }
  }
  for (const cell of store.listCells()) {
    const removed = await snapshots.of(cell.id).removeTemporaries();
    if (removed.length) logger.info({ cell: cell.name, removed: removed.length }, 'removed unfinished snapshot uploads and exports');
  }
  await repairUnit(store, contents, logger);
}
