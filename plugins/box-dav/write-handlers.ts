// PUT, DELETE, MKCOL and PROPPATCH of box content. Each checks preconditions, `If:` lists and
// locks before it changes anything, and changes a resource in one step (see box-store.ts).
import { createWriteStream } from 'node:fs';
import { open, rm, unlink } from 'node:fs/promises';
import path from 'node:path';
import { finished, PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import Boom from '@hapi/boom';
import { escapeXml, httpDate, readSmallBody } from '../../core/dav-xml.ts';
import { byteCounter } from '../../core/byte-counter.ts';
import { personiumError } from '../../core/errors.ts';
import { closeAfterAnswer } from '../../core/refused-body.ts';
import { isRoot } from './box-path.ts';
import { contentFile, etagOf } from './box-store.ts';
import { checkWrite, header, hrefFor, notFound, parentScope, storageError, urlFor, type BoxRequest } from './box-request.ts';
import { clarkName, parsePropertyUpdate } from './dav-body.ts';
import { deadProperties, isLiveProperty, propertyElement } from './properties.ts';

const smallBodyLimit = 1024 * 1024;

function refuseRoot(ctx: BoxRequest): void {
  if (isRoot(ctx.path)) throw personiumError('PR405-MC-0001');
}

/** The parent collection of the target: 409 when it is missing or is a file. */
async function parentCollection(ctx: BoxRequest, segments: readonly string[] = ctx.path.segments) {
  const parent = await ctx.store.stat(segments.slice(0, -1));
  if (!parent || !parent.isCollection) throw personiumError('PR409-DV-0003', urlFor(ctx, segments.slice(0, -1)));
  return parent;
}

/** Streams the request body into `file` and fsyncs it; a client that goes away fails it. */
async function receiveBody(ctx: BoxRequest, file: string, limit: number): Promise<number> {
  const source = ctx.request.payload as Readable;
  const relay = new PassThrough();
  source.pipe(relay);
  const stopWatching = finished(source, (error) => { if (error) relay.destroy(error); });
  const counter = byteCounter(limit);
  try {
    await pipeline(relay, counter, createWriteStream(file, { flags: 'wx', mode: 0o600 }));
  } finally {
    stopWatching();
    source.unpipe(relay);
  }
  const declared = header(ctx.request, 'content-length');
  if (declared !== undefined && counter.bytes !== Number(declared)) throw personiumError('PR400-DV-0009');
  const handle = await open(file, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  return counter.bytes;
}

export async function put(ctx: BoxRequest) {
  refuseRoot(ctx);
  const { target, store } = ctx;
  if (target?.isCollection) throw personiumError('PR405-MC-0001');
  if (header(ctx.request, 'content-range') !== undefined) throw personiumError('PR400-EV-0002', 'Content-Range');
  const parent = await parentCollection(ctx);
  await checkWrite(ctx, [{ segments: ctx.path.segments, tree: false }, ...(target ? [] : [parentScope(ctx.path.segments)])]);
  const contentType = header(ctx.request, 'content-type')?.trim() || guessType(ctx.path.segments[ctx.path.segments.length - 1]!);
  const limit = ctx.maxUploadBytes;
  const name = ctx.path.segments[ctx.path.segments.length - 1]!;
  let temp: string | undefined;
  let tempFolder: string | undefined;
  try {
    let pmeta;
    let created = false;
    if (target) {
      temp = store.tempContentPath(target.dir);
      const size = await receiveBody(ctx, temp, limit);
      pmeta = await store.replaceContent(target.dir, temp, size, contentType);
    } else {
      tempFolder = await store.newTempFolder(parent.dir);
      temp = path.join(tempFolder, contentFile);
      const size = await receiveBody(ctx, temp, limit);
      created = await store.publishNewFile(tempFolder, path.join(parent.dir, name), size, contentType);
      // Another PUT created it meanwhile: this body replaces that one's.
      pmeta = created ? (await store.readPmeta(path.join(parent.dir, name)))! : await store.replaceContent(path.join(parent.dir, name), temp, size, contentType);
    }
    temp = undefined;
    return ctx.h.response().code(created ? 201 : 204).header('ETag', etagOf(pmeta)).header('Last-Modified', httpDate(pmeta.u));
  } catch (error) {
    if (temp) await unlink(temp).catch(() => {});
    if (!Boom.isBoom(error)) ctx.request.logger.warn({ err: error }, 'box upload did not complete; nothing changed');
    else if (!ctx.request.raw.req.complete) closeAfterAnswer(error, ctx.request.raw.req);
    throw storageError(error);
  } finally {
    if (tempFolder) await rm(tempFolder, { recursive: true, force: true });
  }
}

export async function remove(ctx: BoxRequest) {
  refuseRoot(ctx);
  const { target } = ctx;
  if (!target) throw notFound(ctx);
  const depth = header(ctx.request, 'depth')?.trim().toLowerCase();
  if (target.isCollection && depth !== undefined && depth !== 'infinity') throw personiumError('PR400-DV-0003', depth);
  await checkWrite(ctx, [{ segments: ctx.path.segments, tree: true }, parentScope(ctx.path.segments)]);
  try {
    await ctx.store.remove(target.dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(ctx);
    throw storageError(error);
  }
  ctx.locks.releaseUnder(ctx.boxDir, ctx.path.segments);
  return ctx.h.response().code(204);
}

export async function mkcol(ctx: BoxRequest) {
  const { request } = ctx;
  // RFC 4918 §9.3: Cellar understands no MKCOL body, so any body is refused.
  const length = Number(request.raw.req.headers['content-length'] ?? 0);
  if (length > 0 || request.raw.req.headers['transfer-encoding'] !== undefined) throw personiumError('PR415-MC-0001');
  refuseRoot(ctx);
  if (ctx.target) throw personiumError('PR405-MC-0001');
  const parent = await parentCollection(ctx);
  await checkWrite(ctx, [{ segments: ctx.path.segments, tree: false }, parentScope(ctx.path.segments)]);
  const name = ctx.path.segments[ctx.path.segments.length - 1]!;
  let created: boolean;
  try {
    created = await ctx.store.createCollection(parent.dir, name);
  } catch (error) {
    throw storageError(error);
  }
  if (!created) throw personiumError('PR405-MC-0001');
  return ctx.h.response().code(201);
}

/**
 * Applies every instruction in order, all or nothing, with one `.pmeta` write, then answers.
 * A live property cannot be set or removed: that one is 403 and the others 424.
 */
export async function proppatch(ctx: BoxRequest) {
  const { target } = ctx;
  if (!target) throw notFound(ctx);
  const body = await readSmallBody(ctx.request.payload as NodeJS.ReadableStream | undefined, smallBodyLimit);
  const instructions = parsePropertyUpdate(body);
  await checkWrite(ctx, [{ segments: ctx.path.segments, tree: false }]);
  const refused = instructions.filter((instruction) => isLiveProperty(instruction.name));
  const statusOf = (refusedOne: boolean) => (refused.length === 0 ? '200 OK' : refusedOne ? '403 Forbidden' : '424 Failed Dependency');
  if (refused.length === 0) {
    try {
      await ctx.store.updatePmeta(target.dir, (pmeta) => {
        // Entries in the earlier library's shape are rewritten under their Clark names.
        pmeta.d = Object.fromEntries([...deadProperties({ ...target, pmeta })].map(([key, { value }]) => [key, value]));
        for (const instruction of instructions) {
          if (instruction.op === 'set') pmeta.d[clarkName(instruction.name)] = instruction.value;
          else delete pmeta.d[clarkName(instruction.name)];
        }
      });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(ctx);
      throw storageError(error);
    }
  }
  const seen = new Set<string>();
  let propstats = '';
  for (const instruction of instructions) {
    const key = clarkName(instruction.name);
    if (seen.has(key)) continue;
    seen.add(key);
    propstats += `<D:propstat><D:prop>${propertyElement(instruction.name, undefined)}</D:prop><D:status>HTTP/1.1 ${statusOf(refused.includes(instruction))}</D:status></D:propstat>`;
  }
  const xml = `<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:"><D:response><D:href>${escapeXml(hrefFor(ctx, ctx.path.segments, target.isCollection))}</D:href>${propstats}</D:response></D:multistatus>\n`;
  return ctx.h.response(xml).code(207).type('application/xml');
}

function guessType(name: string): string {
  const known: Record<string, string> = {
    '.txt': 'text/plain', '.html': 'text/html', '.htm': 'text/html', '.json': 'application/json', '.xml': 'application/xml',
    '.js': 'text/javascript', '.css': 'text/css', '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg',
    '.gif': 'image/gif', '.svg': 'image/svg+xml', '.pdf': 'application/pdf', '.zip': 'application/zip',
  };
  return known[path.extname(name).toLowerCase()] ?? 'application/octet-stream';
}
