// `cellar acl grant|revoke CELL ROLE PRIVILEGE [--box BOX[/PATH]]`: adds a privilege to, or takes
// it from, what the cell ACL (or a box resource's ACL) grants a role of the cell. The ACL is read
// with PROPFIND, changed, and written back whole with the ACL method, as WebDAV ACLs are.
// `cellar cell create NAME --owner ACCOUNT`: a cell, its owner account, a role `owner` granted
// root, and the link, in one step (with the master token).
import type { Context } from '../context.ts';
import { UsageError } from '../errors.ts';
import { readPassword } from '../password.ts';
import { createRole, grantRole, type PasswordOptions } from './identity.ts';

interface Ace { principal: string; privileges: string[] }

const davPrivileges = new Set(['all', 'read', 'read-properties', 'read-acl', 'write', 'bind', 'unbind', 'write-content', 'write-properties', 'write-acl', 'alter-schema']);
const personiumPrivileges = new Set(['root', 'auth', 'auth-read', 'message', 'message-read', 'event', 'event-read', 'log', 'log-read', 'social', 'social-read',
  'box', 'box-read', 'box-install', 'acl', 'acl-read', 'propfind', 'rule', 'rule-read', 'sign', 'exec', 'stream-send', 'stream-receive']);

const unescape = (text: string) => text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
const escape = (text: string) => text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);

/** The ACEs of the `D:acl` a PROPFIND answer shows (the unit's own rendering). */
function acesOf(xml: string): Ace[] {
  const acl = /<D:acl\b[^>]*>([\s\S]*?)<\/D:acl>/.exec(xml)?.[1] ?? '';
  return [...acl.matchAll(/<D:ace><D:principal>(?:<D:href>([^<]*)<\/D:href>|<D:all\/>)<\/D:principal><D:grant>([\s\S]*?)<\/D:grant><\/D:ace>/g)].map((match) => ({
    principal: match[1] === undefined ? 'all' : unescape(match[1]),
    privileges: [...match[2]!.matchAll(/<(?:D|p):([\w-]+)\/>/g)].map((privilege) => privilege[1]!),
  }));
}

function aclXml(base: string, aces: Ace[]): string {
  const body = aces.map((ace) => {
    const principal = ace.principal === 'all' ? '<D:all/>' : `<D:href>${escape(ace.principal)}</D:href>`;
    const privileges = ace.privileges.map((name) => `<D:privilege>${davPrivileges.has(name) ? `<D:${name}/>` : `<p:${name}/>`}</D:privilege>`).join('');
    return `<D:ace><D:principal>${principal}</D:principal><D:grant>${privileges}</D:grant></D:ace>`;
  }).join('');
  return `<?xml version="1.0" encoding="utf-8"?>\n<D:acl xmlns:D="DAV:" xmlns:p="urn:x-personium:xmlns" xml:base="${escape(base)}">${body}</D:acl>`;
}

async function changeAcl(context: Context, cell: string, role: string, privilege: string, options: { box?: string }, change: (aces: Ace[], principal: string) => Ace[]): Promise<void> {
  if (!davPrivileges.has(privilege) && !personiumPrivileges.has(privilege)) throw new UsageError(`unknown privilege ${privilege}`);
  const [box, ...below] = (options.box ?? '').split('/').filter(Boolean);
  const target = box === undefined ? context.client.cellUrl(cell) : context.client.cellUrl(cell, [box, ...below].map(encodeURIComponent).join('/'));
  const base = context.client.cellUrl(cell, `__role/${box ?? '__'}/`);
  const principal = role === 'all' ? 'all' : box === undefined ? role : `../__/${role}`;
  const asked = '<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:acl/></D:prop></D:propfind>';
  const current = await (await context.client.request('PROPFIND', target, { headers: { depth: '0', 'content-type': 'application/xml' }, body: asked })).text();
  await context.client.request('ACL', target, { headers: { 'content-type': 'application/xml' }, body: aclXml(base, change(acesOf(current), principal)), expect: [200] });
}

export async function grantPrivilege(context: Context, cell: string, role: string, privilege: string, options: { box?: string }): Promise<void> {
  await changeAcl(context, cell, role, privilege, options, (aces, principal) => {
    const ace = aces.find((candidate) => candidate.principal === principal);
    if (!ace) return [...aces, { principal, privileges: [privilege] }];
    if (!ace.privileges.includes(privilege)) ace.privileges.push(privilege);
    return aces;
  });
  context.result({ cell, role, privilege, box: options.box ?? null, granted: true }, `${role} now holds ${privilege} on ${options.box ? `${cell}/${options.box}` : cell}`);
}

export async function revokePrivilege(context: Context, cell: string, role: string, privilege: string, options: { box?: string }): Promise<void> {
  await changeAcl(context, cell, role, privilege, options, (aces, principal) => aces
    .map((ace) => (ace.principal === principal ? { ...ace, privileges: ace.privileges.filter((name) => name !== privilege) } : ace))
    .filter((ace) => ace.privileges.length > 0));
  context.result({ cell, role, privilege, box: options.box ?? null, revoked: true }, `${role} no longer holds ${privilege} on ${options.box ? `${cell}/${options.box}` : cell}`);
}

export async function createCellWithOwner(context: Context, name: string, owner: string, options: PasswordOptions): Promise<void> {
  const password = await readPassword(options, `password for ${owner}: `);
  await context.client.request('POST', context.client.url('__ctl/Cell'), { json: { Name: name }, expect: [201] });
  const quiet: Context = { ...context, result: () => {} };
  await context.client.request('POST', context.client.cellUrl(name, '__ctl/Account'), { json: { Name: owner }, headers: { 'x-personium-credential': password }, expect: [201] });
  await createRole(quiet, name, 'owner', {});
  await grantRole(quiet, name, owner, 'owner', {});
  await grantPrivilege(quiet, name, 'owner', 'root', {});
  context.result({ Name: name, owner, role: 'owner', privilege: 'root' }, `created cell ${name}; ${owner} owns it (role owner, root): cellar login ${name} ${owner}`);
}
