// `cellar login|logout`, `cellar account create|list|delete`, `cellar role create|list|delete|grant|revoke`:
// a cell's accounts and roles ({CellURL}__ctl/Account, Role, $links) and the logins kept for the user.
import type { Context } from '../context.ts';
import { LoginStore, requestTokens } from '../logins.ts';
import { readPassword } from '../password.ts';

interface Named { Name: string; '_Box.Name'?: string | null; Status?: string }
interface ODataMany { d: { results: Named[] } }

const quoted = (name: string) => `'${name.replace(/'/g, "''")}'`;
const accountPath = (name: string) => `__ctl/Account(${encodeURIComponent(quoted(name))})`;
const rolePath = (name: string, box?: string) => `__ctl/Role${encodeURIComponent(`(Name=${quoted(name)},_Box.Name=${box === undefined ? 'null' : quoted(box)})`)}`;

export interface PasswordOptions {
  passwordStdin?: boolean;
}

export async function loginCommand(context: Context, cell: string, account: string, options: PasswordOptions & { scope?: string }): Promise<void> {
  const password = await readPassword(options, `password of ${account} in ${cell}: `);
  const unitUrl = context.client.unitUrl;
  const tokens = await requestTokens(unitUrl, cell, { grant_type: 'password', username: account, password, ...(options.scope ? { scope: options.scope } : {}) });
  const store = new LoginStore();
  await store.save(unitUrl, cell, { ...tokens, account });
  context.result({ cell, account, expires: new Date(tokens.refreshExpiresAt).toISOString() }, `logged in to ${cell} as ${account} (kept in ${store.file})`);
}

export async function logoutCommand(context: Context, cell: string | undefined): Promise<void> {
  const removed = await new LoginStore().remove(context.client.unitUrl, cell);
  const what = cell === undefined ? 'every cell of the unit' : cell;
  context.result({ cell: cell ?? null, loggedOut: removed }, removed ? `logged out of ${what}` : `no login to ${what} was kept`);
}

export async function createAccount(context: Context, cell: string, name: string, options: PasswordOptions & { password?: boolean }): Promise<void> {
  const headers: Record<string, string> = options.password === false ? {} : { 'x-personium-credential': await readPassword(options, `password for ${name}: `) };
  await context.client.request('POST', context.client.cellUrl(cell, '__ctl/Account'), { json: { Name: name }, headers, expect: [201] });
  context.result({ cell, account: name }, `created account ${name} in ${cell}`);
}

export async function listAccounts(context: Context, cell: string): Promise<void> {
  const body = await context.client.requestJson<ODataMany>('GET', `${context.client.cellUrl(cell, '__ctl/Account')}?$top=10000`);
  const accounts = body?.d.results ?? [];
  context.result(accounts, accounts.map((account) => `${account.Name}\t${account.Status ?? ''}`).join('\n'));
}

export async function deleteAccount(context: Context, cell: string, name: string): Promise<void> {
  await context.client.request('DELETE', context.client.cellUrl(cell, accountPath(name)), { expect: [204] });
  context.result({ cell, account: name, deleted: true }, `deleted account ${name} of ${cell}`);
}

export async function createRole(context: Context, cell: string, name: string, options: { box?: string }): Promise<void> {
  await context.client.request('POST', context.client.cellUrl(cell, '__ctl/Role'), { json: { Name: name, ...(options.box ? { '_Box.Name': options.box } : {}) }, expect: [201] });
  context.result({ cell, role: name, box: options.box ?? null }, `created role ${name} in ${cell}`);
}

export async function listRoles(context: Context, cell: string): Promise<void> {
  const body = await context.client.requestJson<ODataMany>('GET', `${context.client.cellUrl(cell, '__ctl/Role')}?$top=10000`);
  const roles = body?.d.results ?? [];
  context.result(roles, roles.map((role) => (role['_Box.Name'] ? `${role.Name}\t(box ${role['_Box.Name']})` : role.Name)).join('\n'));
}

export async function deleteRole(context: Context, cell: string, name: string, options: { box?: string }): Promise<void> {
  await context.client.request('DELETE', context.client.cellUrl(cell, rolePath(name, options.box)), { expect: [204] });
  context.result({ cell, role: name, deleted: true }, `deleted role ${name} of ${cell}`);
}

export async function grantRole(context: Context, cell: string, account: string, role: string, options: { box?: string }): Promise<void> {
  const uri = context.client.cellUrl(cell, rolePath(role, options.box));
  await context.client.request('POST', context.client.cellUrl(cell, `${accountPath(account)}/$links/_Role`), { json: { uri: decodeURIComponent(uri) }, expect: [204] });
  context.result({ cell, account, role, granted: true }, `${account} now holds role ${role} in ${cell}`);
}

export async function revokeRole(context: Context, cell: string, account: string, role: string, options: { box?: string }): Promise<void> {
  const link = `${accountPath(account)}/$links/_Role${rolePath(role, options.box).slice('__ctl/Role'.length)}`;
  await context.client.request('DELETE', context.client.cellUrl(cell, link), { expect: [204] });
  context.result({ cell, account, role, revoked: true }, `${account} no longer holds role ${role} in ${cell}`);
}
