// POST {CellURL}__token: the password and refresh grants, the one failure body, the one-second
// interval lock, lifetimes and scopes, the p_cookie cookie, and the unit secret behind tokens.
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { addAccountWithRole, bearer, login, ownerPassword } from './helpers/identity.ts';
import { json, startUnit, type TestUnit } from './helpers/unit.ts';

let unit: TestUnit;
test.before(async () => {
  unit = await startUnit();
  await unit.createCell('cell1');
  await unit.createCell('cell2');
  await addAccountWithRole(unit, 'cell1', 'me', 'owners', ['root']);
  await addAccountWithRole(unit, 'cell2', 'me', 'owners', ['root']);
});
test.after.always(() => unit.stop());

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const token = (cell: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
  unit.inject({ method: 'POST', url: `/${cell}/__token`, headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, payload: form(fields) });
const failure = (code: string, message: string, error = 'invalid_grant') => ({ error, error_description: `[${code}] - ${message}` });
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test.serial('a password login answers Personium\'s keys: AR~ and RR~ tokens, lifetimes, scope root, last login and failures', async (t) => {
  const first = await token('cell1', { grant_type: 'password', username: 'me', password: ownerPassword });
  t.is(first.statusCode, 200);
  t.regex(String(first.headers['content-type']), /^application\/json/);
  const body = json(first);
  t.deepEqual(Object.keys(body).sort(), ['access_token', 'expires_in', 'failed_count', 'last_authenticated', 'refresh_token', 'refresh_token_expires_in', 'scope', 'token_type']);
  t.regex(body.access_token, /^AR~[A-Za-z0-9_-]+$/);
  t.regex(body.refresh_token, /^RR~[A-Za-z0-9_-]+$/);
  t.like(body, { token_type: 'Bearer', expires_in: 3600, refresh_token_expires_in: 86400, scope: 'root', last_authenticated: null, failed_count: 0 });
  t.is((await unit.inject({ url: '/cell1/__export', headers: bearer(body.access_token) })).statusCode, 200);
  const before = Date.now();
  t.is((await token('cell1', { grant_type: 'password', username: 'me', password: 'wrong-pass-1' })).statusCode, 400);
  await pause(1100);
  const second = json(await token('cell1', { grant_type: 'password', username: 'me', password: ownerPassword }));
  t.is(second.failed_count, 1, 'the failure since the last login is reported');
  t.true(second.last_authenticated <= before && second.last_authenticated > before - 60_000, 'the previous login time, in ms');
});

test.serial('every failed login gets the same invalid_grant body, whether the account exists or not', async (t) => {
  await pause(1100);
  const wrong = await token('cell1', { grant_type: 'password', username: 'me', password: 'wrong-pass-1' });
  const nobody = await token('cell1', { grant_type: 'password', username: 'nobody', password: 'wrong-pass-1' });
  for (const res of [wrong, nobody]) {
    t.is(res.statusCode, 400);
    t.deepEqual(json(res), failure('PR400-AN-0017', 'Authentication failed.'));
    t.is(res.headers['www-authenticate'], undefined);
  }
});

test.serial('after a failure the right password is refused for one second, then accepted', async (t) => {
  await pause(1100);
  t.is((await token('cell1', { grant_type: 'password', username: 'me', password: 'wrong-pass-1' })).statusCode, 400);
  const locked = await token('cell1', { grant_type: 'password', username: 'me', password: ownerPassword });
  t.deepEqual([locked.statusCode, json(locked)], [400, failure('PR400-AN-0017', 'Authentication failed.')]);
  await pause(1100);
  t.is((await token('cell1', { grant_type: 'password', username: 'me', password: ownerPassword })).statusCode, 200);
});

test.serial('a deactivated account cannot log in', async (t) => {
  await unit.as({ method: 'POST', url: '/cell1/__ctl/Account', headers: { 'x-personium-credential': 'sleepy-pass-1' }, payload: { Name: 'sleepy', Status: 'deactivated' } });
  const res = await token('cell1', { grant_type: 'password', username: 'sleepy', password: 'sleepy-pass-1' });
  t.deepEqual([res.statusCode, json(res).error_description], [400, '[PR400-AN-0017] - Authentication failed.']);
});

test.serial('bad requests get their own codes: no grant, an unknown grant, a missing field, lifetimes out of range, an Authorization header', async (t) => {
  const cases: Array<[Record<string, string>, Record<string, string>, ReturnType<typeof failure>]> = [
    [{}, {}, failure('PR400-AN-0016', 'Required parameter [grant_type] missing.', 'invalid_request')],
    [{ grant_type: 'client_credentials' }, {}, failure('PR400-AN-0001', 'Unsupported grant type. [client_credentials]', 'unsupported_grant_type')],
    [{ grant_type: 'password', password: 'x' }, {}, failure('PR400-AN-0016', 'Required parameter [username] missing.', 'invalid_request')],
    [{ grant_type: 'password', username: 'me' }, {}, failure('PR400-AN-0016', 'Required parameter [password] missing.', 'invalid_request')],
    [{ grant_type: 'password', username: 'me', password: ownerPassword, expires_in: '3601' }, {}, failure('PR400-AN-0016', 'Required parameter [expires_in] missing.', 'invalid_request')],
    [{ grant_type: 'password', username: 'me', password: ownerPassword, expires_in: '0' }, {}, failure('PR400-AN-0016', 'Required parameter [expires_in] missing.', 'invalid_request')],
    [{ grant_type: 'password', username: 'me', password: ownerPassword, refresh_token_expires_in: '86401' }, {}, failure('PR400-AN-0016', 'Required parameter [refresh_token_expires_in] missing.', 'invalid_request')],
    [{ grant_type: 'password', username: 'me', password: ownerPassword }, { authorization: `Bearer ${unit.config.masterToken}` }, failure('PR400-AN-0018', 'Authorization header is invalid.', 'invalid_client')],
  ];
  for (const [fields, headers, expected] of cases) {
    const res = await token('cell1', fields, headers);
    t.deepEqual([res.statusCode, json(res)], [400, expected], JSON.stringify(fields));
  }
});

test.serial('lifetimes and scopes are honoured: a 1-second token expires, a scope narrows the token', async (t) => {
  await pause(1100);
  const short = await login(unit, 'cell1', 'me', ownerPassword, { expires_in: '1', scope: 'auth-read unknown-thing' });
  t.is(short.expires_in, 1);
  t.is(short.scope, 'auth-read', 'names that are no cell privilege are dropped');
  t.is((await unit.inject({ url: '/cell1/__ctl/Account', headers: bearer(short.access_token) })).statusCode, 200);
  t.is((await unit.inject({ url: '/cell1/__export', headers: bearer(short.access_token) })).statusCode, 403);
  await pause(1100);
  t.is(json(await unit.inject({ url: '/cell1/__ctl/Account', headers: bearer(short.access_token) })).code, 'PR401-AU-0002');
});

test.serial('the refresh grant gives new tokens with the same scope; an access token, another cell\'s or an expired refresh token is refused', async (t) => {
  await pause(1100);
  const first = await login(unit, 'cell1', 'me', ownerPassword, { scope: 'auth-read', refresh_token_expires_in: '2' });
  const refreshed = await token('cell1', { grant_type: 'refresh_token', refresh_token: first.refresh_token });
  t.is(refreshed.statusCode, 200);
  const body = json(refreshed);
  t.like(body, { token_type: 'Bearer', scope: 'auth-read', expires_in: 3600 });
  t.false('last_authenticated' in body);
  t.not(body.refresh_token, first.refresh_token);
  t.is((await unit.inject({ url: '/cell1/__ctl/Account', headers: bearer(body.access_token) })).statusCode, 200);
  const cases: Array<[string, ReturnType<typeof failure>]> = [
    ['', failure('PR400-AN-0009', 'Token parse error.')],
    ['RR~garbage', failure('PR400-AN-0009', 'Token parse error.')],
    [first.access_token, failure('PR400-AN-0013', 'Not a refresh token.')],
    [(await login(unit, 'cell2', 'me')).refresh_token, failure('PR400-AN-0009', 'Token parse error.')],
  ];
  for (const [refreshToken, expected] of cases) {
    const res = await token('cell1', { grant_type: 'refresh_token', refresh_token: refreshToken });
    t.deepEqual([res.statusCode, json(res)], [400, expected], refreshToken.slice(0, 10));
  }
  await pause(2100);
  const expired = await token('cell1', { grant_type: 'refresh_token', refresh_token: first.refresh_token });
  t.deepEqual([expired.statusCode, json(expired)], [400, failure('PR400-AN-0010', 'Token expired or invalid.')]);
});

test.serial('p_cookie=true returns a peer and an HttpOnly, SameSite=Lax cookie scoped to the cell\'s path; the cookie alone opens nothing', async (t) => {
  await pause(1100);
  const res = await token('cell1', { grant_type: 'password', username: 'me', password: ownerPassword, p_cookie: 'true' });
  const peer = json(res).p_cookie_peer;
  t.regex(peer, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const cookie = String(res.headers['set-cookie']);
  t.regex(cookie, /^p_cookie=[A-Za-z0-9_-]+; Path=\/cell1\/; HttpOnly; SameSite=Lax$/);
  const value = cookie.split(';')[0]!;
  t.is((await unit.inject({ url: `/cell1/__export?p_cookie_peer=${peer}`, headers: { cookie: value } })).statusCode, 200);
  t.is(json(await unit.inject({ url: '/cell1/__export?p_cookie_peer=another-peer', headers: { cookie: value } })).code, 'PR401-AU-0009');
  const withoutCookieFlag = json(await token('cell1', { grant_type: 'refresh_token', refresh_token: json(res).refresh_token }));
  t.false('p_cookie_peer' in withoutCookieFlag);
});

test('on an https unit the cookie is Secure', async (t) => {
  const secure = await startUnit({ unitUrl: 'https://unit.test/' });
  t.teardown(() => secure.stop());
  await secure.createCell('cell1');
  await addAccountWithRole(secure, 'cell1', 'me', 'owners', ['root']);
  const res = await secure.inject({ method: 'POST', url: '/cell1/__token', payload: form({ grant_type: 'password', username: 'me', password: ownerPassword, p_cookie: 'true' }) });
  t.regex(String(res.headers['set-cookie']), /; HttpOnly; SameSite=Lax; Secure$/);
});

test('the token endpoint stays open while the cell is import failed, and the token opens its import status', async (t) => {
  const other = await startUnit();
  t.teardown(() => other.stop());
  await other.createCell('cell1');
  await addAccountWithRole(other, 'cell1', 'me', 'owners', ['root']);
  await other.server.cellar.status.accept(other.server.cellar.store.findCell('cell1')!.id, 'import', 'x', new Date());
  await other.server.cellar.status.importFailed(other.server.cellar.store.findCell('cell1')!.id, { code: 'PR400-SN-0006', message: { lang: 'en', value: 'broken' } });
  const logged = await login(other, 'cell1', 'me');
  const status = await other.inject({ url: '/cell1/__import', headers: bearer(logged.access_token) });
  t.is(status.statusCode, 200);
  t.is(json(status).status, 'import failed');
  t.is((await other.inject({ url: '/cell1/__ctl/Box', headers: bearer(logged.access_token) })).statusCode, 409);
});

test('the unit secret is made once with mode 0600 and tokens survive a restart of the unit', async (t) => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'cellar-token-key-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const first = await startUnit({}, { dataDir });
  await first.createCell('cell1');
  await addAccountWithRole(first, 'cell1', 'me', 'owners', ['root']);
  const logged = await login(first, 'cell1', 'me');
  const file = path.join(first.dataDir, 'token-key');
  t.is((await stat(file)).mode & 0o777, 0o600);
  const secret = await readFile(file, 'utf8');
  await first.stop();
  const second = await startUnit({}, { dataDir: first.dataDir });
  t.teardown(() => second.stop());
  t.is(await readFile(file, 'utf8'), secret);
  t.is((await second.inject({ url: '/cell1/__export', headers: bearer(logged.access_token) })).statusCode, 200);
});
