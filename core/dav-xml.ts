// WebDAV pieces Cellar answers itself (cell PROPFIND, the snapshot area): the Depth rules,
// the PROPFIND body, and escaping for the multistatus XML it writes.
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { personiumError } from './errors.ts';

export const personiumNamespace = 'urn:x-personium:xmlns';

/** Depth 0 or 1; missing or other → 400 PR400-DV-0003, `infinity` → 403 PR403-DV-0001. */
export function parseDepth(header: string | undefined): 0 | 1 {
  const value = header?.trim().toLowerCase();
  if (value === '0') return 0;
  if (value === '1') return 1;
  if (value === 'infinity') throw personiumError('PR403-DV-0001');
  throw personiumError('PR400-DV-0003', header ?? 'null');
}

export type PropfindRequest =
  | { kind: 'allprop' }
  | { kind: 'propname' }
  | { kind: 'prop'; names: Array<{ namespace: string; local: string }> };

const parser = new XMLParser({ ignoreAttributes: false, removeNSPrefix: false, attributeNamePrefix: '@', preserveOrder: true, processEntities: false });

export type XmlNode = Record<string, unknown>;
type Node = XmlNode;

export function elementName(node: Node): string | undefined {
  return Object.keys(node).find((key) => key !== ':@' && key !== '#text');
}

export function namespaces(node: Node, inherited: Map<string, string>): Map<string, string> {
  const attributes = (node[':@'] ?? {}) as Record<string, string>;
  let scope = inherited;
  for (const [name, value] of Object.entries(attributes)) {
    if (name === '@xmlns' || name.startsWith('@xmlns:')) {
      if (scope === inherited) scope = new Map(inherited);
      scope.set(name === '@xmlns' ? '' : name.slice('@xmlns:'.length), value);
    }
  }
  return scope;
}

export function resolveName(qualified: string, scope: Map<string, string>): { namespace: string; local: string } {
  const colon = qualified.indexOf(':');
  const prefix = colon >= 0 ? qualified.slice(0, colon) : '';
  return { namespace: scope.get(prefix) ?? '', local: colon >= 0 ? qualified.slice(colon + 1) : qualified };
}

/** Elements nested deeper than this are refused before any parser sees them (a PROPFIND needs 4). */
export const maxXmlDepth = 64;

/**
 * Refuses what a PROPFIND never needs and a parser may choke on: a DOCTYPE (entity expansion)
 * and deep nesting (the validator recurses). One pass over the text, counting open elements.
 */
function checkXmlShape(body: string): void {
  if (/<!DOCTYPE/i.test(body)) throw personiumError('PR400-DV-0001');
  let depth = 0;
  for (let at = body.indexOf('<'); at !== -1; at = body.indexOf('<', at + 1)) {
    const next = body[at + 1];
    if (next === '/') depth -= 1;
    else if (next !== '?' && next !== '!') {
      const end = body.indexOf('>', at);
      if (end === -1 || body[end - 1] !== '/') depth += 1;
      if (depth > maxXmlDepth) throw personiumError('PR400-DV-0001');
    }
  }
}

/** The one root element of a well-formed body, with its namespace scope; else 400 PR400-DV-0001. */
export function parseXmlRoot(body: string): { root: Node; name: string; scope: Map<string, string> } {
  checkXmlShape(body);
  let parsed: Node[];
  try {
    if (XMLValidator.validate(body) !== true) throw new Error('not well-formed');
    parsed = parser.parse(body) as Node[];
  } catch {
    throw personiumError('PR400-DV-0001');
  }
  const roots = parsed.filter((node) => {
    const name = elementName(node);
    return name !== undefined && !name.startsWith('?');
  });
  const root = roots[0];
  if (roots.length !== 1 || !root) throw personiumError('PR400-DV-0001');
  return { root, name: elementName(root)!, scope: namespaces(root, new Map()) };
}

/** An empty body is allprop; anything else must be a well-formed DAV:propfind, else 400 PR400-DV-0001. */
export function parsePropfind(body: string): PropfindRequest {
  if (body.trim() === '') return { kind: 'allprop' };
  const { root, scope: rootScope } = parseXmlRoot(body);
  const rootName = resolveName(elementName(root)!, rootScope);
  if (rootName.namespace !== 'DAV:' || rootName.local !== 'propfind') throw personiumError('PR400-DV-0001');
  for (const child of (root[elementName(root)!] as Node[]) ?? []) {
    const name = elementName(child);
    if (!name) continue;
    const scope = namespaces(child, rootScope);
    const resolved = resolveName(name, scope);
    if (resolved.namespace !== 'DAV:') continue;
    if (resolved.local === 'allprop') return { kind: 'allprop' };
    if (resolved.local === 'propname') return { kind: 'propname' };
    if (resolved.local === 'prop') {
      const names = ((child[name] as Node[]) ?? [])
        .map((prop) => {
          const propName = elementName(prop);
          return propName ? resolveName(propName, namespaces(prop, scope)) : undefined;
        })
        .filter((prop): prop is { namespace: string; local: string } => prop !== undefined);
      return { kind: 'prop', names };
    }
  }
  throw personiumError('PR400-DV-0001');
}

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** RFC 3986 path segment encoding: everything but unreserved characters and a few sub-delims. */
export function encodeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

export function isoDate(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * Reads a small request body (a PROPFIND's) with a limit, as text. Past the limit (a chunked body
 * has no Content-Length for hapi to refuse) reading stops and the 413 closes the connection, so
 * the answer goes out without waiting for the rest of the body.
 */
export function readSmallBody(stream: NodeJS.ReadableStream | undefined, limit = 1024 * 1024): Promise<string> {
  if (!stream) return Promise.resolve('');
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      stream.removeListener('data', onData);
      stream.removeListener('end', onEnd);
      stream.removeListener('error', onError);
    };
    const onData = (chunk: Buffer | string) => {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      size += buffer.length;
      if (size <= limit) {
        chunks.push(buffer);
        return;
      }
      stop();
      stream.pause();
      const error = personiumError('PR413-DV-0001', limit);
      error.output.headers.Connection = 'close';
      reject(error);
    };
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const onError = (error: Error) => {
      stop();
      reject(error);
    };
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onError);
  });
}
