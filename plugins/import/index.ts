// POST {CellURL}__import starts an import (seed 003, spec §9); the import itself is a job of
// import-service.ts. GET (the status) is plugins/status; every other method gets 405.
import type { Plugin, Request, ResponseToolkit } from '@hapi/hapi';
import { cellOf, cellRoute } from '../../core/cell-access.ts';
import { CellarError, asHttpError, personiumError } from '../../core/errors.ts';
import { parseJsonObject, rawJsonPayload } from '../../core/json-body.ts';
import { cellarVersion } from '../../core/version.ts';
import { snapshotNamePattern, snapshotNameRule } from '../export/index.ts';
import { CellImporter } from './import-service.ts';

declare module '@hapi/hapi' {
  interface PluginProperties {
    import: { importer: CellImporter };
  }
}

async function startImport(request: Request, h: ResponseToolkit) {
  const cell = cellOf(request);
  const body = parseJsonObject(request.payload, false)!;
  if (body.Name === undefined || body.Name === null) throw personiumError('PR400-CM-0001', 'Name');
  if (typeof body.Name !== 'string' || !snapshotNamePattern.test(body.Name)) throw personiumError('PR400-CM-0002', 'Name', snapshotNameRule);
  try {
    await request.server.plugins.import.importer.start(cell, body.Name);
  } catch (error) {
    throw error instanceof CellarError ? asHttpError(error) : error;
  }
  return h.response().code(202).header('Location', `${request.server.app.unit.cellUrl(cell.name)}__import`);
}

export const importPlugin: Plugin<void> = {
  name: 'import',
  version: cellarVersion,
  register(server) {
    const importer = new CellImporter(server.app.unit);
    server.expose('importer', importer);
    server.route([
      {
        method: 'POST',
        path: '/{cell}/__import',
        options: { payload: rawJsonPayload, ...cellRoute({ access: 'import-write', privilege: 'root' }) },
        handler: startImport,
      },
      {
        method: 'OPTIONS',
        path: '/{cell}/__import',
        options: { auth: false },
        handler: (_request, h) => h.response().code(200).header('Allow', 'OPTIONS, GET, POST'),
      },
      {
        method: '*',
        path: '/{cell}/__import',
        options: cellRoute({ access: 'import-read', privilege: 'root' }),
        handler() {
          throw personiumError('PR405-MC-0001');
        },
      },
    ]);
  },
};
