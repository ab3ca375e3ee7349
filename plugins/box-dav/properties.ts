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

/** Dead properties of a resource: name and XML value (values in other shapes are skipped). */
export function deadProperties(resource: Resource): Array<{ name: PropertyName; value: string }> {
  const found: Array<{ name: PropertyName; value: string }> = [];
  for (const [key, value] of Object.entries(resource.pmeta.d ?? {})) {
    const name = parseClarkName(key);
    if (name && typeof value === 'string') found.push({ name, value });
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
  if (request.kind === 'prop') {
    for (const name of request.names) {
      const live = name.namespace === 'DAV:' ? liveValue(resource, name.local, context) : undefined;
      const dead = live === undefined ? resource.pmeta.d?.[clarkName(name)] : undefined;
      if (live !== undefined) found += propertyElement(name, live);
      else if (typeof dead === 'string') found += propertyElement(name, dead);
      else missing += propertyElement(name, undefined);
    }
  } else {
    for (const name of liveNames) {
      const live = liveValue(resource, name.local, context);
      if (live !== undefined) found += propertyElement(name, request.kind === 'propname' ? undefined : live);
    }
    for (const { name, value } of deadProperties(resource)) found += propertyElement(name, request.kind === 'propname' ? undefined : value);
  }
  return `<D:response><D:href>${escapeXml(href)}</D:href>${propstat(found, '200 OK')}${propstat(missing, '404 Not Found')}</D:response>`;
}
