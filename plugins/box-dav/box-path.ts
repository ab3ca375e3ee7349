// The one path model of box content: a request path (or a Destination, or an `If:` tag) is
// decoded and checked once, from the raw request line, never from a normalised URL (which would
// turn `/docs/..`, `/.` or `/%2e` into the box root). Dot segments, empty segments, separators and
// NUL are refused, so no alias of the root or of a parent ever reaches the store.
import { encodeSegment } from '../../core/dav-xml.ts';
import { personiumError } from '../../core/errors.ts';

export interface BoxPath {
  /** Decoded segments below the box; empty for the box root. */
  segments: string[];
  /** The request path ended in `/`. */
  trailingSlash: boolean;
}

export function isRoot(path: BoxPath): boolean {
  return path.segments.length === 0;
}

/** Names the storage layout uses for itself (`.pmeta`, temporaries). */
export function isReservedResourceName(name: string): boolean {
  return name === '.pmeta' || name.startsWith('.content.tmp-') || /^\.pmeta\..*\.tmp$/.test(name);
}

export function pathKey(segments: readonly string[]): string {
  return `/${segments.join('/')}`;
}

/** The path part of a request target or URI: `http://host/a?b` → `/a`. */
export function rawPathOf(target: string): string {
  const withoutQuery = target.split('?')[0]!.split('#')[0]!;
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/]*/.exec(withoutQuery);
  if (!scheme) return withoutQuery;
  return withoutQuery.slice(scheme[0].length) || '/';
}

function decodeSegment(raw: string, whole: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    throw personiumError('PR400-DV-0010', whole);
  }
  if (decoded === '.' || decoded === '..' || /[/\\\0]/.test(decoded) || Buffer.byteLength(decoded) > 255) {
    throw personiumError('PR400-DV-0008', decoded.replace(/[\0-\x1f]/g, '?'));
  }
  if (isReservedResourceName(decoded)) throw personiumError('PR403-DV-0002', decoded);
  return decoded;
}

/**
 * The box path of a raw absolute path, or undefined when it is not under `/{cell}/{box}`.
 * A malformed or aliasing path inside the box throws (400, or 403 for reserved names).
 */
export function boxPathOf(rawPath: string, cellName: string, boxName: string): BoxPath | undefined {
  if (!rawPath.startsWith('/')) return undefined;
  const raw = rawPath.slice(1).split('/');
  const decodeHead = (segment: string | undefined) => {
    try {
      return segment === undefined ? undefined : decodeURIComponent(segment);
    } catch {
      return undefined;
    }
  };
  if (decodeHead(raw[0]) !== cellName || decodeHead(raw[1]) !== boxName) return undefined;
  const rest = raw.slice(2);
  const trailingSlash = rest.length > 0 && rest[rest.length - 1] === '';
  if (trailingSlash) rest.pop();
  if (rest.some((segment) => segment === '')) throw personiumError('PR400-DV-0010', rawPath);
  return { segments: rest.map((segment) => decodeSegment(segment, rawPath)), trailingSlash };
}

/**
 * The href of a resource: path only, every segment percent-encoded, `/` after a collection.
 * `cellPath` is the cell URL's path without its last `/`: `/cell1`, or `` for a cell on a host of its own.
 */
export function hrefOf(cellPath: string, boxName: string, segments: readonly string[], isCollection: boolean): string {
  const parts = [boxName, ...segments].map(encodeSegment).join('/');
  return `${cellPath}/${parts}${isCollection ? '/' : ''}`;
}
