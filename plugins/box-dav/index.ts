// Box content over WebDAV: `{CellURL}__/...` (main box) and `{CellURL}{box}/...`, answered by
// Cellar's own handlers (RFC 4918 class 1 and 2) over the `.pmeta` layout. hapi authenticates
// and gates by method (core/cell-access.ts); the handler that runs is the one for
// `request.method`, the method the gate saw, whatever override the request carried.
import type { Plugin, Request, ResponseToolkit, RouteOptions, Server } from '@hapi/hapi';
import { param } from '../../core/auth.ts';
import { cellOf, cellRoute } from '../../core/cell-access.ts';
import { mainBoxName } from '../../core/cell-content.ts';
import { personiumError } from '../../core/errors.ts';
import type { Unit } from '../../core/server.ts';
import { cellarVersion } from '../../core/version.ts';
import { boxRequest, storageError, type BoxRequest } from './box-request.ts';
import { sweepTemporaries } from './box-store.ts';
import { copyOrMove } from './copy-move.ts';
import { lock, unlock } from './lock-handlers.ts';
import { LockTable } from './locks.ts';
import { getResource, propfind } from './read-handlers.ts';
import { mkcol, proppatch, put, remove } from './write-handlers.ts';

export const davAllow = 'OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, MKCOL, COPY, MOVE, LOCK, UNLOCK';

/** The unit's services, reached in this one place. */
function unitOf(server: Server): Unit {
  return server.app.unit;
}

const handlers: Record<string, (ctx: BoxRequest) => Promise<unknown>> = {
  GET: getResource, HEAD: getResource, PROPFIND: propfind, PUT: put, DELETE: remove, MKCOL: mkcol,
  PROPPATCH: proppatch, COPY: copyOrMove, MOVE: copyOrMove, LOCK: lock, UNLOCK: unlock,
};

/** The box folder for `{box}` in the request's cell, or 404. */
async function resolveBox(unit: Unit, request: Request): Promise<{ name: string; dir: string }> {
  const cell = cellOf(request);
  const name = param(request, 'box');
  if (name === mainBoxName) return { name, dir: unit.contents.boxDir(cell, mainBoxName) };
  const box = name.startsWith('__') ? undefined : (await unit.contents.odata(cell)).data.boxes.find((candidate) => candidate.Name === name);
  if (!box) throw personiumError('PR404-DV-0001', `${unit.cellUrl(cell.name)}${name}`);
  return { name, dir: unit.contents.boxDir(cell, box._id) };
}

function handlerFor(locks: LockTable) {
  return async (request: Request, h: ResponseToolkit) => {
    const method = request.method.toUpperCase();
    const handler = handlers[method];
    if (!handler) {
      const error = personiumError('PR405-MC-0001');
      error.output.headers.Allow = davAllow;
      throw error;
    }
    const unit = unitOf(request.server);
    const box = await resolveBox(unit, request);
    const ctx = await boxRequest(request, h, {
      cellName: cellOf(request).name, boxName: box.name, boxDir: box.dir, locks,
      unitBase: unit.unitUrl().replace(/\/$/, ''), maxUploadBytes: unit.config.maxUploadBytes,
    });
    try {
      return await handler(ctx);
    } catch (error) {
      throw storageError(error);
    }
  };
}

export const boxDavPlugin: Plugin<void> = {
  name: 'box-dav',
  version: cellarVersion,
  register(server) {
    const unit = unitOf(server);
    const locks = new LockTable();
    const handle = handlerFor(locks);
    // Ranges are Cellar's own (positioned reads, RFC 9110 rules), not hapi's.
    const access = { ...cellRoute({ access: 'by-method' }), response: { ranges: false } };
    const streamed: RouteOptions = {
      ...access,
      payload: { output: 'stream', parse: false, maxBytes: unit.config.maxUploadBytes, timeout: false },
      timeout: { socket: false },
    };
    for (const path of ['/{cell}/{box}', '/{cell}/{box}/{path*}']) {
      server.route([
        { method: 'GET', path, options: { ...access, timeout: { socket: false } }, handler: handle },
        { method: '*', path, options: streamed, handler: handle },
        {
          method: 'OPTIONS',
          path,
          options: { auth: false },
          handler: (_request, h) => h.response().code(200).header('Allow', davAllow).header('DAV', '1, 2').header('MS-Author-Via', 'DAV'),
        },
      ]);
    }
    // Temporaries a crash left behind (unfinished uploads, unpublished folders) go in the background.
    server.ext('onPreStart', () => {
      const startedAt = Date.now();
      void (async () => {
        let removed = 0;
        for (const cell of unit.store.listCells()) removed += await sweepTemporaries(unit.contents.davRoot(cell), startedAt);
        if (removed) unit.logger.info({ removed }, 'removed temporaries of unfinished box writes');
      })().catch((error: unknown) => unit.logger.warn({ err: error }, 'sweeping box temporaries failed'));
    });
  },
};
