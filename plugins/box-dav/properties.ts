// The properties of a box resource as multistatus XML: the live ones computed from `.pmeta` and
// the lock table, the dead ones kept in `.pmeta` `d` under their Clark name (`{namespace}local`).
import { escapeXml, httpDate, isoDate } from '../../core/dav-xml.ts';
import { clarkName, parseClarkName, type PropertyName } from './dav-body.ts';
import { etagOf, type Resource } from './box-store.ts';
import type { Lock } from './locks.ts';

export const liveNames: PropertyName[] = [
  'creationdate', 'getlastmodified', 'getetag', 'getcontentlength', 'getcontenttype', 'resourcetype', 'supportedlock', 'lockdiscovery',
].map((local) => ({ namespace: 'DAV:', local }));

const liveClark = new Set(liveNames.map(clarkName));

export function isLiveProperty(name: PropertyName): boolean {
  return liveClark.has(clarkName(name));
}

/** A property element; other namespaces are declared on the element itself. */
export function propertyElement(name: PropertyName, inner: string | undefined): string {
  const open = name.namespace === 'DAV:' ? `D:${name.local}` : name.namespace === '' ? `${name.local} xmlns=""` : `z:${name.local} xmlns:z="${escapeXml(name.namespace)}"`;
  const close = name.namespace === 'DAV:' ? `D:${name.local}` : name.namespace === '' ? name.local : `z:${name.local}`;
  return inner === undefined || inner === '' ? `<${open}/>` : `<${open}>${inner}</${close}>`;
}

const supportedLock = '<D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>'
  + '<D:lockentry><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>';

export function activeLockXml(lock: Lock, rootHref: string, now: number): string {
  const remaining = Math.max(0, Math.ceil((lock.expires - now) / 1000));
  return `<D:activelock><D:locktype><D:write/></D:locktype><D:lockscope><D:${lock.scope}/></D:lockscope>`
    + `<D:depth>${lock.depth === 0 ? '0' : 'infinity'}</D:depth>${lock.owner ? `<D:owner>${lock.owner}</D:owner>` : ''}`
    + `<D:timeout>Second-${remaining}</D:timeout><D:locktoken><D:href>${escapeXml(lock.token)}</D:href></D:locktoken>`
    + `<D:lockroot><D:href>${escapeXml(rootHref)}</D:href></D:lockroot></D:activelock>`;
}

export interface PropertyContext {
  locks: readonly Lock[];
  lockRootHref(lock: Lock): string;
  now: number;
  /** The resource's `D:acl` element, when the caller may read it and the resource has one. */
  aclOf?: (resource: Resource) => string | undefined;
}

/** The inner XML of a live property, or undefined when the resource does not have it. */
export function liveValue(resource: Resource, local: string, context: PropertyContext): string | undefined {
  const { pmeta } = resource;
  switch (local) {
    case 'creationdate': return isoDate(pmeta.p);
    case 'getlastmodified': return httpDate(pmeta.u);
    case 'getetag': return resource.isCollection ? undefined : escapeXml(etagOf(pmeta));
    case 'getcontentlength': return resource.isCollection ? undefined : String(pmeta.cl ?? 0);
    case 'getcontenttype': return resource.isCollection ? undefined : escapeXml(pmeta.ct ?? 'application/octet-stream');
    case 'resourcetype': return resource.isCollection ? '<D:collection/>' : '';
    case 'supportedlock': return supportedLock;
    case 'lockdiscovery': return context.locks.map((lock) => activeLockXml(lock, context.lockRootHref(lock), context.now)).join('');
    default: return undefined;
  }
}

/** A value in the shape the earlier WebDAV library stored (xml-js elements), as XML text. */
type LegacyNode = { type?: string; text?: unknown; name?: string; attributes?: Record<string, unknown>; elements?: LegacyNode[] };

function legacyXml(nodes: readonly LegacyNode[] | undefined): string {
  return (nodes ?? []).map((node) => {
    if (node.type === 'text' || node.type === 'cdata') return escapeXml(String(node.text ?? ''));
    if (node.type !== 'element' || !node.name || !/^[A-Za-z_][\w.:-]*$/.test(node.name)) return '';
    const attributes = Object.entries(node.attributes ?? {}).filter(([name]) => /^[A-Za-z_][\w.:-]*$/.test(name))
      .map(([name, value]) => ` ${name}="${escapeXml(String(value))}"`).join('');
    return `<${node.name}${attributes}>${legacyXml(node.elements)}</${node.name}>`;
  }).join('');
}

/**
 * The inner XML of a property as Personium keeps it: the whole element as text
 * (`<z:color xmlns:z="urn:x">red</z:color>`). Children written with the element's own prefix keep
 * it under the prefix propertyElement declares (`z`).
 */
function personiumInner(element: string): string | undefined {
  const match = /^\s*<(?:([\w.-]+):)?([\w.-]+)(?:\s[^>]*?)?(?:\/>|>([\s\S]*)<\/(?:[\w.-]+:)?\2\s*>)\s*$/.exec(element);
  if (!match) return undefined;
  const [, prefix, , inner = ''] = match;
  return prefix ? inner.replaceAll(`<${prefix}:`, '<z:').replaceAll(`</${prefix}:`, '</z:') : inner;
}

/**
 * Dead properties of a resource by Clark name, as XML values. Entries in Personium's shape
 * (`name@namespace` → the element as XML, as a Personium snapshot brings them) and in the earlier
 * library's (namespace and name joined, value as elements, split after the last `/` or `:`) are
 * read too.
 */
export function deadProperties(resource: Resource): Map<string, { name: PropertyName; value: string }> {
  const found = new Map<string, { name: PropertyName; value: string }>();
  for (const [key, value] of Object.entries(resource.pmeta.d ?? {})) {
    const clark = parseClarkName(key);
    if (clark && typeof value === 'string') {
      found.set(key, { name: clark, value });
      continue;
    }
    const personium = /^([^@{}]+)@(.*)$/.exec(key);
    const inner = personium && typeof value === 'string' ? personiumInner(value) : undefined;
    if (personium && inner !== undefined) {
      const name = { namespace: personium[2]!, local: personium[1]! };
      if (!found.has(clarkName(name))) found.set(clarkName(name), { name, value: inner });
      continue;
    }
    const split = Math.max(key.lastIndexOf('/'), key.lastIndexOf(':')) + 1;
    const legacy = value as { value?: unknown } | null;
    if (clark || split <= 0 || split >= key.length || typeof legacy !== 'object' || legacy === null) continue;
    const name = { namespace: key.slice(0, split), local: key.slice(split) };
    const xml = Array.isArray(legacy.value) ? legacyXml(legacy.value as LegacyNode[]) : escapeXml(String(legacy.value ?? ''));
    if (!found.has(clarkName(name))) found.set(clarkName(name), { name, value: xml });
  }
  return found;
}

function propstat(props: string, status: string): string {
  return props ? `<D:propstat><D:prop>${props}</D:prop><D:status>HTTP/1.1 ${status}</D:status></D:propstat>` : '';
}

export type PropfindKind = { kind: 'allprop' } | { kind: 'propname' } | { kind: 'prop'; names: PropertyName[] };

/** One `<D:response>` of a PROPFIND. */
export function responseXml(href: string, resource: Resource, request: PropfindKind, context: PropertyContext): string {
  let found = '';
  let missing = '';
  const dead = deadProperties(resource);
  if (request.kind === 'prop') {
    for (const name of request.names) {
      const acl = name.namespace === 'DAV:' && name.local === 'acl' ? context.aclOf?.(resource) : undefined;
      if (acl !== undefined) {
        found += acl;
        continue;
      }
      const live = name.namespace === 'DAV:' ? liveValue(resource, name.local, context) : undefined;
      const stored = live === undefined ? dead.get(clarkName(name)) : undefined;
      if (live !== undefined) found += propertyElement(name, live);
      else if (stored) found += propertyElement(name, stored.value);
      else missing += propertyElement(name, undefined);
    }
  } else {
    for (const name of liveNames) {
      const live = liveValue(resource, name.local, context);
      if (live !== undefined) found += propertyElement(name, request.kind === 'propname' ? undefined : live);
    }
    for (const { name, value } of dead.values()) found += propertyElement(name, request.kind === 'propname' ? undefined : value);
    const acl = context.aclOf?.(resource);
    if (acl !== undefined) found += request.kind === 'propname' ? '<D:acl/>' : acl;
  }
  return `<D:response><D:href>${escapeXml(href)}</D:href>${propstat(found, '200 OK')}${propstat(missing, '404 Not Found')}</D:response>`;
}
