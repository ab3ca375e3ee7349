// The owner's bootstrap (Personium's tutorial with the master token): an account with a password,
// a role, the link, and the cell ACL granting the role what the test says; then a login.
import type { TestUnit } from './unit.ts';
import { json } from './unit.ts';

export const ownerPassword = 'owner-pass-1';

export function aclBody(cellUrl: string, grants: Array<[string, string[]]>): string {
  const aces = grants.map(([principal, privileges]) => {
    const who = principal === 'all' ? '<D:all/>' : `<D:href>${principal}</D:href>`;
    const list = privileges.map((name) => `<D:privilege>${name.startsWith('D:') ? `<${name}/>` : `<p:${name}/>`}</D:privilege>`).join('');
    return `<D:ace><D:principal>${who}</D:principal><D:grant>${list}</D:grant></D:ace>`;
  }).join('');
  return `<?xml version="1.0" encoding="utf-8"?><D:acl xmlns:D="DAV:" xmlns:p="urn:x-personium:xmlns" xml:base="${cellUrl}__role/__/">${aces}</D:acl>`;
}

async function expect(response: Promise<{ statusCode: number; payload: string }>, status: number, what: string) {
  const res = await response;
  if (res.statusCode !== status) throw new Error(`${what}: ${res.statusCode} ${res.payload}`);
  return res;
}

const granted = new WeakMap<TestUnit, Map<string, Array<[string, string[]]>>>();

/** Account `name` (password `password`) linked to role `role`, which the cell ACL grants `privileges` (beside earlier grants). */
export async function addAccountWithRole(unit: TestUnit, cell: string, name: string, role: string, privileges: string[], password = ownerPassword): Promise<void> {
  await expect(unit.as({ method: 'POST', url: `/${cell}/__ctl/Account`, headers: { 'x-personium-credential': password }, payload: { Name: name } }), 201, 'account');
  await expect(unit.as({ method: 'POST', url: `/${cell}/__ctl/Role`, payload: { Name: role } }), 201, 'role');
  await expect(unit.as({ method: 'POST', url: `/${cell}/__ctl/Account('${name}')/$links/_Role`, payload: { uri: `${unit.config.unitUrl}${cell}/__ctl/Role('${role}')` } }), 204, 'link');
  const cells = granted.get(unit) ?? new Map<string, Array<[string, string[]]>>();
  granted.set(unit, cells);
  const grants = [...(cells.get(cell) ?? []), [role, privileges] as [string, string[]]];
  cells.set(cell, grants);
  await grant(unit, cell, grants);
}

/** Replaces the cell ACL. */
export async function grant(unit: TestUnit, cell: string, grants: Array<[string, string[]]>): Promise<void> {
  await expect(unit.as({ method: 'ACL', url: `/${cell}/`, payload: aclBody(`${unit.config.unitUrl}${cell}/`, grants) }), 200, 'acl');
}

export interface Login {
  access_token: string;
  refresh_token: string;
  p_cookie_peer?: string;
  cookie?: string;
  [key: string]: unknown;
}

export async function login(unit: TestUnit, cell: string, username: string, password = ownerPassword, extra: Record<string, string> = {}): Promise<Login> {
  const res = await expect(unit.inject({
    method: 'POST', url: `/${cell}/__token`,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ grant_type: 'password', username, password, ...extra }).toString(),
  }), 200, 'login');
  const setCookie = (res as unknown as { headers: Record<string, string | string[] | undefined> }).headers['set-cookie'];
  const cookie = Array.isArray(setCookie) ? setCookie[0] : setCookie;
  return { ...json<Login>(res), ...(cookie ? { cookie: cookie.split(';')[0]! } : {}) };
}

export function bearer(token: string) {
  return { authorization: `Bearer ${token}` };
}
