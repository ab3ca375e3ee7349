// GET {CellURL}__export and GET {CellURL}__import: whether a job runs, since when, how far, under
// which name; for an `import failed` cell, the stored failure. The job record is the state
// machine's (core/cell-status.ts); the percent is the running job's.
import type { Plugin, Request, ResponseToolkit } from '@hapi/hapi';
import { cellOf, cellRoute } from '../../core/cell-access.ts';
import { servicesPluginName } from '../../core/services.ts';
import type { CellRecord, ImportFailure, JobKind } from '../../core/store.ts';
import { cellarVersion } from '../../core/version.ts';

export interface ExportStatus {
  status: 'ready' | 'exportation in progress';
  started_at?: string;
  progress?: string;
  exportation_name?: string;
}

export interface ImportStatus {
  status: 'ready' | 'importation in progress';
  started_at?: string;
  progress?: string;
  importation_name?: string;
}

/** The cell's job of `kind`, if one runs: its start, its percent (0% while it waits in the queue) and its name. */
function runningJob(request: Request, cell: CellRecord, kind: JobKind) {
  const job = cell.job;
  if (job?.kind !== kind) return undefined;
  const { status, jobs } = request.server.cellar;
  const percent = jobs.isWaiting(cell.id) ? 0 : status.progressOf(cell.id);
  return { started_at: job.startedAt, progress: `${percent}%`, name: job.name };
}

function exportStatus(request: Request, h: ResponseToolkit) {
  const job = runningJob(request, cellOf(request), 'export');
  const body: ExportStatus = job
    ? { status: 'exportation in progress', started_at: job.started_at, progress: job.progress, exportation_name: job.name }
    : { status: 'ready' };
  return h.response(body).type('application/json');
}

function importStatus(request: Request, h: ResponseToolkit) {
  const cell = cellOf(request);
  const job = runningJob(request, cell, 'import');
  let body: ImportStatus | ImportFailure = { status: 'ready' };
  if (job) body = { status: 'importation in progress', started_at: job.started_at, progress: job.progress, importation_name: job.name };
  else if (cell.status === 'import failed' && cell.importFailure) body = cell.importFailure;
  return h.response(body).type('application/json');
}

export const statusPlugin: Plugin<void> = {
  name: 'cellar-status',
  version: cellarVersion,
  dependencies: [servicesPluginName],
  register(server) {
    server.route([
      { method: 'GET', path: '/{cell}/__export', options: cellRoute({ access: 'read', privilege: 'root' }), handler: exportStatus },
      // `import failed` does not close it: the gate lets __import through (core/cell-access.ts).
      { method: 'GET', path: '/{cell}/__import', options: cellRoute({ access: 'import-read', privilege: 'root' }), handler: importStatus },
    ]);
  },
};
