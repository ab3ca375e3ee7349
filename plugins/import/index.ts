// POST {CellURL}__import starts an import; the import itself is a job of import-service.ts.
// GET (the status) is plugins/status; every other method gets 405.
import type { Plugin } from '@hapi/hapi';
import Joi from 'joi';
import { parseJsonObject } from '../../core/json-body.ts';
import { jobStartRoutes, requiredName, snapshotNameRule } from '../../core/routes.ts';
import { servicesPluginName } from '../../core/services.ts';
import { cellarVersion } from '../../core/version.ts';
import { CellImporter, type ImportSettings } from './import-service.ts';

export type ImportOptions = ImportSettings;

const positiveInt = Joi.number().integer().min(1).required();
const optionsSchema = Joi.object<ImportOptions>({
  limits: Joi.object({ maxEntries: positiveInt, maxTotalBytes: positiveInt, maxCompressionRatio: positiveInt }).required(),
  writeDrainMs: positiveInt,
  beforeEntry: Joi.func(),
});

export const importPlugin: Plugin<ImportOptions> = {
  name: 'cellar-import',
  version: cellarVersion,
  dependencies: [servicesPluginName],
  register(server, options) {
    const settings = Joi.attempt(options, optionsSchema, 'Invalid "cellar-import" options');
    const importer = new CellImporter(server.cellar, settings);
    server.ext('onPostStop', () => importer.close());
    // `import failed` does not close __import: a good snapshot is how the cell gets out of it.
    server.route(jobStartRoutes('__import', { start: 'import-write', other: 'import-read' }, (request, cell) =>
      importer.start(cell, requiredName(parseJsonObject(request.payload, false)!, snapshotNameRule))));
  },
};
