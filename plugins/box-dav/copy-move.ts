// COPY and MOVE inside one box (RFC 4918 §9.8, §9.9). A Destination on another host, in another
// cell or box, or at the box root is 502; into a missing collection or a file 409; onto an
// existing resource 412 with `Overwrite: F`, else it is replaced (204).
import path from 'node:path';
import { decideAccess } from '../../core/access-decision.ts';
import { personiumError } from '../../core/errors.ts';
import { boxPathOf, isRoot, type BoxPath } from './box-path.ts';
import { checkIfHeader, checkLocks, checkPreconditions, header, notFound, parentScope, routedPath, storageError, urlFor, type BoxRequest, type LockScope } from './box-request.ts';
import { aclsAlong } from './box-acl.ts';

/** The Destination as a path of this box, or 502 when it points anywhere else. */
function destinationOf(ctx: BoxRequest): BoxPath {
  const value = header(ctx.request, 'destination')?.trim();
  if (!value) throw personiumError('PR400-EV-0002', 'Destination');
  let rawPath = value;
  const absolute = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/.exec(value);
  if (absolute) {
    const [, scheme, authority, rest] = absolute as unknown as [string, string, string, string];
    let host: string;
    try {
      host = new URL(`${scheme}://${authority}/`).host.toLowerCase();
    } catch {
      throw personiumError('PR400-EV-0002', 'Destination');
    }
    const own = [new URL(ctx.cellBase).host.toLowerCase(), String(ctx.request.info.host ?? '').toLowerCase()];
    if (!/^https?$/i.test(scheme) || !own.includes(host)) throw personiumError('PR502-DV-0001', value);
    rawPath = rest || '/';
  } else if (!value.startsWith('/')) {
    throw personiumError('PR400-EV-0002', 'Destination');
  }
  const inBox = boxPathOf(routedPath(ctx, rawPath.split('?')[0]!.split('#')[0]!), ctx.cellName, ctx.boxName);
  if (!inBox || isRoot(inBox)) throw personiumError('PR502-DV-0001', value);
  return inBox;
}

function overwriteOf(ctx: BoxRequest): boolean {
  const value = header(ctx.request, 'overwrite')?.trim().toUpperCase();
  if (value === undefined || value === 'T') return true;
  if (value === 'F') return false;
  throw personiumError('PR400-EV-0002', 'Overwrite');
}

function depthOf(ctx: BoxRequest, isMove: boolean): 0 | 'infinity' {
  const value = header(ctx.request, 'depth')?.trim().toLowerCase();
  if (value === undefined || value === 'infinity') return 'infinity';
  if (value === '0' && !isMove) return 0;
  throw personiumError('PR400-DV-0003', value);
}

const isUnder = (inner: readonly string[], outer: readonly string[]) => outer.length <= inner.length && outer.every((segment, i) => inner[i] === segment);

export async function copyOrMove(ctx: BoxRequest) {
  const isMove = ctx.method === 'MOVE';
  if (isRoot(ctx.path)) throw personiumError('PR405-MC-0001');
  const destination = destinationOf(ctx);
  const overwrite = overwriteOf(ctx);
  const depth = depthOf(ctx, isMove);
  const { target: source, store } = ctx;
  if (!source) throw notFound(ctx);
  const to = destination.segments;
  if (isUnder(to, source.segments) || (overwrite && isUnder(source.segments, to))) throw personiumError('PR403-DV-0002', urlFor(ctx, to));
  // The gate checked the source; the destination is written too, and its ACLs may differ.
  await decideAccess(ctx.request, { cell: ctx.request.app.cell!, privilege: 'write', resourceAcls: () => aclsAlong(store, to) });

  const parent = await store.stat(to.slice(0, -1));
  if (!parent || !parent.isCollection) throw personiumError('PR409-DV-0003', urlFor(ctx, to.slice(0, -1)));
  const existing = await store.stat(to);
  if (existing && !overwrite) throw personiumError('PR412-DV-0002', urlFor(ctx, to));

  checkPreconditions(ctx);
  await checkIfHeader(ctx);
  const scopes: LockScope[] = [{ segments: to, tree: true }, parentScope(to)];
  if (isMove) scopes.push({ segments: source.segments, tree: true }, parentScope(source.segments));
  checkLocks(ctx, scopes);

  const targetDir = path.join(parent.dir, to[to.length - 1]!);
  try {
    if (existing) {
      await store.remove(existing.dir);
      ctx.locks.releaseUnder(ctx.boxDir, to);
    }
    const done = isMove ? await store.move(source, targetDir) : await store.copy(source, parent.dir, to[to.length - 1]!, depth);
    if (!done) throw personiumError('PR412-DV-0002', urlFor(ctx, to));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw personiumError('PR409-DV-0003', urlFor(ctx, to));
    throw storageError(error);
  }
  if (isMove) ctx.locks.releaseUnder(ctx.boxDir, source.segments);
  return ctx.h.response().code(existing ? 204 : 201);
}
