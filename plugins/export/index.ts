// POST {CellURL}__export starts an export (seed 004, spec §7); the export itself is a job of
// export-service.ts. GET (the status) is plugins/status; every other method gets 405.
import type { Plugin, Request, ResponseToolkit } from '@hapi/hapi';
import Joi from 'joi';
import { cellOf, cellRoute } from '../../core/cell-access.ts';
import { personiumError } from '../../core/errors.ts';
import { parseJsonObject, rawJsonPayload } from '../../core/json-body.ts';
import { cellarVersion } from '../../core/version.ts';
import { CellExporter, defaultExportName, type ExportSettings } from './export-service.ts';

export const snapshotNamePattern = /^[a-zA-Z0-9-_]{1,192}$/;
export const snapshotNameRule = '^[a-zA-Z0-9-_]{1,192}$';

declare module '@hapi/hapi' {
  interface PluginProperties {
    export: { exporter: CellExporter };
  }
}

/** The `Name` of the body, or the default one; Personium treats any body as JSON. */
export function exportName(payload: unknown, cellName: string, now: Date): string {
  const body = parseJsonObject(payload, true);
  const given = body?.Name;
  const name = given === undefined || given === null ? defaultExportName(cellName, now) : given;
  if (typeof name !== 'string' || !snapshotNamePattern.test(name)) throw personiumError('PR400-CM-0002', 'Name', snapshotNameRule);
  return name;
}

async function startExport(request: Request, h: ResponseToolkit) {
  const cell = cellOf(request);
  const name = exportName(request.payload, cell.name, new Date());
  await request.server.plugins.export.exporter.start(cell, name);
  return h.response().code(202).header('Location', `${request.server.app.unit.cellUrl(cell.name)}__export`);
}

const optionsSchema = Joi.object<ExportSettings>({
  level: Joi.number().integer().min(0).max(9).default(1),
});

export const exportPlugin: Plugin<Partial<ExportSettings> | undefined> = {
  name: 'export',
  version: cellarVersion,
  register(server, options) {
    const settings = Joi.attempt(options ?? {}, optionsSchema) as ExportSettings;
    const exporter = new CellExporter(server.app.unit, settings);
    server.expose('exporter', exporter);
    server.app.unit.jobs.onInterrupted('export', (cell, name) => exporter.recoverInterrupted(cell, name));
    server.route([
      {
        method: 'POST',
        path: '/{cell}/__export',
        options: { payload: rawJsonPayload, ...cellRoute({ access: 'write', privilege: 'root' }) },
        handler: startExport,
      },
      {
        method: 'OPTIONS',
        path: '/{cell}/__export',
        options: { auth: false },
        handler: (_request, h) => h.response().code(200).header('Allow', 'OPTIONS, GET, POST'),
      },
      {
        method: '*',
        path: '/{cell}/__export',
        options: cellRoute({ access: 'read', privilege: 'root' }),
        handler() {
          throw personiumError('PR405-MC-0001');
        },
      },
    ]);
  },
};
