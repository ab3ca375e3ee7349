// POST {CellURL}__export starts an export; the export itself is a job of export-service.ts.
// GET (the status) is plugins/status; every other method gets 405.
import type { Plugin, Request, ResponseToolkit } from '@hapi/hapi';
import Joi from 'joi';
import { cellOf, cellRoute } from '../../core/cell-access.ts';
import type { BeforeEntryHook } from '../../core/jobs.ts';
import { parseJsonObject, rawJsonPayload } from '../../core/json-body.ts';
import { allowedMethods, checkedName, methodNotAllowed, snapshotNameRule } from '../../core/routes.ts';
import { servicesPluginName } from '../../core/services.ts';
import { cellarVersion } from '../../core/version.ts';
import { CellExporter, defaultExportName } from './export-service.ts';

export interface ExportOptions {
  /** zlib level of deflated entries; incompressible files are stored whatever the level. */
  level?: number;
  beforeEntry?: BeforeEntryHook | undefined;
}

const optionsSchema = Joi.object<Required<ExportOptions>>({
  level: Joi.number().integer().min(0).max(9).default(1),
  beforeEntry: Joi.func(),
});

const allow = 'OPTIONS, GET, POST';

/** The `Name` of the body, or the default one; Personium treats any body as JSON. */
export function exportName(payload: unknown, cellName: string, now: Date): string {
  const given = parseJsonObject(payload, true)?.Name;
  return given === undefined || given === null ? defaultExportName(cellName, now) : checkedName(given, snapshotNameRule);
}

export const exportPlugin: Plugin<ExportOptions> = {
  name: 'cellar-export',
  version: cellarVersion,
  dependencies: [servicesPluginName],
  register(server, options) {
    const settings = Joi.attempt(options, optionsSchema, 'Invalid "cellar-export" options');
    const exporter = new CellExporter(server.cellar, settings);
    const startExport = async (request: Request, h: ResponseToolkit) => {
      const cell = cellOf(request);
      await exporter.start(cell, exportName(request.payload, cell.name, new Date()));
      return h.response().code(202).header('Location', `${server.cellar.urls.cell(cell.name)}__export`);
    };
    server.route([
      {
        method: 'POST',
        path: '/{cell}/__export',
        options: { payload: rawJsonPayload, ...cellRoute({ access: 'write', privilege: 'root' }) },
        handler: startExport,
      },
      { method: 'OPTIONS', path: '/{cell}/__export', options: { auth: false }, handler: allowedMethods(allow) },
      { method: '*', path: '/{cell}/__export', options: cellRoute({ access: 'read', privilege: 'root' }), handler: methodNotAllowed(allow) },
    ]);
  },
};
