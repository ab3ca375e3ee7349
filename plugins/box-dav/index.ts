// Box content over WebDAV: `{CellURL}__/...` (main box) and `{CellURL}{box}/...`, served by
// webdav-server behind hapi. hapi authenticates and gates (core/cell-access.ts); this bridge maps
// the URL, `Destination` and tagged `If` lists into the box, refuses what the library gets wrong,
// and hands the raw request to one WebDAVServer per box, whose storage is PmetaFileSystem.
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { Plugin, Request, ResponseToolkit, RouteOptions } from '@hapi/hapi';
import { v2 as webdav } from 'webdav-server';
import { param } from '../../core/auth.ts';
import { cellOf, cellRoute } from '../../core/cell-access.ts';
import { mainBoxName } from '../../core/cell-content.ts';
import { parsePropfind } from '../../core/dav-xml.ts';
import { personiumError } from '../../core/errors.ts';
import { optionsRoute } from '../../core/routes.ts';
import { cellarVersion } from '../../core/version.ts';
import Joi from 'joi';
import { servicesPluginName, type Services } from '../../core/services.ts';
import { assertIfParserPatched, guardResponse } from './library-guards.ts';
import { PmetaFileSystem, isReservedResourceName } from './pmeta-file-system.ts';

const smallBodyLimit = 1024 * 1024;
const davAllow = 'OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, MKCOL, COPY, MOVE, LOCK, UNLOCK';

/** hapi authenticates; the library gets a fixed user and never challenges. */
class HapiAuthenticated implements webdav.HTTPAuthentication {
  readonly #user = new webdav.SimpleUser('cellar', '', true, false);
  askForAuthentication(): { [name: string]: string } { return {}; }
  getUser(_ctx: webdav.HTTPRequestContext, callback: (error: Error, user?: webdav.IUser) => void): void {
    callback(null as unknown as Error, this.#user);
  }
}

class BoxServers {
  readonly #servers = new Map<string, webdav.WebDAVServer>();

  /** Drops the servers of every box below `dir` (a cell's folder whose content changed or went). */
  forgetUnder(dir: string): void {
    for (const key of this.#servers.keys()) if (key.startsWith(dir + path.sep)) this.#servers.delete(key);
  }

  serverFor(boxDir: string): webdav.WebDAVServer {
    let server = this.#servers.get(boxDir);
    if (!server) {
      server = new webdav.WebDAVServer({
        rootFileSystem: new PmetaFileSystem(boxDir),
        respondWithPaths: true,
        httpAuthentication: new HapiAuthenticated(),
        requireAuthentification: false,
        maxRequestDepth: 1,
      });
      if (this.#servers.size > 1000) this.#servers.clear();
      this.#servers.set(boxDir, server);
    }
    return server;
  }
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

/** The part of a raw (still percent-encoded) path below `/{cell}/{box}`, or undefined when outside. */
function pathInBox(rawPath: string, prefix: string): string | undefined {
  if (rawPath === prefix) return '/';
  if (rawPath.startsWith(`${prefix}/`)) return rawPath.slice(prefix.length);
  return undefined;
}

function segmentsOf(subPath: string): string[] {
  return subPath.split('/').filter(Boolean).map((segment) => {
    try {
      return decodeURIComponent(segment);
    } catch {
      throw personiumError('PR400-DV-0010', segment);
    }
  });
}

function refuseReserved(subPath: string): void {
  const segments = segmentsOf(subPath);
  if (segments.some((segment) => isReservedResourceName(segment) || segment.includes('/') || segment.includes('\\') || segment.includes('\0'))) {
    throw personiumError('PR403-DV-0002', subPath);
  }
}

function rawPathOf(url: string): string {
  const withoutQuery = url.split('?')[0]!.split('#')[0]!;
  const scheme = withoutQuery.indexOf('://');
  if (scheme < 0) return withoutQuery;
  const slash = withoutQuery.indexOf('/', scheme + 3);
  return slash < 0 ? '/' : withoutQuery.slice(slash);
}

/** Rewrites Destination and tagged If lists into box-relative paths; refuses foreign destinations. */
function mapHeaders(req: IncomingMessage, prefix: string): void {
  const destination = req.headers.destination;
  if (typeof destination === 'string') {
    const inBox = pathInBox(rawPathOf(destination), prefix);
    if (inBox === undefined || inBox === '/') throw personiumError('PR502-DV-0001', destination);
    refuseReserved(inBox);
    req.headers.destination = inBox;
  }
  const ifHeader = req.headers.if;
  if (typeof ifHeader === 'string') {
    req.headers.if = ifHeader.replace(/<([^>]+)>(\s*\()/g, (whole, uri: string, rest: string) => {
      if (/^(opaquelocktoken|urn):/i.test(uri)) return whole;
      const inBox = pathInBox(rawPathOf(uri), prefix);
      return inBox === undefined ? whole : `<${inBox}>${rest}`;
    });
  }
}

async function readSmallBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > smallBodyLimit) throw personiumError('PR413-DV-0001', smallBodyLimit);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * webdav-server answers a malformed PROPFIND body with 207 as if it were allprop, so the bridge
 * reads and checks the (small) body first, then hands the library a replay of it, since the
 * request stream is spent.
 */
async function checkedPropfind(req: IncomingMessage): Promise<IncomingMessage> {
  const body = await readSmallBody(req);
  const text = body.toString('utf8');
  parsePropfind(text);
  // XML Namespaces 1.0 §3 forbids undeclaring a prefix (`xmlns:p=""`).
  if (/\sxmlns:[^\s=]+\s*=\s*(""|'')/.test(text)) throw personiumError('PR400-DV-0001');
  const { 'transfer-encoding': _chunked, ...headers } = req.headers;
  const replay = Readable.from(body.length > 0 ? [body] : []);
  return Object.assign(replay, { method: req.method, url: req.url, headers: { ...headers, 'content-length': String(body.length) } }) as unknown as IncomingMessage;
}

async function handle(request: Request, h: ResponseToolkit) {
  const unit = request.server.cellar;
  const cell = cellOf(request);
  const box = await resolveBox(unit, request);
  const req = request.raw.req;
  const method = request.method.toUpperCase();
  const prefix = `/${cell.name}/${box.name}`;
  const rawPath = rawPathOf(req.url ?? '/');
  const subPath = pathInBox(rawPath, prefix) ?? '/';
  refuseReserved(subPath);

  const isBoxRoot = subPath === '/';
  if (isBoxRoot && ['DELETE', 'MOVE', 'PUT', 'MKCOL', 'COPY', 'LOCK', 'UNLOCK'].includes(method)) throw personiumError('PR405-MC-0001');
  if (method === 'PROPFIND' && req.headers.depth === undefined) throw personiumError('PR400-DV-0003', 'null');
  const length = Number(req.headers['content-length'] ?? 0);
  // RFC 4918 §9.3: Cellar understands no MKCOL body, so any body is refused.
  if (method === 'MKCOL' && (length > 0 || req.headers['transfer-encoding'] !== undefined)) throw personiumError('PR415-MC-0001');
  if (method !== 'PUT' && length > smallBodyLimit) throw personiumError('PR413-DV-0001', smallBodyLimit);
  mapHeaders(req, prefix);

  req.url = subPath;
  const forLibrary = method === 'PROPFIND' ? await checkedPropfind(req) : req;
  guardResponse(request.raw.res, `${unit.urls.unit()}${rawPath.slice(1)}`, method);
  boxServers.serverFor(box.dir).executeRequest(forLibrary, request.raw.res, prefix);
  return h.abandon;
}

const boxServers = new BoxServers();

export interface BoxDavOptions {
  /** Largest body of a PUT into a box, in bytes. */
  maxUploadBytes: number;
}

const optionsSchema = Joi.object<BoxDavOptions>({ maxUploadBytes: Joi.number().integer().min(1).required() });

export const boxDavPlugin: Plugin<BoxDavOptions> = {
  name: 'cellar-box-dav',
  version: cellarVersion,
  dependencies: [servicesPluginName],
  register(server, options) {
    const settings = Joi.attempt(options, optionsSchema, 'Invalid "cellar-box-dav" options');
    assertIfParserPatched();
    const { cells, contents } = server.cellar;
    cells.onChange((cellId) => boxServers.forgetUnder(contents.cellDir(cellId)));
    const access = cellRoute({ access: 'by-method' });
    const streamed: RouteOptions = {
      ...access,
      payload: { output: 'stream', parse: false, maxBytes: settings.maxUploadBytes, timeout: false },
      timeout: { socket: false },
    };
    for (const path of ['/{cell}/{box}', '/{cell}/{box}/{path*}']) {
      server.route([
        { method: 'GET', path, options: { ...access, timeout: { socket: false } }, handler: handle },
        { method: '*', path, options: streamed, handler: handle },
        optionsRoute(path, davAllow, { DAV: '1, 2' }),
      ]);
    }
  },
};
