// The multistatus XML of the snapshot area: which properties each entry has, and how a
// PROPFIND's allprop / propname / prop selects among them (unknown ones come back 404).
import { escapeXml, httpDate, isoDate, personiumNamespace, type PropfindRequest } from '../core/dav-xml.ts';
import type { SnapshotEntry } from '../core/snapshot-store.ts';

type Property = { namespace: string; local: string; xml: string };

const dav = 'DAV:';

export const opening = `<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:" xmlns:p="${personiumNamespace}">`;
export const closing = '</D:multistatus>';

function davProperty(local: string, value: string): Property {
  return { namespace: dav, local, xml: value === '' ? `<D:${local}/>` : `<D:${local}>${value}</D:${local}>` };
}

function emptyElement(namespace: string, local: string): string {
  if (namespace === dav) return `<D:${local}/>`;
  if (namespace === personiumNamespace) return `<p:${local}/>`;
  return `<X:${escapeXml(local)} xmlns:X="${escapeXml(namespace)}"/>`;
}

function propstat(props: string, status: string): string {
  return `<D:propstat><D:prop>${props}</D:prop><D:status>HTTP/1.1 ${status}</D:status></D:propstat>`;
}

function response(href: string, properties: Property[], wanted: PropfindRequest): string {
  let body: string;
  if (wanted.kind === 'allprop') {
    body = propstat(properties.map((property) => property.xml).join(''), '200 OK');
  } else if (wanted.kind === 'propname') {
    body = propstat(properties.map((property) => emptyElement(property.namespace, property.local)).join(''), '200 OK');
  } else {
    const found: string[] = [];
    const missing: string[] = [];
    for (const name of wanted.names) {
      const property = properties.find((candidate) => candidate.namespace === name.namespace && candidate.local === name.local);
      if (property) found.push(property.xml);
      else missing.push(emptyElement(name.namespace, name.local));
    }
    body = (found.length ? propstat(found.join(''), '200 OK') : '') + (missing.length ? propstat(missing.join(''), '404 Not Found') : '');
  }
  return `<D:response><D:href>${escapeXml(href)}</D:href>${body}</D:response>`;
}

/** The area itself; `acl` is the cell ACL's `D:acl` element, for callers who may read it. */
export function rootResponse(href: string, root: { createdMs: number; modifiedMs: number; cellStatus: string; acl?: string }, wanted: PropfindRequest): string {
  return response(href, [
    davProperty('resourcetype', '<D:collection/>'),
    davProperty('creationdate', isoDate(root.createdMs)),
    davProperty('getlastmodified', httpDate(root.modifiedMs)),
    { namespace: personiumNamespace, local: 'cellstatus', xml: `<p:cellstatus>${escapeXml(root.cellStatus)}</p:cellstatus>` },
    ...(root.acl === undefined ? [] : [{ namespace: 'DAV:', local: 'acl', xml: root.acl }]),
  ], wanted);
}

export function fileResponse(href: string, entry: SnapshotEntry, wanted: PropfindRequest): string {
  // The common case (a listing with no body) as one template: this runs once per file.
  if (wanted.kind === 'allprop') {
    return `<D:response><D:href>${escapeXml(href)}</D:href><D:propstat><D:prop><D:resourcetype/>` +
      `<D:getcontentlength>${entry.size}</D:getcontentlength><D:getcontenttype>${escapeXml(entry.contentType)}</D:getcontenttype>` +
      `<D:getlastmodified>${httpDate(entry.modifiedMs)}</D:getlastmodified><D:creationdate>${isoDate(entry.createdMs)}</D:creationdate>` +
      `<D:getetag>${escapeXml(entry.etag)}</D:getetag></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>`;
  }
  return response(href, [
    davProperty('resourcetype', ''),
    davProperty('getcontentlength', String(entry.size)),
    davProperty('getcontenttype', escapeXml(entry.contentType)),
    davProperty('getlastmodified', httpDate(entry.modifiedMs)),
    davProperty('creationdate', isoDate(entry.createdMs)),
    davProperty('getetag', escapeXml(entry.etag)),
  ], wanted);
}
