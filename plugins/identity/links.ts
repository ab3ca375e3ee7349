// {CellURL}__ctl/Account('a')/$links/_Role: link an account to a role (POST with the role's URL
// in `uri`), list its roles, and unlink one (DELETE .../$links/_Role('r')); role-links.ts is the
// same from the role's side. Roles are read from
// these links at every request, so a change takes effect at once for tokens already issued.
import type { Request, ResponseToolkit } from '@hapi/hapi';
import { cellOf } from '../../core/cell-access.ts';
import { newId } from '../../core/cell-content.ts';
import type { CellIdentity } from '../../core/cell-identity.ts';
import { personiumError } from '../../core/errors.ts';
import { param } from '../../core/auth.ts';
import { accountKey, boxNameOf, ctlUrl, findRole, odataBody, page, parseRoleKey, roleKey, roleKeyText, type RoleKey } from './odata-keys.ts';

/** `$links/_Role` and what follows it (a key, or nothing); else 404. */
function linkTarget(request: Request): { key: RoleKey | undefined } {
  const match = /^\$links\/_Role(.*)$/.exec(param(request, 'nav'));
  if (!match) throw personiumError('PR404-MC-0001');
  return { key: roleKey(match[1]!) };
}

async function linked(request: Request) {
  const name = accountKey(param(request, 'key'));
  const found = await request.server.cellar.identity.records(cellOf(request));
  const account = name === undefined ? undefined : found.accounts.find((candidate) => candidate.Name === name);
  if (!account) throw personiumError('PR404-OD-0002');
  return { ...found, boxes: found.document.data.boxes, account };
}

/** What follows `{entitySet}` in the URL a `$links` body names (relative to `{CellURL}__ctl/`): 400 PR400-OD-0006 [uri] when it names none. */
export function keyTextOfUri(request: Request, body: Record<string, unknown>, entitySet: 'Role' | 'Account'): string {
  const base = decodeURIComponent(ctlUrl(request));
  if (typeof body.uri !== 'string' || body.uri === '') throw personiumError('PR400-OD-0006', 'uri');
  let url: string;
  try {
    url = decodeURIComponent(new URL(body.uri, base).href);
  } catch {
    throw personiumError('PR400-OD-0006', 'uri');
  }
  if (!url.startsWith(`${base}${entitySet}(`)) throw personiumError('PR400-OD-0006', 'uri');
  return url.slice(base.length + entitySet.length);
}

function roleOfUri(request: Request, body: Record<string, unknown>): RoleKey {
  const key = parseRoleKey(keyTextOfUri(request, body, 'Role'));
  if (!key) throw personiumError('PR400-OD-0006', 'uri');
  return key;
}

type Links = Awaited<ReturnType<CellIdentity['records']>>['links'];

/** Links an account to a role (409 PR409-OD-0002 when they are). */
export function addLink(links: Links, accountId: string, roleId: string): void {
  if (links.some((link) => link.accountId === accountId && link.roleId === roleId)) throw personiumError('PR409-OD-0002');
  const now = Date.now();
  links.push({ _id: newId(), accountId, roleId, __published: now, __updated: now });
}

/** Unlinks them (404 when they are not linked). */
export function removeLink(links: Links, accountId: string, roleId: string | undefined): void {
  const at = roleId === undefined ? -1 : links.findIndex((link) => link.accountId === accountId && link.roleId === roleId);
  if (at < 0) throw personiumError('PR404-OD-0002');
  links.splice(at, 1);
}

export async function createLink(request: Request, h: ResponseToolkit) {
  if (linkTarget(request).key !== undefined) throw personiumError('PR400-OD-0010');
  const { document, account, roles, boxes, links } = await linked(request);
  const key = roleOfUri(request, odataBody(request.payload));
  const role = findRole(roles, boxes, key);
  if (!role) throw personiumError('PR400-OD-0024', `Role${roleKeyText(key)}`);
  addLink(links, account._id, role._id);
  await document.write();
  return h.response().code(204).header('DataServiceVersion', '2.0');
}

export async function readLinks(request: Request, h: ResponseToolkit) {
  if (linkTarget(request).key !== undefined) throw personiumError('PR404-MC-0001');
  const { account, roles, boxes, links } = await linked(request);
  const base = ctlUrl(request);
  const uris = links
    .filter((link) => link.accountId === account._id)
    .flatMap((link) => roles.filter((role) => role._id === link.roleId))
    .map((role) => ({ uri: `${base}Role${roleKeyText({ name: role.Name, box: boxNameOf(boxes, role.boxId) })}` }));
  return h.response({ d: { results: page(request, uris) } }).header('DataServiceVersion', '2.0');
}

export async function deleteLink(request: Request, h: ResponseToolkit) {
  const { key } = linkTarget(request);
  if (key === undefined) throw personiumError('PR400-OD-0011');
  const { document, account, roles, boxes, links } = await linked(request);
  removeLink(links, account._id, findRole(roles, boxes, key)?._id);
  await document.write();
  return h.response().code(204).header('DataServiceVersion', '2.0');
}

export function replaceLink(request: Request): never {
  throw linkTarget(request).key === undefined ? personiumError('PR400-OD-0011') : personiumError('PR501-MC-0001');
}
