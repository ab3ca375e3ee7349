// The owner's path over real HTTP: the admin makes a cell with an owner; the owner logs in,
// exports, downloads the zip, uploads it into another cell of theirs, imports it, and logs in
// there with the password of the first cell. And a snapshot as Personium writes it, with an
// account hashed by Personium's scrypt format, imports and its password logs in.
import test from 'ava';
import { addAccountWithRole, ownerPassword } from './helpers/identity.ts';
import { personiumSnapshot } from './helpers/personium-snapshot.ts';
import { startUnit, type TestUnit } from './helpers/unit.ts';

async function http(unit: TestUnit, method: string, path: string, init: { token?: string; body?: string | Buffer; headers?: Record<string, string> } = {}) {
  return fetch(`${unit.url}${path}`, {
    method,
    headers: { ...(init.token ? { authorization: `Bearer ${init.token}` } : {}), ...init.headers },
    ...(init.body === undefined ? {} : { body: init.body }),
  });
}

async function loginOver(unit: TestUnit, cell: string, username: string, password: string) {
  const res = await http(unit, 'POST', `/${cell}/__token`, { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'password', username, password }).toString() });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

async function untilReady(unit: TestUnit, cell: string, job: string, token: string): Promise<Record<string, any>> {
  for (let i = 0; i < 400; i++) {
    const status = (await (await http(unit, 'GET', `/${cell}/${job}`, { token })).json()) as Record<string, any>;
    if (!String(status.status).includes('in progress')) return status;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${job} did not end`);
}

test('the owner exports with a login, imports into another cell, and logs in there with the same password', async (t) => {
  const unit = await startUnit();
  t.teardown(() => unit.stop());
  await unit.listen();
  await unit.createCell('home');
  await unit.createBox('home', 'photos');
  await unit.as({ method: 'PUT', url: '/home/photos/cat.txt', payload: 'a cat' });
  await addAccountWithRole(unit, 'home', 'me', 'owner', ['root']);
  await unit.as({ method: 'MKCOL', url: '/home/photos/public' });
  await unit.as({ method: 'PUT', url: '/home/photos/public/dog.txt', payload: 'a dog' });
  const publicAcl = '<D:acl xmlns:D="DAV:" xml:base="http://unit.test/home/__role/photos/"><D:ace><D:principal><D:all/></D:principal><D:grant><D:privilege><D:read/></D:privilege></D:grant></D:ace></D:acl>';
  t.is((await unit.as({ method: 'ACL', url: '/home/photos/public', payload: publicAcl })).statusCode, 200);
  await unit.createCell('away');
  await addAccountWithRole(unit, 'away', 'me', 'owner', ['root'], 'away-pass-1');
  await addAccountWithRole(unit, 'away', 'visitor', 'visitors', ['root'], 'visitor-pass-1');

  const home = await loginOver(unit, 'home', 'me', ownerPassword);
  t.is(home.status, 200);
  const token = home.body.access_token as string;
  t.is((await http(unit, 'POST', '/home/__export', { token, body: '{"Name":"mine"}' })).status, 202);
  t.is((await untilReady(unit, 'home', '__export', token)).status, 'ready');
  const listing = await http(unit, 'PROPFIND', '/home/__snapshot/', { token, headers: { depth: '1' } });
  t.is(listing.status, 207);
  t.true((await listing.text()).includes('mine.zip'));
  const zip = Buffer.from(await (await http(unit, 'GET', '/home/__snapshot/mine.zip', { token })).arrayBuffer());
  t.is(zip.subarray(0, 2).toString('latin1'), 'PK');

  const away = (await loginOver(unit, 'away', 'me', 'away-pass-1')).body.access_token as string;
  const visitor = (await loginOver(unit, 'away', 'visitor', 'visitor-pass-1')).body.access_token as string;
  t.is((await http(unit, 'PUT', '/away/__snapshot/mine.zip', { token: away, body: zip, headers: { 'content-type': 'application/zip' } })).status, 201);
  t.is((await http(unit, 'POST', '/away/__import', { token: away, body: '{"Name":"mine"}' })).status, 202);
  t.is((await untilReady(unit, 'away', '__import', away)).status, 'ready', 'the token issued before the import works after it: its account exists');

  const after = await loginOver(unit, 'away', 'me', ownerPassword);
  t.is(after.status, 200, 'the password of the exported cell logs in to the imported one');
  t.is((await loginOver(unit, 'away', 'me', 'away-pass-1')).status, 400, 'the old password of the target cell is gone with its accounts');
  const cat = await http(unit, 'GET', '/away/photos/cat.txt', { token: after.body.access_token });
  t.is(cat.status, 200, 'the imported ACL grants the owner the same as before');
  t.is(await cat.text(), 'a cat');
  t.is((await http(unit, 'GET', '/away/photos/public/dog.txt')).status, 200, 'the box ACL making a collection public came along');
  t.is((await http(unit, 'GET', '/away/photos/cat.txt')).status, 401, 'and nothing else is public');
  const gone = await http(unit, 'GET', '/away/__export', { token: visitor });
  t.is(gone.status, 401, 'a token whose account the import removed opens nothing');
  t.is(((await gone.json()) as { code: string }).code, 'PR401-AU-0001');
});

test('a Personium snapshot\'s account, hashed in Personium\'s scrypt format, imports and its password logs in with root through the imported ACL', async (t) => {
  const unit = await startUnit();
  t.teardown(() => unit.stop());
  await unit.listen();
  const fixture = personiumSnapshot();
  t.regex(fixture.accountHash, /^\$e0801\$[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}$/);
  await unit.createCell('pcell');
  await unit.as({ method: 'PUT', url: '/pcell/__snapshot/p.zip', payload: fixture.zip, headers: { 'content-type': 'application/zip' } });
  t.is((await unit.as({ method: 'POST', url: '/pcell/__import', payload: { Name: 'p' } })).statusCode, 202);
  for (let i = 0; i < 400 && (await unit.as({ method: 'GET', url: '/pcell/__import' })).payload.includes('in progress'); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  const wrong = await loginOver(unit, 'pcell', 'me', 'not-the-password');
  t.is(wrong.status, 400);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const logged = await loginOver(unit, 'pcell', 'me', fixture.password);
  t.is(logged.status, 200);
  t.is((await http(unit, 'GET', '/pcell/__export', { token: logged.body.access_token })).status, 200, 'the cell ACL of the snapshot grants the owner role root');
  const acl = await (await http(unit, 'PROPFIND', '/pcell/', { token: logged.body.access_token, headers: { depth: '0' } })).text();
  t.true(acl.includes('<D:href>owner</D:href>'), 'PROPFIND names the role the imported ACL grants');
});
