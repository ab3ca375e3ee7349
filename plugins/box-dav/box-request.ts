// What every box WebDAV handler starts from: the box, the decoded target path, its resource, the
// submitted `If:` lists, and the checks every write makes in RFC order (RFC 9110 preconditions,
// then RFC 4918 `If:` lists, then locks).
import type { Request, ResponseToolkit } from '@hapi/hapi';
import {
  evaluateIf, evaluatePreconditions, MalformedHeaderError, parseIfHeader, submittedTokens, taggedResources,
  type IfList, type ResourceState,
} from '../../core/conditional.ts';
import { personiumError } from '../../core/errors.ts';
import { boxPathOf, hrefOf, rawPathOf, type BoxPath } from './box-path.ts';
import { BoxStore, etagOf, type Resource } from './box-store.ts';
import type { Lock, LockTable } from './locks.ts';

export interface BoxRequest {
  request: Request;
  h: ResponseToolkit;
  method: string;
  cellName: string;
  boxName: string;
  /** The box folder; also the key of its locks. */
  boxDir: string;
  store: BoxStore;
  locks: LockTable;
  path: BoxPath;
  target: Resource | undefined;
  ifLists: IfList[] | undefined;
  submitted: Set<string>;
  /** `{CellURL}` without the trailing slash (`http://unit/cell1`, or `https://cell1.unit` on an FQDN unit), for hrefs, messages and Destination hosts. */
  cellBase: string;
  /** The largest PUT body. */
  maxUploadBytes: number;
}

export function header(request: Request, name: string): string | undefined {
  const value: unknown = request.headers[name];
  if (Array.isArray(value)) return value.join(', ');
  return typeof value === 'string' ? value : undefined;
}

export function withMalformedAs400<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof MalformedHeaderError) throw personiumError('PR400-EV-0002', error.header);
    throw error;
  }
}

export async function boxRequest(request: Request, h: ResponseToolkit, box: Pick<BoxRequest, 'cellName' | 'boxName' | 'boxDir' | 'locks' | 'cellBase' | 'maxUploadBytes'>): Promise<BoxRequest> {
  const target = request.raw.req.url ?? '/';
  // A fragment never belongs in a request target; cutting it off would aim at another resource.
  if (target.includes('#')) throw personiumError('PR400-DV-0010', target.split('#')[0]);
  const rawPath = rawPathOf(target);
  const path = boxPathOf(rawPath, box.cellName, box.boxName);
  if (!path) throw personiumError('PR400-DV-0010', rawPath);
  const store = new BoxStore(box.boxDir);
  const ifHeader = header(request, 'if');
  const ifLists = ifHeader === undefined ? undefined : withMalformedAs400(() => parseIfHeader(ifHeader));
  return {
    ...box, request, h, method: request.method.toUpperCase(), store, path,
    target: await store.stat(path.segments),
    ifLists, submitted: ifLists ? submittedTokens(ifLists) : new Set(),
  };
}

export function hrefFor(ctx: BoxRequest, segments: readonly string[], isCollection: boolean): string {
  return hrefOf(new URL(ctx.cellBase).pathname.replace(/\/$/, ''), ctx.boxName, segments, isCollection);
}

export function urlFor(ctx: BoxRequest, segments: readonly string[]): string {
  return `${new URL(ctx.cellBase).origin}${hrefFor(ctx, segments, false)}`;
}

/**
 * A path as a client writes it (a Destination, an If tag) as the unit routes it: on a cell's own
 * host the path has no cell segment, which routing adds (core/unit-urls.ts).
 */
export function routedPath(ctx: BoxRequest, rawPath: string): string {
  const cellPath = new URL(ctx.cellBase).pathname.replace(/\/$/, '');
  return cellPath === '' ? `/${encodeURIComponent(ctx.cellName)}${rawPath}` : rawPath;
}

export function notFound(ctx: BoxRequest, segments: readonly string[] = ctx.path.segments) {
  return personiumError('PR404-DV-0001', urlFor(ctx, segments));
}

export function stateOf(ctx: BoxRequest, resource: Resource | undefined, segments: readonly string[]): ResourceState {
  return {
    exists: resource !== undefined,
    ...(resource ? { etag: etagOf(resource.pmeta), lastModified: resource.pmeta.u } : {}),
    lockTokens: ctx.locks.covering(ctx.boxDir, segments).map((lock) => lock.token),
  };
}

/** What a write must hold locks for: a resource alone, or a resource and everything under it. */
export type LockScope = { segments: readonly string[]; tree: boolean; membersOnly?: boolean };

/** The locks a write of these scopes runs into. */
export function locksFor(ctx: BoxRequest, scopes: readonly LockScope[]): Lock[] {
  const found = new Set<Lock>();
  for (const scope of scopes) {
    const locks = scope.membersOnly ? ctx.locks.at(ctx.boxDir, scope.segments) : ctx.locks.covering(ctx.boxDir, scope.segments);
    for (const lock of locks) found.add(lock);
    if (scope.tree) for (const lock of ctx.locks.below(ctx.boxDir, scope.segments)) found.add(lock);
  }
  return [...found];
}

/** The scopes a change of membership in the parent needs besides the resource itself. */
export function parentScope(segments: readonly string[]): LockScope {
  return { segments: segments.slice(0, -1), tree: false, membersOnly: true };
}

/** RFC 9110 preconditions of the request target: 412 (or 304 for reads) when they fail. */
export function checkPreconditions(ctx: BoxRequest, resource: Resource | undefined = ctx.target): 'proceed' | 'not-modified' {
  const outcome = withMalformedAs400(() => evaluatePreconditions(stateOf(ctx, resource, ctx.path.segments), {
    'if-match': header(ctx.request, 'if-match'),
    'if-none-match': header(ctx.request, 'if-none-match'),
    'if-modified-since': header(ctx.request, 'if-modified-since'),
    'if-unmodified-since': header(ctx.request, 'if-unmodified-since'),
  }, ctx.method));
  if (outcome === 'precondition-failed') throw personiumError('PR412-DV-0002', urlFor(ctx, ctx.path.segments));
  return outcome;
}

/** The `If:` header holds (412 if not): tagged resources are looked up in this box. */
export async function checkIfHeader(ctx: BoxRequest): Promise<void> {
  if (!ctx.ifLists) return;
  const states = new Map<string, ResourceState>();
  for (const tag of taggedResources(ctx.ifLists)) {
    const inBox = boxPathOfTag(ctx, tag);
    const resource = inBox && (await ctx.store.stat(inBox.segments));
    states.set(tag, inBox ? stateOf(ctx, resource, inBox.segments) : { exists: false });
  }
  const requestState = stateOf(ctx, ctx.target, ctx.path.segments);
  if (!evaluateIf(ctx.ifLists, (tag) => (tag === undefined ? requestState : states.get(tag) ?? { exists: false }))) {
    throw personiumError('PR412-DV-0002', urlFor(ctx, ctx.path.segments));
  }
}

function boxPathOfTag(ctx: BoxRequest, tag: string): BoxPath | undefined {
  try {
    return boxPathOf(routedPath(ctx, rawPathOf(tag)), ctx.cellName, ctx.boxName);
  } catch {
    return undefined;
  }
}

/** 423 unless the request submitted a token for every lock the write runs into. */
export function checkLocks(ctx: BoxRequest, scopes: readonly LockScope[]): void {
  const blocking = ctx.locks.firstUnsatisfied(locksFor(ctx, scopes), ctx.submitted);
  if (blocking) throw personiumError('PR423-DV-0001', urlFor(ctx, blocking.root));
}

/** Every check of a write, in order. */
export async function checkWrite(ctx: BoxRequest, scopes: readonly LockScope[]): Promise<void> {
  checkPreconditions(ctx);
  await checkIfHeader(ctx);
  checkLocks(ctx, scopes);
}

/** Storage errors a client can act on; the rest stay 500. */
export function storageError(error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return personiumError('PR507-DV-0001');
  return error;
}
