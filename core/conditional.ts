// Conditional requests, one implementation for every WebDAV area: RFC 9110 §13 (If-Match,
// If-None-Match, If-Modified-Since, If-Unmodified-Since, If-Range) and RFC 4918 §10.4 (`If:`
// lists of lock tokens and entity tags). Pure functions over a small resource state; the caller
// maps a `MalformedHeaderError` to 400, 'precondition-failed' to 412 and 'not-modified' to 304.

/** What the conditions are evaluated against. `lastModified` is in milliseconds. */
export interface ResourceState {
  exists: boolean;
  /** A quoted entity tag, `"..."` (or `W/"..."` for a weak one). */
  etag?: string;
  lastModified?: number;
  /** Lock tokens of the locks that cover the resource, as URIs (`urn:uuid:...`). */
  lockTokens?: readonly string[];
}

export interface ConditionalHeaders {
  'if-match'?: string;
  'if-none-match'?: string;
  'if-modified-since'?: string;
  'if-unmodified-since'?: string;
  'if-range'?: string;
}

export type Outcome = 'proceed' | 'not-modified' | 'precondition-failed';

export class MalformedHeaderError extends Error {
  constructor(readonly header: string) {
    super(`malformed ${header} header`);
  }
}

/** An entity tag as sent: weak or strong, and its opaque part with the quotes. */
interface EntityTag { weak: boolean; opaque: string }

const entityTagPattern = /^(W\/)?("[\x21\x23-\x7e\x80-\xff]*")/;

function parseEntityTag(text: string): EntityTag | undefined {
  const match = entityTagPattern.exec(text);
  if (!match || match[0].length !== text.length) return undefined;
  return { weak: match[1] !== undefined, opaque: match[2]! };
}

/** `*` or a comma-separated list of entity tags; anything else throws. */
export function parseEntityTagList(value: string, header: string): '*' | EntityTag[] {
  const trimmed = value.trim();
  if (trimmed === '*') return '*';
  const tags = trimmed.split(',').map((part) => part.trim()).filter((part) => part !== '');
  if (tags.length === 0) throw new MalformedHeaderError(header);
  return tags.map((tag) => parseEntityTag(tag) ?? (() => { throw new MalformedHeaderError(header); })());
}

function strongMatch(tag: EntityTag, etag: string | undefined): boolean {
  const current = etag === undefined ? undefined : parseEntityTag(etag);
  return current !== undefined && !tag.weak && !current.weak && tag.opaque === current.opaque;
}

function weakMatch(tag: EntityTag, etag: string | undefined): boolean {
  const current = etag === undefined ? undefined : parseEntityTag(etag);
  return current !== undefined && tag.opaque === current.opaque;
}

/** An HTTP-date in milliseconds, or undefined when it is not one (RFC 9110 says: then ignore it). */
export function parseHttpDate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  const imfFixdate = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;
  const rfc850 = /^[A-Z][a-z]+, \d{2}-[A-Z][a-z]{2}-\d{2} \d{2}:\d{2}:\d{2} GMT$/;
  const asctime = /^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/;
  if (!imfFixdate.test(trimmed) && !rfc850.test(trimmed) && !asctime.test(trimmed)) return undefined;
  const ms = Date.parse(asctime.test(trimmed) ? `${trimmed} GMT` : trimmed);
  return Number.isNaN(ms) ? undefined : ms;
}

const seconds = (ms: number) => Math.floor(ms / 1000);

/**
 * RFC 9110 §13.2.2 in its order: If-Match, else If-Unmodified-Since; If-None-Match, else
 * If-Modified-Since (GET and HEAD only). A failed If-None-Match is 304 for GET/HEAD, else 412.
 */
export function evaluatePreconditions(state: ResourceState, headers: ConditionalHeaders, method: string): Outcome {
  const isRead = method === 'GET' || method === 'HEAD';
  const ifMatch = headers['if-match'];
  if (ifMatch !== undefined) {
    const tags = parseEntityTagList(ifMatch, 'If-Match');
    const passes = state.exists && (tags === '*' || tags.some((tag) => strongMatch(tag, state.etag)));
    if (!passes) return 'precondition-failed';
  } else {
    const since = parseHttpDate(headers['if-unmodified-since']);
    if (since !== undefined && state.exists && state.lastModified !== undefined && seconds(state.lastModified) > seconds(since)) {
      return 'precondition-failed';
    }
  }
  const ifNoneMatch = headers['if-none-match'];
  if (ifNoneMatch !== undefined) {
    const tags = parseEntityTagList(ifNoneMatch, 'If-None-Match');
    const matches = state.exists && (tags === '*' || tags.some((tag) => weakMatch(tag, state.etag)));
    if (matches) return isRead ? 'not-modified' : 'precondition-failed';
  } else if (isRead) {
    const since = parseHttpDate(headers['if-modified-since']);
    if (since !== undefined && state.exists && state.lastModified !== undefined && seconds(state.lastModified) <= seconds(since)) {
      return 'not-modified';
    }
  }
  return 'proceed';
}

/** Whether a Range may be honoured under `If-Range` (absent: yes); a value neither tag nor date throws. */
export function rangeAllowed(state: ResourceState, ifRange: string | undefined): boolean {
  if (ifRange === undefined) return true;
  const trimmed = ifRange.trim();
  const tag = parseEntityTag(trimmed);
  if (tag) return strongMatch(tag, state.etag);
  const date = parseHttpDate(trimmed);
  if (date === undefined) throw new MalformedHeaderError('If-Range');
  return state.lastModified !== undefined && seconds(state.lastModified) === seconds(date);
}

/** One condition of an `If:` list: a state token (`<...>`) or an entity tag (`[...]`), maybe negated. */
export type IfCondition = { not: boolean; token: string } | { not: boolean; etag: string };

/** One list; `resource` is the tag (an absolute URI or path) or undefined for the request URI. */
export interface IfList {
  resource?: string;
  conditions: IfCondition[];
}

/**
 * Parses an RFC 4918 `If:` header: either untagged lists only or tagged lists only. A state token
 * must be an absolute URI and a resource tag an absolute URI or an absolute path; else it throws.
 */
export function parseIfHeader(value: string): IfList[] {
  const lists: IfList[] = [];
  let at = 0;
  let tagged: boolean | undefined;
  let resource: string | undefined;
  const fail = (): never => { throw new MalformedHeaderError('If'); };
  const skipSpace = () => { while (at < value.length && /[ \t]/.test(value[at]!)) at += 1; };
  const readUntil = (close: string): string => {
    const end = value.indexOf(close, at + 1);
    if (end < 0) fail();
    const text = value.slice(at + 1, end);
    at = end + 1;
    return text;
  };
  skipSpace();
  if (at >= value.length) fail();
  while (at < value.length) {
    if (value[at] === '<') {
      if (tagged === false) fail();
      tagged = true;
      resource = readUntil('>');
      if (!isResourceTag(resource)) fail();
      skipSpace();
      if (value[at] !== '(') fail();
      continue;
    }
    if (value[at] !== '(') fail();
    if (tagged === undefined) tagged = false;
    at += 1;
    const conditions: IfCondition[] = [];
    for (;;) {
      skipSpace();
      if (value[at] === ')') { at += 1; break; }
      let not = false;
      if (value.slice(at, at + 3).toLowerCase() === 'not' && /[ \t<[]/.test(value[at + 3] ?? '')) {
        not = true;
        at += 3;
        skipSpace();
      }
      if (value[at] === '<') {
        const token = readUntil('>');
        if (!/^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>]+$/.test(token)) fail();
        conditions.push({ not, token });
      } else if (value[at] === '[') {
        const etag = readUntil(']').trim();
        if (!parseEntityTag(etag)) fail();
        conditions.push({ not, etag });
      } else {
        fail();
      }
    }
    if (conditions.length === 0) fail();
    lists.push({ ...(tagged ? { resource } : {}), conditions });
    skipSpace();
  }
  return lists;
}

function isResourceTag(text: string): boolean {
  if (text.startsWith('/')) return /^\/[^\s<>]*$/.test(text);
  const match = /^(https?):\/\/([^/?#\s<>]+)(\/[^\s<>]*)?$/i.exec(text);
  if (!match) return false;
  try {
    new URL(text);
    return true;
  } catch {
    return false;
  }
}

/** The distinct resource tags of the lists, for the caller to look up before `evaluateIf`. */
export function taggedResources(lists: readonly IfList[]): string[] {
  return [...new Set(lists.flatMap((list) => (list.resource === undefined ? [] : [list.resource])))];
}

/** Every state token that appears in the header: RFC 4918 counts them all as submitted. */
export function submittedTokens(lists: readonly IfList[]): Set<string> {
  return new Set(lists.flatMap((list) => list.conditions.flatMap((condition) => ('token' in condition ? [condition.token] : []))));
}

/**
 * True when at least one list holds (every condition in it is true). `stateOf(undefined)` is the
 * request URI's state; a tag the caller could not resolve should be a non-existing resource.
 */
export function evaluateIf(lists: readonly IfList[], stateOf: (resource: string | undefined) => ResourceState): boolean {
  return lists.some((list) => {
    const state = stateOf(list.resource);
    return list.conditions.every((condition) => {
      const holds = 'token' in condition
        ? (state.lockTokens ?? []).includes(condition.token)
        : state.exists && state.etag !== undefined && weakMatch(parseEntityTag(condition.etag)!, state.etag) && strongEnough(condition.etag, state.etag);
      return condition.not ? !holds : holds;
    });
  });
}

/** `If:` entity tags use strong comparison except when both sides are weak. */
function strongEnough(given: string, current: string): boolean {
  return given.startsWith('W/') === current.startsWith('W/');
}
