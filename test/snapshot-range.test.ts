// Range on snapshot files as RFC 9110 §14 has it: a well-formed range that misses the file is
// 416 in Personium's shape; a malformed or invalid one is ignored and the whole file sent. And
// REPORT, a method Personium knows but does not implement on the area: 501.
import test from 'ava';
import { errorBody } from '../core/errors.ts';
import { json, startUnit, type TestUnit } from './helpers/unit.ts';

let unit: TestUnit;
test.before(async () => {
  unit = await startUnit();
  await unit.createCell('cell1');
  await unit.as({ method: 'PUT', url: '/cell1/__snapshot/a.zip', payload: '0123456789' });
});
test.after.always(() => unit.stop());

const get = (range: string) => unit.as({ method: 'GET', url: '/cell1/__snapshot/a.zip', headers: { range } });

test('a malformed or invalid Range is ignored: 200 with the whole file', async (t) => {
  for (const range of ['bytes=abc', 'bytes=5-2', 'bytes=-', 'items=0-1', 'bytes', '=0-1', 'bytes=1-2-3', 'bytes=0-0,2-3']) {
    const res = await get(range);
    t.is(res.statusCode, 200, range);
    t.is(res.payload, '0123456789', range);
    t.is(res.headers['content-range'], undefined, range);
  }
});

test('a well-formed Range is served (206) or, when it misses the file, refused with 416 PR416-DV-0001 and the length', async (t) => {
  const served: Array<[string, string, string]> = [['bytes=2-4', 'bytes 2-4/10', '234'], ['bytes=7-', 'bytes 7-9/10', '789'], ['bytes=-3', 'bytes 7-9/10', '789'], ['bytes=8-100', 'bytes 8-9/10', '89']];
  for (const [range, contentRange, body] of served) {
    const res = await get(range);
    t.is(res.statusCode, 206, range);
    t.is(res.headers['content-range'], contentRange, range);
    t.is(res.payload, body, range);
  }
  for (const range of ['bytes=10-', 'bytes=20-30', 'bytes=-0']) {
    const res = await get(range);
    t.is(res.statusCode, 416, range);
    t.deepEqual(json(res), errorBody('PR416-DV-0001'), range);
    t.is(res.headers['content-range'], 'bytes */10', range);
  }
});

test('REPORT on the area or a file is 501 PR501-MC-0001', async (t) => {
  for (const url of ['/cell1/__snapshot', '/cell1/__snapshot/', '/cell1/__snapshot/a.zip']) {
    const res = await unit.as({ method: 'REPORT', url, payload: '<D:version-tree xmlns:D="DAV:"/>' });
    t.is(res.statusCode, 501, url);
    t.deepEqual(json(res), errorBody('PR501-MC-0001'), url);
  }
});

test('conditional requests on snapshot files follow RFC 9110 §13 (the shared core/conditional.ts)', async (t) => {
  await unit.as({ method: 'PUT', url: '/cell1/__snapshot/keep.zip', payload: 'original' });
  const refused = await unit.as({ method: 'PUT', url: '/cell1/__snapshot/keep.zip', payload: 'overwritten', headers: { 'if-none-match': '*' } });
  t.is(refused.statusCode, 412, "a don't-overwrite upload never replaces a snapshot");
  t.deepEqual(json(refused), errorBody('PR412-DV-0001'));
  t.is((await unit.as({ method: 'GET', url: '/cell1/__snapshot/keep.zip' })).payload, 'original');
  t.is((await unit.as({ method: 'PUT', url: '/cell1/__snapshot/fresh.zip', payload: 'new', headers: { 'if-none-match': '*' } })).statusCode, 201);
  const past = new Date(Date.now() - 3_600_000).toUTCString();
  t.is((await unit.as({ method: 'DELETE', url: '/cell1/__snapshot/keep.zip', headers: { 'if-unmodified-since': past } })).statusCode, 412);
  const future = new Date(Date.now() + 3_600_000).toUTCString();
  t.is((await unit.as({ method: 'GET', url: '/cell1/__snapshot/keep.zip', headers: { 'if-modified-since': future } })).statusCode, 304);
  const malformed = await unit.as({ method: 'PUT', url: '/cell1/__snapshot/keep.zip', payload: 'x', headers: { 'if-match': 'not-an-etag' } });
  t.is(malformed.statusCode, 400);
  t.deepEqual(json(malformed), errorBody('PR400-EV-0002', ['If-Match']));
  const { etag } = (await unit.as({ method: 'HEAD', url: '/cell1/__snapshot/keep.zip' })).headers;
  const stale = await unit.as({ method: 'GET', url: '/cell1/__snapshot/keep.zip', headers: { range: 'bytes=0-1', 'if-range': '"stale"' } });
  t.is(stale.statusCode, 200, 'If-Range with another ETag gets the whole file');
  const fresh = await unit.as({ method: 'GET', url: '/cell1/__snapshot/keep.zip', headers: { range: 'bytes=0-1', 'if-range': String(etag) } });
  t.is(fresh.statusCode, 206);
  t.is(fresh.payload, 'or');
});
