// Unit-level Cell API: POST/GET /__ctl/Cell, GET/DELETE /__ctl/Cell('name'). Master token only.
import { requireUnitMaster } from '../../core/access-decision.ts';
import { param } from '../../core/auth.ts';
import type { Plugin, Request, ResponseToolkit } from '@hapi/hapi';
import { cellRoute, unitWriteRoute } from '../../core/cell-access.ts';
import { personiumError } from '../../core/errors.ts';
import { parseJsonObject, rawJsonPayload } from '../../core/json-body.ts';
import { entityAllow, entitySegmentAllow, odataDate, parseEntitySegment } from '../../core/odata.ts';
import { entityNameRule, notAllowed, optionsRoute, requiredName } from '../../core/routes.ts';
import { servicesPluginName } from '../../core/services.ts';
import { CellNameTakenError, type CellRecord } from '../../core/store.ts';
import { cellarVersion } from '../../core/version.ts';


function cellEntity(request: Request, cell: CellRecord) {
  const unitUrl = request.server.cellar.urls.unit();
  return {
    __metadata: { uri: `${unitUrl}__ctl/Cell('${cell.name}')`, etag: `W/"1-${cell.updatedAt}"`, type: 'UnitCtl.Cell' },
    Name: cell.name,
    __id: cell.id,
    __published: odataDate(cell.createdAt),
    __updated: odataDate(cell.updatedAt),
    'p:cellstatus': cell.status,
  };
}

/** The cell named by a `Cell('name')` segment, for the access extension's gates. */
function cellNameOf(request: Request): string | undefined {
  try {
    const target = parseEntitySegment(param(request, 'segment'), 'Cell');
    return target.kind === 'entity' ? target.key : undefined;
  } catch {
    return undefined;
  }
}

async function create(request: Request, h: ResponseToolkit) {
  requireUnitMaster(request);
  const target = parseEntitySegment(param(request, 'segment'), 'Cell');
  if (target.kind !== 'collection') throw notAllowed(entityAllow(target));
  const name = requiredName(parseJsonObject(request.payload, false)!, entityNameRule);
  const { store, cells, config } = request.server.cellar;
  // On an FQDN unit a cell is a host name, and host names do not tell case apart.
  const taken = config.cellUrl === 'fqdn'
    ? store.listCells().some((cell) => cell.name.toLowerCase() === name.toLowerCase())
    : store.findCell(name) !== undefined;
  if (taken) throw personiumError('PR409-OD-0003');
  const cell = await cells.create(name).catch((error: unknown) => {
    throw error instanceof CellNameTakenError ? personiumError('PR409-OD-0003') : error;
  });
  request.logger.info({ cell: cell.name }, 'cell created');
  const entity = cellEntity(request, cell);
  return h.response({ d: { results: entity } }).code(201).header('Location', entity.__metadata.uri).etag(`1-${cell.updatedAt}`, { weak: true, vary: false });
}

function read(request: Request) {
  requireUnitMaster(request);
  const target = parseEntitySegment(param(request, 'segment'), 'Cell');
  const { store } = request.server.cellar;
  if (target.kind === 'collection') {
    return { d: { results: store.listCells().map((cell) => cellEntity(request, cell)) } };
  }
  const cell = store.findCell(target.key);
  if (!cell) throw personiumError('PR404-OD-0002');
  return { d: { results: cellEntity(request, cell) } };
}

async function remove(request: Request, h: ResponseToolkit) {
  requireUnitMaster(request);
  const target = parseEntitySegment(param(request, 'segment'), 'Cell');
  if (target.kind !== 'entity') throw notAllowed(entityAllow(target));
  const { store, contents, cells, logger } = request.server.cellar;
  const cell = store.findCell(target.key);
  if (!cell) throw personiumError('PR404-OD-0002');
  const recursive = String(request.headers['x-personium-recursive'] ?? '').toLowerCase() === 'true';
  if (!recursive && !(await contents.isEmpty(cell))) throw personiumError('PR409-OD-0001');
  await cells.remove(cell);
  logger.info({ cell: cell.name, recursive }, 'cell deleted');
  return h.response().code(204);
}

export const cellsPlugin: Plugin<void> = {
  name: 'cellar-cells',
  version: cellarVersion,
  dependencies: [servicesPluginName],
  register(server) {
    server.route([
      { method: 'POST', path: '/__ctl/{segment}', options: { payload: rawJsonPayload, ...unitWriteRoute() }, handler: create },
      { method: 'GET', path: '/__ctl/{segment}', handler: read },
      {
        method: 'DELETE',
        path: '/__ctl/{segment}',
        options: cellRoute({ access: 'cell-delete', cellName: cellNameOf, missing: 'pass', unitOnly: true }),
        handler: remove,
      },
      optionsRoute('/__ctl/{segment}', (request) => entitySegmentAllow(param(request, 'segment'), 'Cell')),
      {
        method: '*',
        path: '/__ctl/{segment}',
        handler(request) {
          requireUnitMaster(request);
          throw notAllowed(entityAllow(parseEntitySegment(param(request, 'segment'), 'Cell')));
        },
      },
    ]);
  },
};
