// GET, HEAD, PUT, DELETE and OPTIONS on `{CellURL}__snapshot/{file}`.
//
// These are Cellar's own handlers, not webdav-server's: the library truncates the target before a
// PUT body arrives and never cleans up after an aborted upload (a lost snapshot), answers bare
// statuses where Personium has coded errors, has no If-Match 412 for PUT/DELETE nor a file-count
// limit, and cannot tell a finished file from one still being written. The area is a flat folder,
// so a few small handlers cover it; PROPFIND is propfind.ts, a plugin of its own.
import { open, unlink } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { finished, PassThrough, type Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import Boom from '@hapi/boom';
import type { Plugin, Request, ResponseToolkit, RouteOptions } from '@hapi/hapi';
import Joi from 'joi';
import { cellRoute } from '../core/cell-access.ts';
import { neverCompress } from '../core/conventions.ts';
import { parseByteRange } from '../core/byte-range.ts';
import { evaluatePreconditions, MalformedHeaderError, rangeAllowed, type ConditionalHeaders, type ResourceState } from '../core/conditional.ts';
import { byteCounter } from '../core/byte-counter.ts';
import { personiumError } from '../core/errors.ts';
import { KeyedQueue } from '../core/keyed-queue.ts';
import { methodNotAllowed, notAllowed, optionsRoute } from '../core/routes.ts';
import { servicesPluginName } from '../core/services.ts';
import { defaultContentType, etagFor, type SnapshotArea, type SnapshotEntry } from '../core/snapshot-store.ts';
import { cellarVersion } from '../core/version.ts';
import { closeAfterAnswer } from '../core/refused-body.ts';
import { areaOf, destinationName, fileUrl, snapshotFileName } from './request.ts';

export const fileAllow = 'OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, MOVE';
export const areaAllow = 'OPTIONS, PROPFIND';

export interface SnapshotAreaOptions {
  /** Files an area may hold; a PUT of one more is refused. */
  maxFiles: number;
  /** Largest snapshot file a PUT may upload, in bytes. */
  maxFileBytes: number;
}

const optionsSchema = Joi.object<SnapshotAreaOptions>({
  maxFiles: Joi.number().integer().min(1).required(),
  maxFileBytes: Joi.number().integer().min(1).required(),
});

function stateOf(entry: Pick<SnapshotEntry, 'etag' | 'modifiedMs'> | undefined): ResourceState {
  return entry ? { exists: true, etag: entry.etag, lastModified: entry.modifiedMs } : { exists: false };
}

/** A malformed conditional header is the client's mistake: 400, not a guess. */
function withValidHeaders<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof MalformedHeaderError) throw personiumError('PR400-EV-0002', error.header);
    throw error;
  }
}

/**
 * RFC 9110 §13 for a write (the shared core/conditional.ts, as box WebDAV uses): `If-Match`,
 * `If-None-Match` (`*` refuses a PUT over an existing file), `If-Unmodified-Since`; 412 when they fail.
 */
function checkIfMatch(request: Request, entry: SnapshotEntry | undefined): void {
  const outcome = withValidHeaders(() => evaluatePreconditions(stateOf(entry), conditionalHeaders(request), request.method.toUpperCase()));
  if (outcome !== 'proceed') throw personiumError('PR412-DV-0001');
}

function conditionalHeaders(request: Request): ConditionalHeaders {
  const value = (name: keyof ConditionalHeaders) => request.headers[name] as string | undefined;
  return {
    'if-match': value('if-match'), 'if-none-match': value('if-none-match'), 'if-modified-since': value('if-modified-since'),
    'if-unmodified-since': value('if-unmodified-since'), 'if-range': value('if-range'),
  };
}

async function getFile(request: Request, h: ResponseToolkit) {
  const name = snapshotFileName(request);
  neverCompress(request);
  const area = areaOf(request);
  let handle;
  try {
    handle = await open(area.filePath(name), 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'EISDIR') {
      throw personiumError('PR404-DV-0001', fileUrl(request, name));
    }
    throw error;
  }
  try {
    const stats = await handle.stat();
    const etag = etagFor(stats);
    const types = await area.contentTypes();
    const common = (response: ReturnType<ResponseToolkit['response']>) => response
      .header('ETag', etag)
      .header('Accept-Ranges', 'bytes')
      .header('Last-Modified', stats.mtime.toUTCString());
    const state = stateOf({ etag, modifiedMs: stats.mtimeMs });
    const headers = conditionalHeaders(request);
    const outcome = withValidHeaders(() => evaluatePreconditions(state, headers, request.method.toUpperCase()));
    if (outcome !== 'proceed') {
      await handle.close();
      if (outcome === 'not-modified') return common(h.response().code(304));
      throw personiumError('PR412-DV-0001');
    }
    const answer = withValidHeaders(() => rangeAllowed(state, headers['if-range']))
      ? parseByteRange(request.headers.range as string | undefined, stats.size)
      : { kind: 'whole' as const };
    const range = answer.kind === 'partial' ? answer : undefined;
    if (answer.kind === 'unsatisfiable') {
      await handle.close();
      const error = personiumError('PR416-DV-0001');
      error.output.headers['Content-Range'] = `bytes */${stats.size}`;
      throw error;
    }
    const { start, end } = range ?? { start: 0, end: stats.size - 1 };
    const length = stats.size === 0 ? 0 : end - start + 1;
    const stream = handle.createReadStream({ start, end: Math.max(end, start), autoClose: true });
    if (length === 0) {
      stream.destroy();
    }
    const response = common(h.response(length === 0 ? '' : stream))
      .type(types[name] ?? defaultContentType(name))
      .bytes(length)
      .code(range ? 206 : 200);
    response.charset(); // the stored type exactly as it was put, no charset added
    if (range) response.header('Content-Range', `bytes ${start}-${end}/${stats.size}`);
    return response;
  } catch (error) {
    await handle.close().catch(() => {});
    throw error;
  }
}

/** Renames and removals, one at a time per area: the file count and If-Match hold when they land. */
const changes = new KeyedQueue();

/** What a PUT must satisfy, checked before the body is read and again just before the rename. */
async function checkPut(request: Request, area: SnapshotArea, name: string, maxFiles: number): Promise<SnapshotEntry | undefined> {
  const existing = await area.stat(name);
  checkIfMatch(request, existing);
  if (!existing && (await area.count()) >= maxFiles) throw personiumError('PR400-DV-0007');
  return existing;
}

/**
 * Streams the body into `temp`. The request is never destroyed from here: when Cellar refuses the
 * upload (413) the answer still reaches the client, and the connection closes after it. A client
 * that goes away mid-body fails the copy.
 */
async function receiveBody(source: Readable, counter: Transform, temp: string): Promise<void> {
  const relay = new PassThrough();
  source.pipe(relay);
  const stopWatching = finished(source, (error) => { if (error) relay.destroy(error); });
  try {
    await pipeline(relay, counter, createWriteStream(temp, { flags: 'wx', mode: 0o600 }));
  } finally {
    stopWatching();
    source.unpipe(relay);
  }
}

async function putFile(request: Request, h: ResponseToolkit, { maxFiles, maxFileBytes }: SnapshotAreaOptions) {
  const name = snapshotFileName(request);
  const area = areaOf(request);
  const declared = request.headers['content-length'] === undefined ? undefined : Number(request.headers['content-length']);
  let temp: string | undefined;
  try {
    await checkPut(request, area, name, maxFiles);
    await area.ensure();
    temp = area.tempPath(name);
    const counter = byteCounter(maxFileBytes);
    await receiveBody(request.payload as Readable, counter, temp);
    if (declared !== undefined && counter.bytes !== declared) throw personiumError('PR400-DV-0009');
    await area.sync(temp);
    const contentType = (request.headers['content-type'] as string | undefined)?.trim() || defaultContentType(name);
    const { created, etag } = await changes.run(area.dir, async () => {
      const existing = await checkPut(request, area, name, maxFiles);
      await area.publish(temp!, name, contentType);
      return { created: existing === undefined, etag: (await area.stat(name))!.etag };
    });
    return h.response().code(created ? 201 : 204).header('ETag', etag);
  } catch (error) {
    if (temp) await unlink(temp).catch(() => {});
    if (!Boom.isBoom(error)) request.logger.warn({ file: name, err: error }, 'snapshot upload did not complete; previous file kept');
    // A refused body is not read to its end: close the connection after the answer instead.
    else if (!request.raw.req.complete) closeAfterAnswer(error, request.raw.req);
    throw error;
  }
}

async function deleteFile(request: Request, h: ResponseToolkit) {
  const name = snapshotFileName(request);
  const area = areaOf(request);
  await changes.run(area.dir, async () => {
    const entry = await area.stat(name);
    if (!entry) throw personiumError('PR404-DV-0001', fileUrl(request, name));
    checkIfMatch(request, entry);
    await area.remove(name);
  });
  return h.response().code(204);
}

/**
 * MOVE renames a file inside the area (RFC 4918 §9.9): 201 for a new name, 204 when it replaced a
 * file (`Overwrite: T`, the default); `Overwrite: F` onto a file 412; the same name 403.
 */
async function moveFile(request: Request, h: ResponseToolkit) {
  const name = snapshotFileName(request);
  const target = destinationName(request);
  const overwrite = String(request.headers.overwrite ?? 'T').toUpperCase();
  if (overwrite !== 'T' && overwrite !== 'F') throw personiumError('PR400-DV-0010', `Overwrite: ${overwrite}`);
  const area = areaOf(request);
  const replaced = await changes.run(area.dir, async () => {
    const entry = await area.stat(name);
    if (!entry) throw personiumError('PR404-DV-0001', fileUrl(request, name));
    checkIfMatch(request, entry);
    if (target === name) throw personiumError('PR403-DV-0005', request.headers.destination);
    const existing = await area.stat(target);
    if (existing && overwrite === 'F') throw personiumError('PR412-DV-0002', fileUrl(request, target));
    await area.rename(name, target);
    return existing !== undefined;
  });
  return replaced ? h.response().code(204) : h.response().code(201).header('Location', fileUrl(request, target));
}

/** REPORT (RFC 3253 versioning reports) is a method Personium knows and does not implement here: 501. */
function notImplemented(): never {
  throw personiumError('PR501-MC-0001');
}

/** MKCOL: the area and its files exist (405); a collection anywhere else in it never may (403). */
async function refuseCollection(request: Request): Promise<never> {
  const file = request.params.file as string | undefined;
  const existing = file === undefined || (request.params.rest === undefined && (await areaOf(request).stat(snapshotFileName(request))) !== undefined);
  if (existing) throw notAllowed(file === undefined ? areaAllow : fileAllow);
  throw personiumError('PR403-DV-0002', request.path);
}

export const snapshotAreaPluginName = 'cellar-snapshot-area';

export const snapshotAreaPlugin: Plugin<SnapshotAreaOptions> = {
  name: snapshotAreaPluginName,
  version: cellarVersion,
  dependencies: [servicesPluginName],
  register(server, options) {
    const settings = Joi.attempt(options, optionsSchema, `Invalid "${snapshotAreaPluginName}" options`);
    // Open while the cell is import failed, so a good zip can be put in its place.
    const read = cellRoute({ access: 'snapshot-read', privilege: 'root' });
    const write = cellRoute({ access: 'snapshot-write', privilege: 'root', leavesContent: true });
    const upload: RouteOptions = {
      ...write,
      payload: { output: 'stream', parse: false, maxBytes: settings.maxFileBytes, timeout: false },
      timeout: { socket: false },
    };
    // Refusals ('*' routes) never parse a body: a POST or PROPPATCH gets its 405, not a JSON error.
    const refused: RouteOptions = { ...read, payload: { output: 'stream', parse: false } };
    const file = '/{cell}/__snapshot/{file}';
    server.route([
      { method: 'GET', path: file, options: { ...read, timeout: { socket: false } }, handler: getFile },
      { method: 'REPORT', path: file, options: refused, handler: notImplemented },
      { method: 'PUT', path: file, options: upload, handler: (request, h) => putFile(request, h, settings) },
      { method: 'DELETE', path: file, options: write, handler: deleteFile },
      optionsRoute(file, fileAllow, { DAV: '1' }),
      { method: 'MOVE', path: file, options: write, handler: moveFile },
      { method: 'MKCOL', path: file, options: refused, handler: refuseCollection },
      { method: '*', path: file, options: refused, handler: methodNotAllowed(fileAllow) },
      // Explicit GET and OPTIONS too: the box routes' exact methods would win over a '*' here.
      optionsRoute('/{cell}/__snapshot/{file}/{rest*}', 'OPTIONS'),
      ...(['GET', '*'] as const).map((method) => ({
        method,
        path: '/{cell}/__snapshot/{file}/{rest*}',
        options: method === '*' ? refused : read,
        handler(): never { throw personiumError('PR404-MC-0001'); },
      })),
      { method: 'MKCOL', path: '/{cell}/__snapshot/{file}/{rest*}', options: refused, handler: refuseCollection },
    ]);
    for (const area of ['/{cell}/__snapshot', '/{cell}/__snapshot/']) {
      server.route([
        optionsRoute(area, areaAllow, { DAV: '1' }),
        { method: 'REPORT', path: area, options: refused, handler: notImplemented },
        { method: 'MKCOL', path: area, options: refused, handler: refuseCollection },
        { method: 'GET', path: area, options: read, handler: methodNotAllowed(areaAllow) },
        { method: '*', path: area, options: refused, handler: methodNotAllowed(areaAllow) },
      ]);
    }
  },
};
