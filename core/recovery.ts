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
import type { UnitStore } from './store.ts';
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

export async function recoverAtStart({ store, status, contents, snapshots, logger }: RecoveryServices): Promise<void> {
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
