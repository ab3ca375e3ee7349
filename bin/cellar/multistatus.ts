// Reads a PROPFIND Depth 1 answer of the snapshot area into one entry per file. Namespace
// prefixes are dropped (the area answers in DAV: and Personium's namespace only).
import { XMLParser } from 'fast-xml-parser';

export interface SnapshotFile {
  name: string;
  size: number;
  contentType?: string;
  lastModified?: string;
  created?: string;
  etag?: string;
}

const parser = new XMLParser({
  removeNSPrefix: true,
  ignoreAttributes: true,
  parseTagValue: false,
  processEntities: true,
  isArray: (name) => name === 'response' || name === 'propstat',
});

interface Propstat { status?: string; prop?: Record<string, unknown> }
interface ResponseNode { href?: string; propstat?: Propstat[] }

export function parseSnapshotListing(xml: string): SnapshotFile[] {
  const document = parser.parse(xml) as { multistatus?: { response?: ResponseNode[] } };
  const responses = document.multistatus?.response;
  if (!responses) throw new Error('the answer to PROPFIND is not a WebDAV multistatus');
  const files: SnapshotFile[] = [];
  for (const response of responses) {
    const props = foundProps(response);
    if (props.resourcetype && typeof props.resourcetype === 'object' && 'collection' in props.resourcetype) continue;
    const name = lastSegment(String(response.href ?? ''));
    if (!name) continue;
    files.push({
      name,
      size: Number(text(props.getcontentlength) ?? 0),
      contentType: text(props.getcontenttype),
      lastModified: text(props.getlastmodified),
      created: text(props.creationdate),
      etag: text(props.getetag),
    });
  }
  return files.sort((a, b) => a.name.localeCompare(b.name));
}

/** The properties of the `200` propstats (a 404 propstat lists what the file does not have). */
function foundProps(response: ResponseNode): Record<string, unknown> {
  const props: Record<string, unknown> = {};
  for (const propstat of response.propstat ?? []) {
    if (propstat.status && !/\s2\d\d\s/.test(` ${propstat.status} `)) continue;
    Object.assign(props, propstat.prop ?? {});
  }
  return props;
}

function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return undefined;
}

function lastSegment(href: string): string {
  const path = href.startsWith('http') ? new URL(href).pathname : href;
  const segments = path.split('/').filter(Boolean);
  const last = segments.at(-1) ?? '';
  return last === '__snapshot' ? '' : decodeURIComponent(last);
}
