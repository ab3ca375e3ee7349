// Every route a cell's owner uses × every kind of credential: the exact status and code. The
// owner's account holds a role the cell ACL grants root; a second account holds a role granted
// only `log-read`; tokens come from __token as a client would get them.
import test from 'ava';
import { errorBody, type ErrorCode } from '../core/errors.ts';
import { addAccountWithRole, bearer, login, type Login } from './helpers/identity.ts';
import { json, startUnit, type TestUnit } from './helpers/unit.ts';

let unit: TestUnit;
const tokens: Record<string, string> = {};
let cookie: Login;

test.before(async () => {
  unit = await startUnit();
  await unit.createCell('cell1');
  await unit.createCell('cell2');
  await unit.createBox('cell1', 'box1');
  await addAccountWithRole(unit, 'cell1', 'owner', 'owners', ['root']);
  await addAccountWithRole(unit, 'cell1', 'reader', 'logs', ['log-read']);
  await addAccountWithRole(unit, 'cell2', 'owner', 'owners', ['root']);
  await unit.as({ method: 'PUT', url: '/cell1/__snapshot/seed.zip', payload: 'zip bytes' });
  await unit.as({ method: 'PUT', url: '/cell1/box1/file.txt', payload: 'hello' });
  const owner = await login(unit, 'cell1', 'owner');
  tokens.owner = owner.access_token;
  tokens.refresh = owner.refresh_token;
  tokens.otherCell = (await login(unit, 'cell2', 'owner')).access_token;
  tokens.lacksRole = (await login(unit, 'cell1', 'reader')).access_token;
  tokens.lacksScope = (await login(unit, 'cell1', 'owner', undefined, { scope: 'log-read' })).access_token;
  tokens.expired = (await login(unit, 'cell1', 'owner', undefined, { expires_in: '1' })).access_token;
  cookie = await login(unit, 'cell1', 'owner', undefined, { p_cookie: 'true' });
  await new Promise((resolve) => setTimeout(resolve, 1100));
});
test.after.always(() => unit.stop());

interface Row {
  name: string;
  method: string;
  url: (caseName: string) => string;
  headers?: Record<string, string>;
  payload?: string;
  /** What the owner gets. */
  ok: number;
  /** A box resource: the token's scope is not checked there (Personium's rule). */
  box?: boolean;
  unit?: boolean;
}

const rows: Row[] = [
  { name: 'GET __export', method: 'GET', url: () => '/cell1/__export', ok: 200 },
  { name: 'GET __import', method: 'GET', url: () => '/cell1/__import', ok: 200 },
  { name: 'POST __import (no such snapshot)', method: 'POST', url: () => '/cell1/__import', payload: '{"Name":"missing"}', ok: 404 },
  { name: 'PROPFIND __snapshot', method: 'PROPFIND', url: () => '/cell1/__snapshot/', headers: { depth: '1' }, ok: 207 },
  { name: 'GET a snapshot file', method: 'GET', url: () => '/cell1/__snapshot/seed.zip', ok: 200 },
  { name: 'PUT a snapshot file', method: 'PUT', url: (c) => `/cell1/__snapshot/${c}.zip`, payload: 'z', ok: 201 },
  { name: 'PROPFIND the cell', method: 'PROPFIND', url: () => '/cell1/', headers: { depth: '0' }, ok: 207 },
  { name: 'GET __ctl/Box', method: 'GET', url: () => '/cell1/__ctl/Box', ok: 200 },
  { name: 'GET __ctl/Account', method: 'GET', url: () => '/cell1/__ctl/Account', ok: 200 },
  { name: 'GET a box file', method: 'GET', url: () => '/cell1/box1/file.txt', ok: 200, box: true },
  { name: 'PUT a box file', method: 'PUT', url: (c) => `/cell1/box1/${c}.txt`, payload: 'new', ok: 201, box: true },
  { name: 'GET /__ctl/Cell (unit level)', method: 'GET', url: () => '/__ctl/Cell', ok: 401, unit: true },
  { name: 'POST __export', method: 'POST', url: () => '/cell1/__export', payload: '{"Name":"by-cookie"}', ok: 202 },
];

type Outcome = { status: number; code?: ErrorCode; scope?: string };

const cases: Array<{ name: string; headers: () => Record<string, string>; query?: () => string; expect: (row: Row) => Outcome }> = [
  { name: 'no-credentials', headers: () => ({}), expect: () => ({ status: 401, code: 'PR401-AU-0001' }) },
  { name: 'wrong-token', headers: () => bearer('AR~not-a-token'), expect: () => ({ status: 401, code: 'PR401-AU-0006' }) },
  { name: 'other-cell-token', headers: () => bearer(tokens.otherCell!), expect: () => ({ status: 401, code: 'PR401-AU-0006' }) },
  { name: 'expired-token', headers: () => bearer(tokens.expired!), expect: () => ({ status: 401, code: 'PR401-AU-0002' }) },
  { name: 'refresh-as-access', headers: () => bearer(tokens.refresh!), expect: () => ({ status: 401, code: 'PR401-AU-0007' }) },
  { name: 'roles-lack-it', headers: () => bearer(tokens.lacksRole!), expect: (row) => (row.unit ? { status: 401, code: 'PR401-AU-0006' } : { status: 403, code: 'PR403-AU-0002' }) },
  {
    name: 'scope-lacks-it', headers: () => bearer(tokens.lacksScope!),
    expect: (row) => (row.unit ? { status: 401, code: 'PR401-AU-0006' } : row.box ? { status: row.ok } : { status: 403, code: 'PR403-AU-0007' }),
  },
  { name: 'cookie-without-peer', headers: () => ({ cookie: cookie.cookie! }), expect: () => ({ status: 401, code: 'PR401-AU-0001' }) },
  { name: 'peer-without-cookie', headers: () => ({}), query: () => `p_cookie_peer=${cookie.p_cookie_peer}`, expect: () => ({ status: 401, code: 'PR401-AU-0009' }) },
  {
    name: 'good-cookie', headers: () => ({ cookie: cookie.cookie! }), query: () => `p_cookie_peer=${cookie.p_cookie_peer}`,
    expect: (row) => (row.unit ? { status: 401, code: 'PR401-AU-0006' } : { status: row.ok }),
  },
];

for (const row of rows) {
  test.serial(`${row.name}: each kind of credential gets its exact status and code`, async (t) => {
    for (const kind of cases) {
      const query = kind.query ? `?${kind.query()}` : '';
      const res = await unit.inject({ method: row.method, url: `${row.url(kind.name)}${query}`, headers: { ...row.headers, ...kind.headers() }, ...(row.payload ? { payload: row.payload } : {}) });
      const expected = kind.expect(row);
      t.is(res.statusCode, expected.status, `${kind.name}: ${res.payload.slice(0, 200)}`);
      if (expected.code) {
        const params = expected.code === 'PR403-AU-0007' ? [privilegeOf(row)] : [];
        t.deepEqual(json(res), errorBody(expected.code, params), kind.name);
        if (expected.status === 401) t.is(res.headers['www-authenticate'], `Bearer realm="http://unit.test/${row.unit ? '' : 'cell1/'}"`, kind.name);
      }
    }
  });
}

function privilegeOf(row: Row): string {
  if (row.name.includes('PROPFIND the cell')) return 'propfind';
  if (row.name.includes('Box')) return 'box-read';
  if (row.name.includes('Account')) return 'auth-read';
  return 'root';
}

test.serial('the owner\'s export started with the cookie finishes as a zip in the snapshot area', async (t) => {
  for (let tries = 0; tries < 100; tries++) {
    const status = json((await unit.inject({ url: '/cell1/__export', headers: bearer(tokens.owner!) })));
    if (status.status === 'ready') break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const res = await unit.inject({ url: '/cell1/__snapshot/by-cookie.zip', headers: bearer(tokens.owner!) });
  t.is(res.statusCode, 200);
  t.is(res.rawPayload.subarray(0, 2).toString('latin1'), 'PK');
});
