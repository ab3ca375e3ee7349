// The OData pieces of the Account and Role APIs: entity keys (`('n')`, `(Name='n')`, Role's
// compound `(Name='n',_Box.Name='b')`), bodies, the entity JSON Personium answers with, and the
// role URLs `$links` bodies carry.
import type { Request } from '@hapi/hapi';
import type { AccountRecord, RoleRecord } from '../../core/cell-identity.ts';
import { cellOf } from '../../core/cell-access.ts';
import type { BoxRecord } from '../../core/cell-content.ts';
import { personiumError } from '../../core/errors.ts';
import { odataDate } from '../../core/odata.ts';

/** A role's key: its name and the name of the box it is bound to (null: the whole cell's). */
export interface RoleKey {
  name: string;
  box: string | null;
}

function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw personiumError('PR404-MC-0001');
  }
}

const quoted = String.raw`'((?:[^']|'')*)'`;
const unquote = (text: string) => text.replace(/''/g, "'");

/** `('n')` or `(Name='n')` → n; '' → undefined (the collection); anything else 404. */
export function accountKey(suffix: string): string | undefined {
  const text = decoded(suffix);
  if (text === '') return undefined;
  const match = new RegExp(String.raw`^\((?:Name=)?${quoted}\)$`).exec(text);
  if (!match) throw personiumError('PR404-MC-0001');
  return unquote(match[1]!);
}

/** A role key in any of Personium's forms, or undefined when the text is none. */
export function parseRoleKey(text: string): RoleKey | undefined {
  const simple = new RegExp(String.raw`^\((?:Name=)?${quoted}\)$`).exec(text);
  if (simple) return { name: unquote(simple[1]!), box: null };
  const compound = new RegExp(String.raw`^\(Name=${quoted},_Box\.Name=(?:${quoted}|null)\)$`).exec(text);
  if (compound) return { name: unquote(compound[1]!), box: compound[2] === undefined ? null : unquote(compound[2]) };
  return undefined;
}

/** `Role...` suffix of a URL → the key; '' → undefined (the collection); anything else 404. */
export function roleKey(suffix: string): RoleKey | undefined {
  const text = decoded(suffix);
  if (text === '') return undefined;
  const key = parseRoleKey(text);
  if (!key) throw personiumError('PR404-MC-0001');
  return key;
}

const quote = (text: string) => `'${text.replace(/'/g, "''")}'`;

export function roleKeyText(key: RoleKey): string {
  return `(Name=${quote(key.name)},_Box.Name=${key.box === null ? 'null' : quote(key.box)})`;
}

export function boxNameOf(boxes: readonly BoxRecord[], boxId: string | null): string | null {
  return boxId === null ? null : boxes.find((box) => box._id === boxId)?.Name ?? null;
}

export function findRole(roles: readonly RoleRecord[], boxes: readonly BoxRecord[], key: RoleKey): RoleRecord | undefined {
  return roles.find((role) => role.Name === key.name && boxNameOf(boxes, role.boxId) === key.box);
}

export function ctlUrl(request: Request): string {
  return `${request.server.cellar.urls.cell(cellOf(request).name)}__ctl/`;
}

export function etagOf(updated: number): string {
  return `W/"1-${updated}"`;
}

export function accountEntity(request: Request, account: AccountRecord, navigation: boolean) {
  const uri = `${ctlUrl(request)}Account(${quote(account.Name)})`;
  return {
    __metadata: { uri, etag: etagOf(account.__updated), type: 'CellCtl.Account' },
    Name: account.Name,
    IPAddressRange: account.IPAddressRange,
    Status: account.Status,
    Type: account.Type,
    Cell: account.Cell,
    __published: odataDate(account.__published),
    __updated: odataDate(account.__updated),
    ...(navigation
      ? { _Role: { __deferred: { uri: `${uri}/_Role` } }, _ReceivedMessageRead: { __deferred: { uri: `${uri}/_ReceivedMessageRead` } } }
      : {}),
  };
}

export function roleEntity(request: Request, role: RoleRecord, boxes: readonly BoxRecord[], navigation: boolean) {
  const box = boxNameOf(boxes, role.boxId);
  const uri = `${ctlUrl(request)}Role${roleKeyText({ name: role.Name, box })}`;
  return {
    __metadata: { uri, etag: etagOf(role.__updated), type: 'CellCtl.Role' },
    Name: role.Name,
    '_Box.Name': box,
    __published: odataDate(role.__published),
    __updated: odataDate(role.__updated),
    ...(navigation ? { _Box: { __deferred: { uri: `${uri}/_Box` } }, _Account: { __deferred: { uri: `${uri}/_Account` } } } : {}),
  };
}

/** A JSON object body; anything else 400 PR400-OD-0001. */
export function odataBody(payload: unknown): Record<string, unknown> {
  const text = Buffer.isBuffer(payload) ? payload.toString('utf8') : typeof payload === 'string' ? payload : '';
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw personiumError('PR400-OD-0001', 'JSON parse error');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw personiumError('PR400-OD-0001', 'JSON parse error');
  return parsed as Record<string, unknown>;
}

/** The `$top`/`$skip` window of a list (25 from the first by default); a value that is not a number is ignored. */
export function page<T>(request: Request, items: readonly T[]): T[] {
  const query = request.query as Record<string, unknown>;
  const number = (value: unknown, fallback: number) => (typeof value === 'string' && /^\d{1,9}$/.test(value) ? Number(value) : fallback);
  const skip = number(query.$skip, 0);
  return items.slice(skip, skip + number(query.$top, 25));
}
