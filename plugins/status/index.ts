// GET {CellURL}__export: whether an export runs, since when, how far, under which name.
// The job record is the state machine's (core/cell-status.ts); the percent is the running job's.
import type { Plugin, Request, ResponseToolkit } from '@hapi/hapi';
import { cellOf, cellRoute } from '../../core/cell-access.ts';
import { servicesPluginName } from '../../core/services.ts';
import { cellarVersion } from '../../core/version.ts';
import { importStatusRoute } from './import-status.ts';

export interface ExportStatus {
  status: 'ready' | 'exportation in progress';
  started_at?: string;
  progress?: string;
  exportation_name?: string;
}

function exportStatus(request: Request, h: ResponseToolkit) {
  const cell = cellOf(request);
  const job = cell.job;
  let body: ExportStatus = { status: 'ready' };
  if (job?.kind === 'export') {
    // A queued job has not started: 0% until the runner picks it up.
    const { status, jobs } = request.server.cellar;
    const percent = jobs.isWaiting(cell.id) ? 0 : status.progressOf(cell.id);
    body = { status: 'exportation in progress', started_at: job.startedAt, progress: `${percent}%`, exportation_name: job.name };
  }
  return h.response(body).type('application/json');
}

export const statusPlugin: Plugin<void> = {
  name: 'cellar-status',
  version: cellarVersion,
  dependencies: [servicesPluginName],
  register(server) {
    server.route([
      { method: 'GET', path: '/{cell}/__export', options: cellRoute({ access: 'read', privilege: 'root' }), handler: exportStatus },
      importStatusRoute,
    ]);
  },
};
