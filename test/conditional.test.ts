// core/conditional.ts and core/byte-range.ts as pure functions: RFC 9110 §13 preconditions in
// their order, RFC 4918 `If:` lists, and byte ranges.
import test from 'ava';
import { parseByteRange } from '../core/byte-range.ts';
import {
  evaluateIf, evaluatePreconditions, MalformedHeaderError, parseHttpDate, parseIfHeader, rangeAllowed, submittedTokens, taggedResources,
  type ResourceState,
} from '../core/conditional.ts';

const modified = Date.parse('Tue, 01 Dec 2026 10:00:00 GMT');
const file: ResourceState = { exists: true, etag: '"v2"', lastModified: modified };
const missing: ResourceState = { exists: false };
const before = 'Tue, 01 Dec 2026 09:00:00 GMT';
const after = 'Tue, 01 Dec 2026 11:00:00 GMT';

test('If-Match passes on a matching strong tag or * on an existing resource, and fails otherwise', (t) => {
  t.is(evaluatePreconditions(file, { 'if-match': '"v2"' }, 'PUT'), 'proceed');
  t.is(evaluatePreconditions(file, { 'if-match': '"v1", "v2"' }, 'PUT'), 'proceed');
  t.is(evaluatePreconditions(file, { 'if-match': '*' }, 'DELETE'), 'proceed');
  t.is(evaluatePreconditions(file, { 'if-match': '"v1"' }, 'PUT'), 'precondition-failed');
  t.is(evaluatePreconditions(file, { 'if-match': 'W/"v2"' }, 'PUT'), 'precondition-failed', 'If-Match compares strongly');
  t.is(evaluatePreconditions(missing, { 'if-match': '*' }, 'PUT'), 'precondition-failed');
});

test('If-None-Match: * fails on an existing resource; a matching tag is 304 for GET/HEAD and 412 for others', (t) => {
  t.is(evaluatePreconditions(file, { 'if-none-match': '*' }, 'PUT'), 'precondition-failed');
  t.is(evaluatePreconditions(missing, { 'if-none-match': '*' }, 'PUT'), 'proceed');
  t.is(evaluatePreconditions(file, { 'if-none-match': 'W/"v2"' }, 'GET'), 'not-modified', 'weak comparison');
  t.is(evaluatePreconditions(file, { 'if-none-match': '"v2"' }, 'HEAD'), 'not-modified');
  t.is(evaluatePreconditions(file, { 'if-none-match': '"v2"' }, 'DELETE'), 'precondition-failed');
  t.is(evaluatePreconditions(file, { 'if-none-match': '"v1"' }, 'GET'), 'proceed');
});

test('the dates are used only where the tags are absent, and compared at one-second precision', (t) => {
  t.is(evaluatePreconditions(file, { 'if-unmodified-since': before }, 'PUT'), 'precondition-failed');
  t.is(evaluatePreconditions(file, { 'if-unmodified-since': after }, 'PUT'), 'proceed');
  t.is(evaluatePreconditions(file, { 'if-match': '"v2"', 'if-unmodified-since': before }, 'PUT'), 'proceed', 'If-Match wins');
  t.is(evaluatePreconditions(file, { 'if-modified-since': after }, 'GET'), 'not-modified');
  t.is(evaluatePreconditions({ ...file, lastModified: modified + 999 }, { 'if-modified-since': new Date(modified).toUTCString() }, 'GET'), 'not-modified');
  t.is(evaluatePreconditions(file, { 'if-modified-since': before }, 'GET'), 'proceed');
  t.is(evaluatePreconditions(file, { 'if-modified-since': after }, 'PUT'), 'proceed', 'only for GET and HEAD');
  t.is(evaluatePreconditions(file, { 'if-none-match': '"v1"', 'if-modified-since': after }, 'GET'), 'proceed', 'If-None-Match wins');
});

test('an invalid date is ignored as RFC 9110 requires; the three HTTP-date forms parse', (t) => {
  t.is(evaluatePreconditions(file, { 'if-unmodified-since': 'yesterday' }, 'PUT'), 'proceed');
  t.is(parseHttpDate('Tue, 01 Dec 2026 10:00:00 GMT'), modified);
  t.is(parseHttpDate('Tuesday, 01-Dec-26 10:00:00 GMT'), modified);
  t.is(parseHttpDate('Tue Dec  1 10:00:00 2026'), modified);
  t.is(parseHttpDate('2026-12-01T10:00:00Z'), undefined);
});

test('a malformed entity-tag list throws MalformedHeaderError naming the header', (t) => {
  for (const value of ['', 'v2', '"v2', '"a" "b"', 'W/v2', '*, "a"']) {
    const error = t.throws(() => evaluatePreconditions(file, { 'if-match': value }, 'PUT'), { instanceOf: MalformedHeaderError }, value);
    t.is(error?.header, 'If-Match');
  }
});

test('If-Range honours a strong matching tag or the exact date, and throws on anything else', (t) => {
  t.true(rangeAllowed(file, undefined));
  t.true(rangeAllowed(file, '"v2"'));
  t.false(rangeAllowed(file, '"v1"'));
  t.false(rangeAllowed(file, 'W/"v2"'));
  t.true(rangeAllowed(file, new Date(modified).toUTCString()));
  t.false(rangeAllowed(file, before));
  t.throws(() => rangeAllowed(file, 'soon'), { instanceOf: MalformedHeaderError });
});

test('If: lists parse tagged and untagged, with Not, lock tokens and entity tags', (t) => {
  t.deepEqual(parseIfHeader('(<urn:uuid:1> ["v2"]) (Not <DAV:no-lock>)'), [
    { conditions: [{ not: false, token: 'urn:uuid:1' }, { not: false, etag: '"v2"' }] },
    { conditions: [{ not: true, token: 'DAV:no-lock' }] },
  ]);
  const tagged = parseIfHeader('<http://h/c/b/a> (<opaquelocktoken:x>) </c/b/z> ([W/"e"])');
  t.deepEqual(taggedResources(tagged), ['http://h/c/b/a', '/c/b/z']);
  t.deepEqual([...submittedTokens(tagged)], ['opaquelocktoken:x']);
});

test('malformed If: headers throw: no path, bad URI, unclosed, empty, mixed, bare words', (t) => {
  for (const value of ['', '   ', '<http:> (<opaquelocktoken:x>)', '<http://[::1> (<x>)', '(<urn:x>', '()', '(<x>)', '<http://h/a>',
    '(<urn:a>) <http://h/a> (<urn:b>)', 'urn:a', '(["unclosed)', '(Not)', '(<urn:a>) junk', '([v2])']) {
    t.throws(() => parseIfHeader(value), { instanceOf: MalformedHeaderError }, JSON.stringify(value));
  }
});

test('an If header holds when one list holds; a token holds only when a lock covering the resource has it', (t) => {
  const locked: ResourceState = { ...file, lockTokens: ['urn:uuid:1'] };
  const holds = (value: string, state: ResourceState) => evaluateIf(parseIfHeader(value), () => state);
  t.true(holds('(<urn:uuid:1>)', locked));
  t.false(holds('(<urn:uuid:2>)', locked));
  t.true(holds('(<urn:uuid:2>) (<urn:uuid:1>)', locked));
  t.false(holds('(<urn:uuid:1> ["v1"])', locked));
  t.true(holds('(<urn:uuid:1> ["v2"])', locked));
  t.false(holds('(<DAV:no-lock>)', locked));
  t.true(holds('(Not <DAV:no-lock>)', file));
  t.false(holds('(Not ["v2"])', file));
  t.true(holds('(<urn:uuid:1>)', { exists: false, lockTokens: ['urn:uuid:1'] }), 'a new member of a locked collection');
});

test('byte ranges: one satisfiable range is partial, none is unsatisfiable, bad syntax and several are the whole file', (t) => {
  t.deepEqual(parseByteRange('bytes=0-0', 10), { kind: 'partial', start: 0, end: 0 });
  t.deepEqual(parseByteRange('bytes=-20', 10), { kind: 'partial', start: 0, end: 9 });
  t.deepEqual(parseByteRange('bytes=9-', 10), { kind: 'partial', start: 9, end: 9 });
  t.deepEqual(parseByteRange('bytes=20-30, 3-4', 10), { kind: 'partial', start: 3, end: 4 }, 'the one satisfiable range of two');
  t.deepEqual(parseByteRange('bytes=10-', 10), { kind: 'unsatisfiable' });
  t.deepEqual(parseByteRange('bytes=0-5', 0), { kind: 'unsatisfiable' });
  for (const value of ['bytes=5-2', 'bytes=a-b', 'bytes=-', 'chars=0-1', 'bytes=1-2,4-5', 'bytes=99999999999999999999-']) {
    t.deepEqual(parseByteRange(value, 10), { kind: 'whole' }, value);
  }
});
