// POST {CellURL}__import starts an import; the import itself is a job of import-service.ts.
// GET (the status) is plugins/status; every other method gets 405.
import type { Plugin, Request, ResponseToolkit } from '@hapi/hapi';
import Joi from 'joi';
import { cellOf, cellRoute } from '../../core/cell-access.ts';
import { parseJsonObject, rawJsonPayload } from '../../core/json-body.ts';
import { allowedMethods, methodNotAllowed, requiredName, snapshotNameRule } from '../../core/routes.ts';
import { servicesPluginName } from '../../core/services.ts';
import { cellarVersion } from '../../core/version.ts';
import { CellImporter, type ImportSettings } from './import-service.ts';

export type ImportOptions = ImportSettings;

const positiveInt = Joi.number().integer().min(1).required();
const optionsSchema = Joi.object<ImportOptions>({
  limits: Joi.object({ maxEntries: positiveInt, maxTotalBytes: positiveInt, maxCompressionRatio: positiveInt }).required(),
  beforeEntry: Joi.func(),
});

const allow = 'OPTIONS, GET, POST';

export const importPlugin: Plugin<ImportOptions> = {
  name: 'cellar-import',
  version: cellarVersion,
  dependencies: [servicesPluginName],
  register(server, options) {
    const settings = Joi.attempt(options, optionsSchema, 'Invalid "cellar-import" options');
    const importer = new CellImporter(server.cellar, settings);
    const startImport = async (request: Request, h: ResponseToolkit) => {
      const cell = cellOf(request);
      const name = requiredName(parseJsonObject(request.payload, false)!, snapshotNameRule);
      await importer.start(cell, name);
      return h.response().code(202).header('Location', `${server.cellar.urls.cell(cell.name)}__import`);
    };
    server.route([
      {
        method: 'POST',
        path: '/{cell}/__import',
        options: { payload: rawJsonPayload, ...cellRoute({ access: 'import-write', privilege: 'root' }) },
        handler: startImport,
      },
      { method: 'OPTIONS', path: '/{cell}/__import', options: { auth: false }, handler: allowedMethods(allow) },
      { method: '*', path: '/{cell}/__import', options: cellRoute({ access: 'import-read', privilege: 'root' }), handler: methodNotAllowed(allow) },
    ]);
  },
};
