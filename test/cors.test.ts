// A browser on another origin: its preflight OPTIONS carries no credentials, so every OPTIONS is
// answered 200 without them, naming the URL's methods in Allow and Access-Control-Allow-Methods;
// with Origin, the asked headers are allowed and the ones a script reads are exposed. A token
// that is sent is still checked.
import test from 'ava';
import { errorBody } from '../core/errors.ts';
import { auth, json, startUnit, type TestUnit } from './helpers/unit.ts';

let unit: TestUnit;
test.before(async () => {
  unit = await startUnit();
  await unit.createCell('cell1');
  await unit.createBox('cell1', 'box1');
  await unit.as({ method: 'PUT', url: '/cell1/__snapshot/a.zip', payload: 'x' });
});
test.after.always(() => unit.stop());

const surfaces: Array<[string, string]> = [
  ['/', 'OPTIONS'],
  ['/__nothing', ''],
  ['/__health', 'OPTIONS, GET'],
  ['/__ctl/Cell', 'OPTIONS, GET, POST'],
  ["/__ctl/Cell('cell1')", 'OPTIONS, GET, DELETE'],
  ['/cell1', 'OPTIONS, PROPFIND, ACL, DELETE'],
  ['/cell1/', 'OPTIONS, PROPFIND, ACL, DELETE'],
  ['/cell1/__ctl/Box', 'OPTIONS, GET, POST'],
  ["/cell1/__ctl/Box('box1')", 'OPTIONS, GET, DELETE'],
  ['/cell1/__export', 'OPTIONS, GET, POST'],
  ['/cell1/__import', 'OPTIONS, GET, POST'],
  ['/cell1/__snapshot', 'OPTIONS, PROPFIND'],
  ['/cell1/__snapshot/', 'OPTIONS, PROPFIND'],
  ['/cell1/__snapshot/a.zip', 'OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, MOVE'],
  ['/cell1/__snapshot/missing.zip', 'OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, MOVE'],
  ['/cell1/box1', ''],
  ['/cell1/box1/missing.txt', ''],
  ['/nocell/__export', 'OPTIONS, GET, POST'],
];

test('every OPTIONS is answered 200 without credentials, with Allow and the same Access-Control-Allow-Methods', async (t) => {
  for (const [url, allow] of surfaces) {
    const res = await unit.inject({ method: 'OPTIONS', url });
    t.is(res.statusCode, 200, url);
    t.truthy(res.headers.allow, url);
    if (allow) t.is(res.headers.allow, allow, url);
    t.is(res.headers['access-control-allow-methods'], res.headers.allow, url);
    t.is(res.headers['access-control-allow-origin'], '*', url);
    t.is(res.payload, '', url);
  }
});

test('a preflight with Origin gets the asked headers allowed and Location, ETag, X-Personium-Version, Content-Range exposed', async (t) => {
  for (const [url] of surfaces) {
    const res = await unit.inject({
      method: 'OPTIONS',
      url,
      headers: { origin: 'https://app.example', 'access-control-request-method': 'PUT', 'access-control-request-headers': 'Authorization, Content-Type, X-Personium-RequestKey' },
    });
    t.is(res.statusCode, 200, url);
    t.is(res.headers['access-control-allow-headers'], 'Authorization, Content-Type, X-Personium-RequestKey', url);
    t.is(res.headers['access-control-expose-headers'], 'Location, ETag, X-Personium-Version, Content-Range', url);
  }
  const get = await unit.as({ method: 'GET', url: '/cell1/__snapshot/a.zip', headers: { origin: 'https://app.example' } });
  t.is(get.headers['access-control-expose-headers'], 'Location, ETag, X-Personium-Version, Content-Range', 'the real request exposes them too');
  await unit.as({ method: 'PUT', url: '/cell1/box1/page.txt', payload: 'a box file' });
  const boxGet = await unit.as({ method: 'GET', url: '/cell1/box1/page.txt', headers: { origin: 'https://app.example' } });
  t.is(boxGet.payload, 'a box file');
  t.is(boxGet.headers['access-control-expose-headers'], 'Location, ETag, X-Personium-Version, Content-Range', 'a box download sent past hapi exposes them too');
});

test('an OPTIONS that sends a token has it checked: a bad one 401, the master token 200', async (t) => {
  for (const [url] of surfaces) {
    const bad = await unit.inject({ method: 'OPTIONS', url, headers: { authorization: 'Bearer not-the-token' } });
    t.is(bad.statusCode, 401, url);
    t.deepEqual(json(bad), errorBody('PR401-AU-0006'), url);
    t.is((await unit.inject({ method: 'OPTIONS', url, headers: auth })).statusCode, 200, url);
  }
});

test('an empty Authorization is an invalid scheme (PR401-AU-0003), Bearer without a token a parse error (PR401-AU-0006)', async (t) => {
  const empty = await unit.inject({ method: 'GET', url: '/cell1/__export', headers: { authorization: '' } });
  t.is(empty.statusCode, 401);
  t.deepEqual(json(empty), errorBody('PR401-AU-0003'));
  t.is(empty.headers['www-authenticate'], 'Bearer realm="http://unit.test/cell1/"');
  for (const header of ['Bearer', 'Bearer ', 'bearer   ']) {
    const bare = await unit.inject({ method: 'GET', url: '/cell1/__export', headers: { authorization: header } });
    t.is(bare.statusCode, 401, JSON.stringify(header));
    t.deepEqual(json(bare), errorBody('PR401-AU-0006'), JSON.stringify(header));
  }
  const none = await unit.inject({ method: 'GET', url: '/cell1/__export' });
  t.deepEqual(json(none), errorBody('PR401-AU-0001'));
  t.is(none.headers['www-authenticate'], 'Bearer realm="http://unit.test/cell1/"');
});

test('an empty X-Personium-RequestKey is taken as none', async (t) => {
  const res = await unit.as({ method: 'GET', url: '/cell1/__export', headers: { 'x-personium-requestkey': '' } });
  t.is(res.statusCode, 200);
});
