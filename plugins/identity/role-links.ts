// {CellURL}__ctl/Role('r')/$links/_Account: the Account↔Role links from the role's side (Personium
// answers both): link an account (POST with its URL in `uri`), list the role's accounts, unlink one.
import type { Request, ResponseToolkit } from '@hapi/hapi';
import { cellOf } from '../../core/cell-access.ts';
import { personiumError } from '../../core/errors.ts';
import { param } from '../../core/auth.ts';
import { addLink, keyTextOfUri, removeLink } from './links.ts';
import { accountKey, ctlUrl, findRole, odataBody, page, roleKey } from './odata-keys.ts';

/** `$links/_Account` and the account key after it, if any; else 404. */
function linkTarget(request: Request): string | undefined {
  const match = /^\$links\/_Account(.*)$/.exec(param(request, 'nav'));
  if (!match) throw personiumError('PR404-MC-0001');
  return accountKey(match[1]!);
}

async function linkedRole(request: Request) {
  const key = roleKey(param(request, 'key'));
  const found = await request.server.cellar.identity.records(cellOf(request));
  const role = key === undefined ? undefined : findRole(found.roles, found.document.data.boxes, key);
  if (!role) throw personiumError('PR404-OD-0002');
  return { ...found, role };
}

function accountOfUri(request: Request, body: Record<string, unknown>): string {
  try {
    const name = accountKey(keyTextOfUri(request, body, 'Account'));
    if (name !== undefined) return name;
  } catch {
    // A key that is no account key is a bad uri, not a missing resource.
  }
  throw personiumError('PR400-OD-0006', 'uri');
}

export async function createRoleLink(request: Request, h: ResponseToolkit) {
  if (linkTarget(request) !== undefined) throw personiumError('PR400-OD-0010');
  const { document, role, accounts, links } = await linkedRole(request);
  const name = accountOfUri(request, odataBody(request.payload));
  const account = accounts.find((candidate) => candidate.Name === name);
  if (!account) throw personiumError('PR400-OD-0024', `Account('${name}')`);
  addLink(links, account._id, role._id);
  await document.write();
  return h.response().code(204).header('DataServiceVersion', '2.0');
}

export async function readRoleLinks(request: Request, h: ResponseToolkit) {
  if (linkTarget(request) !== undefined) throw personiumError('PR404-MC-0001');
  const { role, accounts, links } = await linkedRole(request);
  const base = ctlUrl(request);
  const uris = links
    .filter((link) => link.roleId === role._id)
    .flatMap((link) => accounts.filter((account) => account._id === link.accountId))
    .map((account) => ({ uri: `${base}Account('${account.Name.replace(/'/g, "''")}')` }));
  return h.response({ d: { results: page(request, uris) } }).header('DataServiceVersion', '2.0');
}

export async function deleteRoleLink(request: Request, h: ResponseToolkit) {
  const name = linkTarget(request);
  if (name === undefined) throw personiumError('PR400-OD-0011');
  const { document, role, accounts, links } = await linkedRole(request);
  const account = accounts.find((candidate) => candidate.Name === name);
  if (!account) throw personiumError('PR404-OD-0002');
  removeLink(links, account._id, role._id);
  await document.write();
  return h.response().code(204).header('DataServiceVersion', '2.0');
}
