import test from 'ava';
import { errorBody } from '../core/errors.ts';
import { cellarVersion } from '../core/version.ts';
import { auth, json, masterToken, startUnit, type TestUnit } from './helpers/unit.ts';

let unit: TestUnit;
test.before(async () => {
  unit = await startUnit();
  await unit.createCell('cell1');
});
test.after.always(() => unit.stop());

test('every response carries X-Personium-Version and Access-Control-Allow-Origin: *', async (t) => {
  for (const res of [await unit.inject('/__health'), await unit.inject('/__ctl/Cell'), await unit.inject('/nowhere/at/all')]) {
    t.is(res.headers['x-personium-version'], cellarVersion);
    t.is(res.headers['access-control-allow-origin'], '*');
  }
});

test('GET /__health answers without auth', async (t) => {
  const res = await unit.inject('/__health');
  t.is(res.statusCode, 200);
  t.is(json(res).status, 'ok');
});

test('an unknown URL gets 404 PR404-MC-0001 in Personium form', async (t) => {
  const res = await unit.as({ method: 'GET', url: '/__nothing' });
  t.is(res.statusCode, 404);
  t.is(res.headers['content-type'], 'application/json; charset=utf-8');
  t.deepEqual(json(res), errorBody('PR404-MC-0001'));
});

test('a method a resource does not have gets 405 PR405-MC-0001', async (t) => {
  const res = await unit.as({ method: 'PATCH', url: '/__ctl/Cell' });
  t.is(res.statusCode, 405);
  t.deepEqual(json(res), errorBody('PR405-MC-0001'));
});

test('a body over the route limit gets 413 in Personium form', async (t) => {
  const res = await unit.as({ method: 'POST', url: '/__ctl/Cell', payload: 'x'.repeat(70 * 1024) });
  t.is(res.statusCode, 413);
  t.is(json(res).code, 'PR413-DV-0001');
});

test('a joi validation failure is rendered as a Personium error', async (t) => {
  const res = await unit.inject('/__health?verbose=yes');
  t.is(res.statusCode, 400);
  t.is(json(res).code, 'PR400-OD-0001');
  t.regex(json(res).message.value, /verbose/);
});

test('an invalid X-Personium-RequestKey gets 400 PR400-EV-0002', async (t) => {
  for (const key of ['has space', 'x'.repeat(129), 'semi;colon']) {
    const res = await unit.as({ method: 'GET', url: '/__ctl/Cell', headers: { 'x-personium-requestkey': key } });
    t.is(res.statusCode, 400);
    t.deepEqual(json(res), errorBody('PR400-EV-0002', ['X-Personium-RequestKey']));
  }
});

test('the request key appears in the request log line, given or generated, and the token never does', async (t) => {
  await unit.as({ method: 'GET', url: '/__ctl/Cell', headers: { 'x-personium-requestkey': 'my-key_123' } });
  await unit.as({ method: 'GET', url: '/__ctl/Cell?generated=1' });
  const lines = unit.logs.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.msg === 'request completed');
  const given = lines.find((line) => line.requestKey === 'my-key_123');
  t.truthy(given);
  t.is(given!.statusCode, 200);
  const generated = lines.find((line) => String(line.url).includes('generated=1'));
  t.regex(String(generated!.requestKey), /^[A-Za-z0-9_-]{4}_[A-Za-z0-9_-]{22}$/);
  t.false(unit.logs.join('\n').includes(masterToken));
});

test('X-Override replaces a request header', async (t) => {
  const res = await unit.inject({ method: 'GET', url: '/__ctl/Cell', headers: { 'x-override': `Authorization: Bearer ${masterToken}` } });
  t.is(res.statusCode, 200);
});

test('X-HTTP-Method-Override turns a POST into another method, and only a POST', async (t) => {
  const propfind = await unit.as({ method: 'POST', url: '/cell1/', headers: { 'x-http-method-override': 'PROPFIND', depth: '0' } });
  t.is(propfind.statusCode, 207);
  const ignored = await unit.as({ method: 'GET', url: "/__ctl/Cell('cell1')", headers: { 'x-http-method-override': 'DELETE' } });
  t.is(ignored.statusCode, 200);
  t.is((await unit.as({ method: 'GET', url: "/__ctl/Cell('cell1')" })).statusCode, 200);
});

test('an error never leaks a stack trace or a file system path', async (t) => {
  const res = await unit.inject({ method: 'POST', url: '/__ctl/Cell', headers: auth, payload: '{"Name":' });
  t.is(res.statusCode, 400);
  t.is(json(res).code, 'PR400-CM-0004');
  t.false(res.payload.includes(unit.dataDir));
  t.false(/at .*\.ts:\d+/.test(res.payload));
});

test('every 405 names what the URL does answer in Allow (RFC 9110 §15.5.6)', async (t) => {
  await unit.createBox('cell1', 'box405');
  const refused: Array<[string, string, string]> = [
    ['PUT', '/cell1/__export', 'OPTIONS, GET, POST'],
    ['DELETE', '/cell1/__import', 'OPTIONS, GET, POST'],
    ['PUT', '/cell1/__ctl/Box', 'OPTIONS, GET, POST'],
    ['POST', "/cell1/__ctl/Box('box405')", 'OPTIONS, GET, DELETE'],
    ['DELETE', '/cell1/__ctl/Box', 'OPTIONS, GET, POST'],
    ['PATCH', "/cell1/__ctl/Box('box405')", 'OPTIONS, GET, DELETE'],
    ['PUT', '/__ctl/Cell', 'OPTIONS, GET, POST'],
    ['DELETE', '/__ctl/Cell', 'OPTIONS, GET, POST'],
    ['POST', "/__ctl/Cell('cell1')", 'OPTIONS, GET, DELETE'],
    ['PUT', '/cell1/', 'OPTIONS, PROPFIND, ACL, DELETE'],
    ['GET', '/cell1/__snapshot', 'OPTIONS, PROPFIND'],
    ['POST', '/cell1/__snapshot/x.zip', 'OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, MOVE'],
  ];
  for (const [method, url, allow] of refused) {
    const res = await unit.as({ method, url, payload: method === 'GET' ? undefined : '{}' });
    t.is(res.statusCode, 405, `${method} ${url}`);
    t.deepEqual(json(res), errorBody('PR405-MC-0001'), `${method} ${url}`);
    t.is(res.headers.allow, allow, `${method} ${url}`);
  }
});
