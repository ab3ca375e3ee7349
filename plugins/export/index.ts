// POST {CellURL}__export starts an export; the export itself is a job of export-service.ts.
// GET (the status) is plugins/status; every other method gets 405.
import type { Plugin } from '@hapi/hapi';
import Joi from 'joi';
import { systemClock, type Clock } from '../../core/clock.ts';
import type { BeforeEntryHook } from '../../core/jobs.ts';
import { parseJsonObject } from '../../core/json-body.ts';
import { checkedName, jobStartRoutes, snapshotNameRule } from '../../core/routes.ts';
import { servicesPluginName } from '../../core/services.ts';
import { cellarVersion } from '../../core/version.ts';
import { CellExporter, defaultExportName } from './export-service.ts';
import { scheduleRoutes } from './schedule-routes.ts';
import { ExportScheduler } from './scheduler.ts';

export interface ExportOptions {
  /** zlib level of deflated entries; incompressible files are stored whatever the level. */
  level?: number;
  /** How long a start waits for the writes under way in the cell (ms). */
  writeDrainMs: number;
  beforeEntry?: BeforeEntryHook | undefined;
  /** What scheduled exports run by; the system clock unless a test gives its own. */
  clock?: Clock | undefined;
}

const optionsSchema = Joi.object<Required<ExportOptions>>({
  level: Joi.number().integer().min(0).max(9).default(1),
  writeDrainMs: Joi.number().integer().min(1).required(),
  beforeEntry: Joi.func(),
  clock: Joi.any(),
});

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
    server.route(jobStartRoutes('__export', { start: 'write', other: 'read' }, (request, cell) =>
      exporter.start(cell, exportName(request.payload, cell.name, new Date()))));
    const scheduler = new ExportScheduler(server.cellar, exporter, options.clock ?? systemClock);
    server.route(scheduleRoutes(scheduler));
    // After start-up recovery has ended the jobs a restart interrupted; stopped once the jobs are.
    server.ext('onPreStart', () => scheduler.start(), { after: [servicesPluginName] });
    server.ext('onPreStop', () => scheduler.stop(), { after: [servicesPluginName] });
    server.ext('onPostStop', () => exporter.close());
  },
};
