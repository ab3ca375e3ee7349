// {CellURL}__ctl/Role: POST and GET the set, GET and DELETE one role, by `('name')` or the
// compound key `(Name='n',_Box.Name='b')`. Deleting a role removes its links; the ACEs naming it
// stay in the ACLs (by id) and grant nothing any more, as in Personium.
import type { Request, ResponseToolkit } from '@hapi/hapi';
import { cellOf } from '../../core/cell-access.ts';
import type { RoleRecord } from '../../core/cell-identity.ts';
import { newId } from '../../core/cell-content.ts';
import { personiumError } from '../../core/errors.ts';
import { param } from '../../core/auth.ts';
import { notAllowed } from '../../core/routes.ts';
import { etagOf, findRole, odataBody, page, roleEntity, roleKey } from './odata-keys.ts';

const roleNameRule = /^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,127}$/;

export const roleCollectionAllow = 'OPTIONS, GET, POST';
export const roleEntityAllow = 'OPTIONS, GET, DELETE';

async function records(request: Request) {
  const cell = cellOf(request);
  const found = await request.server.cellar.identity.records(cell);
  return { ...found, boxes: found.document.data.boxes };
}

export async function createRole(request: Request, h: ResponseToolkit) {
  if (roleKey(param(request, 'key')) !== undefined) throw notAllowed(roleEntityAllow);
  const body = odataBody(request.payload);
  for (const forbidden of ['__published', '__updated', '__metadata']) if (forbidden in body) throw personiumError('PR400-OD-0006', forbidden);
  const name = body.Name;
  if (typeof name !== 'string' || !roleNameRule.test(name)) throw personiumError('PR400-OD-0006', 'Name');
  const boxName = body['_Box.Name'] ?? null;
  if (boxName !== null && (typeof boxName !== 'string' || !roleNameRule.test(boxName))) throw personiumError('PR400-OD-0006', '_Box.Name');
  const { document, roles, boxes } = await records(request);
  const box = boxName === null ? undefined : boxes.find((candidate) => candidate.Name === boxName);
  if (boxName !== null && !box) throw personiumError('PR400-OD-0024', boxName);
  if (findRole(roles, boxes, { name, box: boxName })) throw personiumError('PR409-OD-0003');
  const now = Date.now();
  const role: RoleRecord = { _id: newId(), Name: name, boxId: box?._id ?? null, __published: now, __updated: now };
  roles.push(role);
  await document.write();
  const entity = roleEntity(request, role, boxes, false);
  return h.response({ d: { results: entity } }).code(201).header('Location', entity.__metadata.uri)
    .header('ETag', entity.__metadata.etag).header('DataServiceVersion', '2.0');
}

async function existing(request: Request) {
  const key = roleKey(param(request, 'key'));
  const found = await records(request);
  if (key === undefined) return { ...found, role: undefined };
  const role = findRole(found.roles, found.boxes, key);
  if (!role) throw personiumError('PR404-OD-0002');
  return { ...found, role };
}

export async function readRoles(request: Request, h: ResponseToolkit) {
  const { roles, boxes, role } = await existing(request);
  if (!role) return h.response({ d: { results: page(request, roles).map((one) => roleEntity(request, one, boxes, true)) } }).header('DataServiceVersion', '2.0');
  return h.response({ d: { results: roleEntity(request, role, boxes, true) } }).header('ETag', etagOf(role.__updated)).header('DataServiceVersion', '2.0');
}

export async function deleteRole(request: Request, h: ResponseToolkit) {
  const { document, roles, links, role } = await existing(request);
  if (!role) throw notAllowed(roleCollectionAllow);
  roles.splice(roles.indexOf(role), 1);
  const kept = links.filter((link) => link.roleId !== role._id);
  links.splice(0, links.length, ...kept);
  await document.write();
  return h.response().code(204).header('DataServiceVersion', '2.0');
}
