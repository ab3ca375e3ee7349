// `{CellURL}__export/schedule`: GET shows the cell's export schedule (with its next and last run and
// the snapshots it made), PUT sets it from `{"cron","keep","timeZone"}`, DELETE removes it. Root
// privilege, gated as __export is: reads like its GET, writes like its POST.
import type { ServerRoute } from '@hapi/hapi';
import { cellOf, cellRoute } from '../../core/cell-access.ts';
import { personiumError } from '../../core/errors.ts';
import { parseJsonObject, rawJsonPayload } from '../../core/json-body.ts';
import { methodNotAllowed, optionsRoute } from '../../core/routes.ts';
import { parseScheduleSpec } from './schedule-spec.ts';
import type { ExportScheduler } from './scheduler.ts';

const path = '/{cell}/__export/schedule';
const allow = 'OPTIONS, GET, PUT, DELETE';

export function scheduleRoutes(scheduler: ExportScheduler): ServerRoute[] {
  const write = cellRoute({ access: 'write', privilege: 'root', leavesContent: true });
  return [
    {
      method: 'GET',
      path,
      options: cellRoute({ access: 'read', privilege: 'root' }),
      handler: async (request, h) => {
        const view = await scheduler.view(cellOf(request));
        if (!view) throw personiumError('PR404-SC-0001');
        return h.response(view).type('application/json');
      },
    },
    {
      method: 'PUT',
      path,
      options: { payload: rawJsonPayload, ...write },
      handler: async (request, h) => {
        const cell = cellOf(request);
        const spec = parseScheduleSpec(parseJsonObject(request.payload, false)!);
        const replaced = await scheduler.set(cell, spec);
        return h.response(await scheduler.view(cell)).type('application/json').code(replaced ? 200 : 201);
      },
    },
    {
      method: 'DELETE',
      path,
      options: write,
      handler: async (request, h) => {
        const cell = cellOf(request);
        if (!cell.exportSchedule) throw personiumError('PR404-SC-0001');
        await scheduler.remove(cell);
        return h.response().code(204);
      },
    },
    optionsRoute(path, allow),
    { method: '*', path, options: cellRoute({ access: 'read', privilege: 'root' }), handler: methodNotAllowed(allow) },
  ];
}
