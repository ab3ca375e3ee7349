// WebDAV ACLs as Personium keeps them: the request body of the ACL method (RFC 3744 `D:acl`,
// principals relative to `xml:base` `{CellURL}__role/{box|__}/`), the JSON in a `.pmeta` `a`
// (role ids as hrefs, one privilege as an object, several as an array) and the `D:acl` a
// PROPFIND shows. Roles are named by id inside, so renaming a role keeps its grants.
import { elementName, escapeXml, namespaces, parseXmlRoot, resolveName, type XmlNode } from './dav-xml.ts';
import { personiumError } from './errors.ts';
import { includes, isBoxPrivilege, isCellPrivilege, personiumNamespaceUri, privilegeNamespace, privilegeOf, type Privilege } from './privileges.ts';

export type Principal = { role: string } | 'all';

export interface Ace {
  principal: Principal;
  /** Names as stored; unknown ones (from a snapshot) are kept and grant nothing. */
  grant: string[];
}

export interface Acl {
  requireSchemaAuthz?: string;
  aces: Ace[];
}

export const emptyAcl: Acl = { aces: [] };

const schemaLevels = new Set(['none', 'public', 'confidential']);

function asArray(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

/** The ACL in a `.pmeta` `a` (Personium's JSON; its older `@requireSchemaAuthz` key too). */
export function aclFromPmeta(stored: unknown): Acl {
  if (typeof stored !== 'object' || stored === null) return { aces: [] };
  const record = stored as Record<string, unknown>;
  const level = record['@p.requireSchemaAuthz'] ?? record['@requireSchemaAuthz'];
  const aces: Ace[] = [];
  for (const raw of asArray(record['D.ace'])) {
    if (typeof raw !== 'object' || raw === null) continue;
    const ace = raw as Record<string, unknown>;
    const principal = (ace['D.principal'] ?? {}) as Record<string, unknown>;
    const href = principal['D.href'];
    const who: Principal | undefined = typeof href === 'string' ? { role: href } : 'D.all' in principal ? 'all' : undefined;
    if (!who) continue;
    const grant = asArray(((ace['D.grant'] ?? {}) as Record<string, unknown>)['D.privilege'])
      .flatMap((privilege) => (typeof privilege === 'object' && privilege !== null ? Object.keys(privilege) : []))
      .map((key) => key.replace(/^(?:D|p)\./, ''));
    aces.push({ principal: who, grant });
  }
  return { ...(typeof level === 'string' ? { requireSchemaAuthz: level } : {}), aces };
}

export function aclToPmeta(acl: Acl): Record<string, unknown> {
  const aces = acl.aces.map((ace) => {
    const privileges = ace.grant.map((name) => ({ [`${isCellPrivilege(name) || privilegeNamespace(name as Privilege) !== 'DAV:' ? 'p' : 'D'}.${name}`]: null }));
    return {
      'D.principal': ace.principal === 'all' ? { 'D.all': '' } : { 'D.href': ace.principal.role },
      'D.grant': { 'D.privilege': privileges.length === 1 ? privileges[0] : privileges },
    };
  });
  return { ...(acl.requireSchemaAuthz ? { '@p.requireSchemaAuthz': acl.requireSchemaAuthz } : {}), 'D.ace': aces };
}

/** Does `acl` give `required` to a caller holding `roles` (or to everybody, through `all`)? */
export function aclGrants(acl: Acl, roles: ReadonlySet<string>, required: Privilege): boolean {
  return acl.aces.some((ace) => {
    if (ace.principal !== 'all' && !roles.has(ace.principal.role)) return false;
    return ace.grant.some((name) => (isCellPrivilege(name) || isBoxPrivilege(name)) && includes(name, required));
  });
}

/** Turns a principal href (already resolved to a URL) into a role id, or throws the ACL's 400. */
export type PrincipalResolver = (url: URL) => string;

function children(node: XmlNode): XmlNode[] {
  const name = elementName(node);
  return name ? ((node[name] as XmlNode[] | undefined) ?? []) : [];
}

function elementsOf(node: XmlNode, scope: Map<string, string>): Array<{ node: XmlNode; scope: Map<string, string>; namespace: string; local: string }> {
  return children(node).flatMap((child) => {
    const name = elementName(child);
    if (!name) return [];
    const childScope = namespaces(child, scope);
    return [{ node: child, scope: childScope, ...resolveName(name, childScope) }];
  });
}

function textOf(node: XmlNode): string {
  return children(node).map((child) => (typeof child['#text'] === 'string' || typeof child['#text'] === 'number' ? String(child['#text']) : '')).join('').trim();
}

function invalid(cause: string): never {
  throw personiumError('PR400-DV-0006', cause);
}

/**
 * The body of an ACL request. `boxLevel` allows box privileges only; the cell level takes both.
 * Unparsable XML 400 PR400-DV-0002; a shape or privilege Personium refuses 400 PR400-DV-0006.
 */
export function parseAclBody(body: string, boxLevel: boolean, resolvePrincipal: PrincipalResolver): Acl {
  let parsed: ReturnType<typeof parseXmlRoot>;
  try {
    parsed = parseXmlRoot(body);
  } catch {
    throw personiumError('PR400-DV-0002');
  }
  const { root, name, scope } = parsed;
  const rootName = resolveName(name, scope);
  if (rootName.namespace !== 'DAV:' || rootName.local !== 'acl') invalid('the root element must be DAV:acl');
  const attributes = (root[':@'] ?? {}) as Record<string, string>;
  let base: string | undefined;
  let requireSchemaAuthz: string | undefined;
  for (const [attribute, value] of Object.entries(attributes)) {
    const qualified = resolveName(attribute.slice(1), scope);
    if (attribute === '@xml:base') base = value;
    else if (qualified.namespace === personiumNamespaceUri && qualified.local === 'requireSchemaAuthz') {
      if (!schemaLevels.has(value)) invalid(`requireSchemaAuthz [${value}]`);
      requireSchemaAuthz = value;
    }
  }
  const aces: Ace[] = [];
  for (const ace of elementsOf(root, scope)) {
    if (ace.namespace !== 'DAV:' || ace.local !== 'ace') invalid(`unexpected element ${ace.local}`);
    let principal: Principal | undefined;
    const grant: string[] = [];
    for (const part of elementsOf(ace.node, ace.scope)) {
      if (part.namespace !== 'DAV:') invalid(`unexpected element ${part.local}`);
      if (part.local === 'principal') principal = parsePrincipal(part.node, part.scope, base, resolvePrincipal);
      else if (part.local === 'grant') grant.push(...parseGrant(part.node, part.scope, boxLevel));
      else if (part.local === 'deny' || part.local === 'invert' || part.local === 'protected') invalid(`${part.local} is not supported`);
      else if (part.local !== 'inherited') invalid(`unexpected element ${part.local}`);
    }
    if (!principal) invalid('an ace needs a principal');
    if (grant.length === 0) invalid('an ace needs a grant with a privilege');
    aces.push({ principal, grant });
  }
  return { ...(requireSchemaAuthz ? { requireSchemaAuthz } : {}), aces };
}

function parsePrincipal(node: XmlNode, scope: Map<string, string>, base: string | undefined, resolvePrincipal: PrincipalResolver): Principal {
  const [only] = elementsOf(node, scope);
  if (!only || only.namespace !== 'DAV:') invalid('a principal is an href or all');
  if (only.local === 'all') return 'all';
  if (only.local !== 'href') invalid('a principal is an href or all');
  const href = textOf(only.node);
  if (href === '') invalid('an empty principal href');
  let url: URL;
  try {
    url = base === undefined ? new URL(href) : new URL(href, base);
  } catch {
    throw personiumError('PR400-DV-0004');
  }
  return { role: resolvePrincipal(url) };
}

function parseGrant(node: XmlNode, scope: Map<string, string>, boxLevel: boolean): string[] {
  const names: string[] = [];
  for (const privilege of elementsOf(node, scope)) {
    if (privilege.namespace !== 'DAV:' || privilege.local !== 'privilege') invalid(`unexpected element ${privilege.local}`);
    for (const named of elementsOf(privilege.node, privilege.scope)) {
      const known = privilegeOf(named.namespace, named.local);
      if (!known || (boxLevel && !isBoxPrivilege(known))) invalid(`unknown privilege ${named.local}`);
      names.push(known);
    }
  }
  return names;
}

/** The `D:acl` element of a PROPFIND, principals relative to `base` (`hrefOf` makes them so). */
export function renderAcl(acl: Acl, base: string, hrefOf: (roleId: string) => string | undefined): string {
  const aces = acl.aces.flatMap((ace) => {
    const href = ace.principal === 'all' ? undefined : hrefOf(ace.principal.role);
    if (ace.principal !== 'all' && href === undefined) return [];
    const principal = ace.principal === 'all' ? '<D:all/>' : `<D:href>${escapeXml(href!)}</D:href>`;
    const privileges = ace.grant
      .filter((name) => isCellPrivilege(name) || isBoxPrivilege(name))
      .map((name) => `<D:privilege>${privilegeNamespace(name as Privilege) === 'DAV:' ? `<D:${name}/>` : `<p:${name}/>`}</D:privilege>`)
      .join('');
    return [`<D:ace><D:principal>${principal}</D:principal><D:grant>${privileges}</D:grant></D:ace>`];
  });
  const schema = acl.requireSchemaAuthz ? ` p:requireSchemaAuthz="${escapeXml(acl.requireSchemaAuthz)}"` : '';
  return `<D:acl xml:base="${escapeXml(base)}"${schema}>${aces.join('')}</D:acl>`;
}
