// LOCK and UNLOCK (RFC 4918 §9.10, §9.11). A LOCK with a body creates a lock (an unmapped URL
// becomes an empty file, 201); one without a body refreshes the lock whose token its `If:` names.
import path from 'node:path';
import { rm, writeFile } from 'node:fs/promises';
import { readSmallBody } from '../../core/dav-xml.ts';
import { personiumError } from '../../core/errors.ts';
import { isRoot } from './box-path.ts';
import { contentFile } from './box-store.ts';
import { checkIfHeader, checkLocks, checkPreconditions, header, hrefFor, notFound, parentScope, storageError, urlFor, type BoxRequest } from './box-request.ts';
import { parseLockInfo } from './dav-body.ts';
import { lockLimits, parseTimeout, type Lock } from './locks.ts';
import { activeLockXml } from './properties.ts';

function lockAnswer(ctx: BoxRequest, lock: Lock, status: 200 | 201) {
  const xml = `<?xml version="1.0" encoding="utf-8"?>\n<D:prop xmlns:D="DAV:"><D:lockdiscovery>${activeLockXml(lock, hrefFor(ctx, lock.root, false), Date.now())}</D:lockdiscovery></D:prop>\n`;
  return ctx.h.response(xml).code(status).type('application/xml').header('Lock-Token', `<${lock.token}>`);
}

function lockDepth(ctx: BoxRequest): 0 | 'infinity' {
  const value = header(ctx.request, 'depth')?.trim().toLowerCase();
  if (value === undefined || value === 'infinity') return 'infinity';
  if (value === '0') return 0;
  throw personiumError('PR400-DV-0003', value);
}

export async function lock(ctx: BoxRequest) {
  if (isRoot(ctx.path)) throw personiumError('PR405-MC-0001');
  const body = await readSmallBody(ctx.request.payload as NodeJS.ReadableStream | undefined);
  const timeoutSeconds = parseTimeout(header(ctx.request, 'timeout'));
  const segments = ctx.path.segments;
  checkPreconditions(ctx);
  await checkIfHeader(ctx);

  if (body.trim() === '') {
    if (!ctx.target) throw notFound(ctx);
    const covering = ctx.locks.covering(ctx.boxDir, segments);
    const refreshed = covering.find((candidate) => ctx.submitted.has(candidate.token));
    if (!refreshed) throw personiumError('PR412-DV-0002', urlFor(ctx, segments));
    ctx.locks.refresh(refreshed, timeoutSeconds);
    return lockAnswer(ctx, refreshed, 200);
  }

  const info = parseLockInfo(body);
  if (Buffer.byteLength(info.owner) > lockLimits.ownerBytes) throw personiumError('PR400-DV-0011', lockLimits.ownerBytes);
  const depth = lockDepth(ctx);
  const parent = ctx.target ? undefined : await ctx.store.stat(segments.slice(0, -1));
  if (!ctx.target && (!parent || !parent.isCollection)) throw personiumError('PR409-DV-0003', urlFor(ctx, segments.slice(0, -1)));
  if (!ctx.target) checkLocks(ctx, [parentScope(segments)]);

  const created = ctx.locks.create(ctx.boxDir, segments, { scope: info.scope, depth, owner: info.owner, timeoutSeconds });
  if (created === 'conflict') throw personiumError('PR423-DV-0001', urlFor(ctx, segments));
  if (created === 'full') throw personiumError('PR423-DV-0002', urlFor(ctx, segments), lockLimits.perResource);
  if (ctx.target) return lockAnswer(ctx, created, 200);
  try {
    const temp = await ctx.store.newTempFolder(parent!.dir);
    await writeFile(path.join(temp, contentFile), '');
    const published = await ctx.store.publishNewFile(temp, path.join(parent!.dir, segments[segments.length - 1]!), 0, 'application/octet-stream');
    if (!published) await rm(temp, { recursive: true, force: true });
    return lockAnswer(ctx, created, published ? 201 : 200);
  } catch (error) {
    ctx.locks.release(created);
    throw storageError(error);
  }
}

export async function unlock(ctx: BoxRequest) {
  const value = header(ctx.request, 'lock-token')?.trim();
  const token = value && /^<([^<>\s]+)>$/.exec(value)?.[1];
  if (!token) throw personiumError('PR400-EV-0002', 'Lock-Token');
  if (!ctx.target) throw notFound(ctx);
  const held = ctx.locks.covering(ctx.boxDir, ctx.path.segments).find((candidate) => candidate.token === token);
  if (!held) throw personiumError('PR409-DV-0003', urlFor(ctx, ctx.path.segments));
  ctx.locks.release(held);
  return ctx.h.response().code(204);
}
