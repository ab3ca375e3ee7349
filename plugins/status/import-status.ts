// GET {CellURL}__import: a running import first, then the stored failure of an
// `import failed` cell, else ready. The records are the state machine's (core/cell-status.ts).
import type { Request, ResponseToolkit, ServerRoute } from '@hapi/hapi';
import { cellOf, cellRoute } from '../../core/cell-access.ts';

export interface ImportStatus {
  status: 'ready' | 'importation in progress' | 'import failed';
  started_at?: string;
  progress?: string;
  importation_name?: string;
}

function importStatus(request: Request, h: ResponseToolkit) {
  const cell = cellOf(request);
  const job = cell.job;
  let body: ImportStatus | NonNullable<typeof cell.importFailure> = { status: 'ready' };
  if (job?.kind === 'import') {
    // A queued job has not started: 0% until the runner picks it up.
    const { status, jobs } = request.server.cellar;
    const percent = jobs.isWaiting(cell.id) ? 0 : status.progressOf(cell.id);
    body = { status: 'importation in progress', started_at: job.startedAt, progress: `${percent}%`, importation_name: job.name };
  } else if (cell.status === 'import failed' && cell.importFailure) {
    body = cell.importFailure;
  }
  return h.response(body).type('application/json');
}

/** `import failed` does not close it: the gate lets __import through (core/cell-access.ts). */
export const importStatusRoute: ServerRoute = {
  method: 'GET',
  path: '/{cell}/__import',
  options: cellRoute({ access: 'import-read', privilege: 'root' }),
  handler: importStatus,
};
