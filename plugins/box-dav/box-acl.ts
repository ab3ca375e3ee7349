// Box-level ACLs: the ACL method on a box resource (privilege `write-acl`; box privileges only,
// principals relative to `{CellURL}__role/{box}/`), kept in the resource's `.pmeta` `a`; and
// for the access decision, the ACLs of a resource and of every collection above it up to the
// box, nearest first (a grant on a collection reaches everything below it).
import { existsSync } from 'node:fs';
import type { Request } from '@hapi/hapi';
import { mayAccess } from '../../core/access-decision.ts';
import { aclFromPmeta, aclToPmeta, parseAclBody, renderAcl, type Acl } from '../../core/acl.ts';
import { mainBoxName } from '../../core/cell-content.ts';
import { readSmallBody } from '../../core/dav-xml.ts';
import type { CellRecord } from '../../core/store.ts';
import { principalResolver, relativeHref } from '../cell-root/cell-acl.ts';
import { boxPathOf, rawPathOf } from './box-path.ts';
import { BoxStore, etagOf, type Resource } from './box-store.ts';
import { checkWrite, notFound, type BoxRequest } from './box-request.ts';

/** The folder of the box a request names, or undefined (the handler answers the 404). */
async function boxDirOf(request: Request, cell: CellRecord, boxName: string): Promise<string | undefined> {
  const { contents } = request.server.cellar;
  if (boxName === mainBoxName) return contents.boxDir(cell, mainBoxName);
  if (boxName.startsWith('__')) return undefined;
  const box = (await contents.odata(cell)).data.boxes.find((candidate) => candidate.Name === boxName);
  return box && contents.boxDir(cell, box._id);
}

export async function resourceAcls(request: Request, cell: CellRecord): Promise<Acl[]> {
  const boxName = String((request.params as Record<string, unknown>).box ?? '');
  const boxDir = await boxDirOf(request, cell, boxName);
  if (!boxDir) return [];
  let segments: string[];
  try {
    segments = boxPathOf(rawPathOf(request.raw.req.url ?? '/'), cell.name, boxName)?.segments ?? [];
  } catch {
    // A malformed path: the handler refuses it; only the box's own ACL counts here.
    segments = [];
  }
  return aclsAlong(new BoxStore(boxDir), segments);
}

/** The ACLs of the resource at `segments` and of the collections above it, nearest first. */
export async function aclsAlong(store: BoxStore, segments: readonly string[]): Promise<Acl[]> {
  const acls: Acl[] = [];
  for (let depth = segments.length; depth >= 0; depth--) {
    const dir = store.dirOf(segments.slice(0, depth));
    if (!existsSync(dir)) continue;
    const pmeta = await store.readPmeta(dir);
    if (pmeta?.a) acls.push(aclFromPmeta(pmeta.a));
  }
  return acls;
}

export async function setResourceAcl(ctx: BoxRequest) {
  const target = ctx.target;
  if (!target) throw notFound(ctx);
  const body = await readSmallBody(ctx.request.payload as NodeJS.ReadableStream | undefined);
  const { identity, urls } = ctx.request.server.cellar;
  const cell = ctx.request.app.cell!;
  const { roles, document } = await identity.records(cell);
  const resolve = principalResolver(urls.cell(cell.name), roles, document.data.boxes);
  const acl = parseAclBody(body, true, resolve);
  await checkWrite(ctx, [{ segments: ctx.path.segments, tree: false }]);
  const pmeta = await ctx.store.updatePmeta(target.dir, (stored) => {
    stored.a = aclToPmeta(acl);
  });
  return ctx.h.response().code(200).header('ETag', etagOf(pmeta));
}

/**
 * For a PROPFIND: the `D:acl` of a resource (principals relative to `{CellURL}__role/{box}/`),
 * when the caller may read the target's ACL (`read-acl`) and the resource has an ACL.
 */
export async function aclRenderer(ctx: BoxRequest): Promise<((resource: Resource) => string | undefined) | undefined> {
  const cell = ctx.request.app.cell!;
  if (!(await mayAccess(ctx.request, { cell, privilege: 'read-acl', resourceAcls: () => resourceAcls(ctx.request, cell) }))) return undefined;
  const { identity, urls } = ctx.request.server.cellar;
  const { roles, document } = await identity.records(cell);
  const base = `${urls.cell(cell.name)}__role/${ctx.boxName}/`;
  const hrefOf = relativeHref(roles, document.data.boxes, ctx.boxName);
  return (resource) => (resource.pmeta.a ? renderAcl(aclFromPmeta(resource.pmeta.a), base, hrefOf) : undefined);
}
