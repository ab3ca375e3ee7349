// A cell's accounts, roles and Account↔Role links as the lines of `11_account.pjson`,
// `20_role.pjson` and `80_link.pjson` (Elasticsearch hits, Personium's layout), both ways:
// the export writes them, the import reads them back into records. Ids are kept as they are, so
// the role ids of the ACLs in the snapshot's `.pmeta` files still name the same roles.
import type { AccountRecord, RoleLinkRecord, RoleRecord } from './cell-identity.ts';
import type { PjsonLine } from './export-format.ts';
import type { HashedCredential } from './password-hash.ts';

export function accountLine(cellId: string, account: AccountRecord): PjsonLine {
  return {
    _type: 'Account',
    _id: account._id,
    _source: {
      c: cellId, b: null, n: null, t: null, l: {},
      s: { Name: account.Name, Type: account.Type, Cell: account.Cell, IPAddressRange: account.IPAddressRange, Status: account.Status },
      h: account.h ?? {},
      p: account.__published, u: account.__updated,
    },
  };
}

export function roleLine(cellId: string, role: RoleRecord): PjsonLine {
  return {
    _type: 'Role',
    _id: role._id,
    _source: { c: cellId, b: role.boxId, n: null, t: null, l: role.boxId ? { Box: role.boxId } : {}, s: { Name: role.Name }, h: {}, p: role.__published, u: role.__updated },
  };
}

export function roleLinkLine(cellId: string, link: RoleLinkRecord): PjsonLine {
  return {
    _type: 'link',
    _id: link._id,
    _source: { c: cellId, b: null, n: null, t1: 'Account', k1: link.accountId, t2: 'Role', k2: link.roleId, p: link.__published, u: link.__updated },
  };
}

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const time = (value: unknown, fallback: number): number => (typeof value === 'number' && Number.isFinite(value) ? value : fallback);

function statics(hit: PjsonLine): Record<string, unknown> {
  const value = hit._source.s;
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
}

/** An account of an imported line (its ids already the target's); undefined when it names none. */
export function accountOf(hit: PjsonLine, now: number): AccountRecord | undefined {
  const s = statics(hit);
  const name = text(s.Name);
  if (name === undefined) return undefined;
  const hidden = (hit._source.h ?? {}) as Partial<HashedCredential>;
  const hash = text(hidden.HashedCredential);
  return {
    _id: hit._id,
    Name: name,
    Type: text(s.Type) ?? 'basic',
    Status: text(s.Status) ?? 'active',
    IPAddressRange: text(s.IPAddressRange) ?? null,
    Cell: text(s.Cell) ?? null,
    __published: time(hit._source.p, now),
    __updated: time(hit._source.u, now),
    ...(hash ? { h: { HashedCredential: hash, HashAlgorithm: text(hidden.HashAlgorithm) ?? 'sha-256', HashAttributes: text(hidden.HashAttributes) ?? null } } : {}),
  };
}

/** A role of an imported line; its box is `l.Box` (or `b`), already the new box's id. */
export function roleOf(hit: PjsonLine, now: number): RoleRecord | undefined {
  const name = text(statics(hit).Name);
  if (name === undefined) return undefined;
  const links = (hit._source.l ?? {}) as Record<string, unknown>;
  return { _id: hit._id, Name: name, boxId: text(links.Box) ?? text(hit._source.b) ?? null, __published: time(hit._source.p, now), __updated: time(hit._source.u, now) };
}

/** An Account↔Role link of an imported line; undefined for links between other types (kept verbatim). */
export function roleLinkOf(hit: PjsonLine, now: number): RoleLinkRecord | undefined {
  const source = hit._source;
  const ends: Record<string, unknown> = { [String(source.t1)]: source.k1, [String(source.t2)]: source.k2 };
  const accountId = text(ends.Account);
  const roleId = text(ends.Role);
  if (accountId === undefined || roleId === undefined) return undefined;
  return { _id: hit._id, accountId, roleId, __published: time(source.p, now), __updated: time(source.u, now) };
}
