// Box content over WebDAV: `{CellURL}__/...` (main box) and `{CellURL}{box}/...`, answered by
// Cellar's own handlers (RFC 4918 class 1 and 2) over the `.pmeta` layout. hapi authenticates
// and gates by method (core/cell-access.ts); the handler that runs is the one for
// `request.method`, the method the gate saw, whatever override the request carried.
import type { Plugin, Request, ResponseToolkit, RouteOptions } from '@hapi/hapi';
import Joi from 'joi';
import { param } from '../../core/auth.ts';
import { cellOf, cellRoute } from '../../core/cell-access.ts';
import { mainBoxName } from '../../core/cell-content.ts';
import { personiumError } from '../../core/errors.ts';
import { notAllowed, optionsRoute } from '../../core/routes.ts';
import { servicesPluginName, type Services } from '../../core/services.ts';
import { cellarVersion } from '../../core/version.ts';
import { resourceAcls, setResourceAcl } from './box-acl.ts';
import { boxRequest, storageError, type BoxRequest } from './box-request.ts';
import { sweepTemporaries } from './box-store.ts';
import { copyOrMove } from './copy-move.ts';
import { lock, unlock } from './lock-handlers.ts';
import { LockTable } from './locks.ts';
import { getResource, propfind } from './read-handlers.ts';
import { mkcol, proppatch, put, remove } from './write-handlers.ts';

export const davAllow = 'OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, MKCOL, COPY, MOVE, LOCK, UNLOCK, ACL';

export interface BoxDavOptions {
  /** Largest body of a PUT into a box, in bytes. */
  maxUploadBytes: number;
}

const optionsSchema = Joi.object<BoxDavOptions>({ maxUploadBytes: Joi.number().integer().min(1).required() });

const handlers: Record<string, (ctx: BoxRequest) => Promise<unknown>> = {
  GET: getResource, HEAD: getResource, PROPFIND: propfind, PUT: put, DELETE: remove, MKCOL: mkcol,
  PROPPATCH: proppatch, COPY: copyOrMove, MOVE: copyOrMove, LOCK: lock, UNLOCK: unlock, ACL: setResourceAcl,
};

const readMethods = new Set(['get', 'head', 'propfind', 'options']);

/** RFC 3744: reads need `read`, the ACL method `write-acl`, every other method `write`. */
function boxPrivilege(method: string) {
  if (readMethods.has(method)) return 'read' as const;
  return method === 'acl' ? 'write-acl' as const : 'write' as const;
}

/** The box folder for `{box}` in the request's cell, or 404. */
async function resolveBox(unit: Services, request: Request): Promise<{ name: string; dir: string }> {
  const cell = cellOf(request);
  const name = param(request, 'box');
  if (name === mainBoxName) return { name, dir: unit.contents.boxDir(cell, mainBoxName) };
  const box = name.startsWith('__') ? undefined : (await unit.contents.odata(cell)).data.boxes.find((candidate) => candidate.Name === name);
  if (!box) throw personiumError('PR404-DV-0001', `${unit.urls.cell(cell.name)}${name}`);
  return { name, dir: unit.contents.boxDir(cell, box._id) };
}

function handlerFor(unit: Services, locks: LockTable, { maxUploadBytes }: BoxDavOptions) {
  return async (request: Request, h: ResponseToolkit) => {
    const method = request.method.toUpperCase();
    const handler = handlers[method];
    if (!handler) throw notAllowed(davAllow);
    const box = await resolveBox(unit, request);
    const ctx = await boxRequest(request, h, {
      cellName: cellOf(request).name, boxName: box.name, boxDir: box.dir, locks,
      cellBase: unit.urls.cell(cellOf(request).name).replace(/\/$/, ''), maxUploadBytes,
    });
    try {
      return await handler(ctx);
    } catch (error) {
      throw storageError(error);
    }
  };
}

export const boxDavPlugin: Plugin<BoxDavOptions> = {
  name: 'cellar-box-dav',
  version: cellarVersion,
  dependencies: [servicesPluginName],
  register(server, options) {
    const settings = Joi.attempt(options, optionsSchema, 'Invalid "cellar-box-dav" options');
    const unit = server.cellar;
    const locks = new LockTable();
    const handle = handlerFor(unit, locks, settings);
    // Ranges are Cellar's own (positioned reads, RFC 9110 rules), not hapi's.
    const access = { ...cellRoute({ access: 'by-method', privilege: boxPrivilege, resourceAcls }), response: { ranges: false } };
    const streamed: RouteOptions = {
      ...access,
      payload: { output: 'stream', parse: false, maxBytes: settings.maxUploadBytes, timeout: false },
      timeout: { socket: false },
    };
    for (const path of ['/{cell}/{box}', '/{cell}/{box}/{path*}']) {
      server.route([
        { method: 'GET', path, options: { ...access, timeout: { socket: false } }, handler: handle },
        { method: '*', path, options: streamed, handler: handle },
        optionsRoute(path, davAllow, { DAV: '1, 2', 'MS-Author-Via': 'DAV' }),
      ]);
    }
    // Temporaries a crash left behind (unfinished uploads, unpublished folders), swept by the
    // start-up recovery in the background.
    unit.recovery.sweepInBackground('temporaries of unfinished box writes', (cell, startedAt) => sweepTemporaries(unit.contents.davRoot(cell), startedAt));
  },
};
