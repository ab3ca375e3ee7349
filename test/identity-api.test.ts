// The Account, Role and $links APIs of a cell, and the cell ACL: shapes, what is on disk, and
// every error Personium answers with.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { errorBody } from '../core/errors.ts';
import { aclBody, grant, login } from './helpers/identity.ts';
import { json, startUnit, type TestUnit } from './helpers/unit.ts';

let unit: TestUnit;
test.before(async () => {
  unit = await startUnit();
  await unit.createCell('cell1');
  await unit.createBox('cell1', 'box1');
});
test.after.always(() => unit.stop());

const base = 'http://unit.test/cell1/__ctl/';
const createAccount = (name: string, password?: string, body: Record<string, unknown> = {}) =>
  unit.as({ method: 'POST', url: '/cell1/__ctl/Account', headers: password === undefined ? {} : { 'x-personium-credential': password }, payload: { Name: name, ...body } });

async function odataOnDisk() {
  const { contents, store } = unit.server.cellar;
  return JSON.parse(await readFile(path.join(contents.contentDir(store.findCell('cell1')!), 'odata.json'), 'utf8'));
}

test.serial('POST __ctl/Account answers 201 with Location, ETag and the entity, and keeps only an scrypt hash of the password', async (t) => {
  const res = await createAccount('alice', 'alice-pass-1');
  t.is(res.statusCode, 201);
  t.is(res.headers.location, `${base}Account('alice')`);
  t.regex(String(res.headers.etag), /^W\/"1-\d+"$/);
  t.is(res.headers.dataserviceversion, '2.0');
  const entity = json(res).d.results;
  t.like(entity, { Name: 'alice', Status: 'active', Type: 'basic', IPAddressRange: null, Cell: null, __metadata: { uri: `${base}Account('alice')`, type: 'CellCtl.Account' } });
  t.false('h' in entity || 'HashedCredential' in entity);
  const stored = (await odataOnDisk()).accounts.find((account: { Name: string }) => account.Name === 'alice');
  const [, params, salt, key] = stored.h.HashedCredential.split('$');
  t.is(params, 'e0801');
  t.is(Buffer.from(salt, 'base64').length, 64);
  t.is(Buffer.from(key, 'base64').length, 32);
  t.like(stored.h, { HashAlgorithm: 'scrypt', HashAttributes: '{"keyLength":32}' });
  t.false(JSON.stringify(await odataOnDisk()).includes('alice-pass-1'));
});

test.serial('account names, bodies and passwords that break Personium\'s rules get its codes, and a duplicate 409', async (t) => {
  for (const name of ['', '_x', '-x', 'a/b', 'x'.repeat(129), 'あ']) {
    const res = await createAccount(name, 'good-pass-1');
    t.is(res.statusCode, 400, name);
    t.deepEqual(json(res), errorBody('PR400-OD-0006', ['Name']), name);
  }
  t.is((await createAccount('x'.repeat(128), 'good-pass-1')).statusCode, 201, '128 characters are allowed');
  t.is((await createAccount('sign.!$*=^`{|}~@-_', 'good-pass-1')).statusCode, 201, 'signs after the first character are allowed');
  for (const password of ['', 'short', 'pass%word', 'あいうえおかき', 'x'.repeat(33)]) {
    const res = await createAccount('bob', password);
    t.deepEqual([res.statusCode, json(res)], [400, errorBody('PR400-AU-0001')], password);
  }
  for (const [field, body] of [['Status', { Status: 'sleeping' }], ['Type', { Type: 'oidc:google' }], ['IPAddressRange', { IPAddressRange: '300.1.1.1' }], ['__published', { __published: 1 }]] as const) {
    const res = await createAccount('bob', 'good-pass-1', body);
    t.deepEqual([res.statusCode, json(res)], [400, errorBody('PR400-OD-0006', [field])], field);
  }
  const broken = await unit.as({ method: 'POST', url: '/cell1/__ctl/Account', payload: '{"Name":' });
  t.deepEqual([broken.statusCode, json(broken).code], [400, 'PR400-OD-0001']);
  const duplicate = await createAccount('alice', 'other-pass-1');
  t.deepEqual([duplicate.statusCode, json(duplicate)], [409, errorBody('PR409-OD-0003')]);
  t.is((await createAccount('nopass')).statusCode, 201, 'an account may have no password');
});

test.serial('GET lists accounts with $top and $skip and reads one by either key form; an unknown one is 404', async (t) => {
  const list = json(await unit.as({ method: 'GET', url: '/cell1/__ctl/Account?$top=2&$skip=0' })).d.results;
  t.is(list.length, 2);
  t.deepEqual(list[0]._Role, { __deferred: { uri: `${base}Account('alice')/_Role` } });
  for (const key of ["('alice')", "(Name='alice')"]) {
    const one = await unit.as({ method: 'GET', url: `/cell1/__ctl/Account${encodeURIComponent(key)}` });
    t.is(json(one).d.results.Name, 'alice', key);
  }
  const missing = await unit.as({ method: 'GET', url: "/cell1/__ctl/Account('nobody')" });
  t.deepEqual([missing.statusCode, json(missing)], [404, errorBody('PR404-OD-0002')]);
});

test.serial('PUT replaces an account, may rename it and change its password; a stale If-Match is 412', async (t) => {
  await createAccount('carol', 'carol-pass-1');
  const stale = await unit.as({ method: 'PUT', url: "/cell1/__ctl/Account('carol')", headers: { 'if-match': 'W/"1-1"' }, payload: { Name: 'carol' } });
  t.deepEqual([stale.statusCode, json(stale)], [412, errorBody('PR412-OD-0002')]);
  const put = await unit.as({ method: 'PUT', url: "/cell1/__ctl/Account('carol')", headers: { 'x-personium-credential': 'carol-pass-2' }, payload: { Name: 'carol2' } });
  t.is(put.statusCode, 204);
  t.is((await unit.as({ method: 'GET', url: "/cell1/__ctl/Account('carol')" })).statusCode, 404);
  t.truthy((await login(unit, 'cell1', 'carol2', 'carol-pass-2')).access_token);
  const taken = await unit.as({ method: 'PUT', url: "/cell1/__ctl/Account('carol2')", payload: { Name: 'alice' } });
  t.is(taken.statusCode, 409);
});

test.serial('roles are created unbound or bound to a box, found by their compound key, and an unknown box is 400 PR400-OD-0024', async (t) => {
  const unbound = await unit.as({ method: 'POST', url: '/cell1/__ctl/Role', payload: { Name: 'editors' } });
  t.is(unbound.statusCode, 201);
  t.is(unbound.headers.location, `${base}Role(Name='editors',_Box.Name=null)`);
  const bound = await unit.as({ method: 'POST', url: '/cell1/__ctl/Role', payload: { Name: 'editors', '_Box.Name': 'box1' } });
  t.is(bound.statusCode, 201, 'the same name may exist once per box');
  t.is(json(bound).d.results['_Box.Name'], 'box1');
  t.is((await unit.as({ method: 'POST', url: '/cell1/__ctl/Role', payload: { Name: 'editors' } })).statusCode, 409);
  const noBox = await unit.as({ method: 'POST', url: '/cell1/__ctl/Role', payload: { Name: 'x', '_Box.Name': 'nobox' } });
  t.deepEqual([noBox.statusCode, json(noBox)], [400, errorBody('PR400-OD-0024', ['nobox'])]);
  const badName = await unit.as({ method: 'POST', url: '/cell1/__ctl/Role', payload: { Name: 'a.b' } });
  t.deepEqual([badName.statusCode, json(badName)], [400, errorBody('PR400-OD-0006', ['Name'])]);
  t.is(json(await unit.as({ method: 'GET', url: "/cell1/__ctl/Role('editors')" })).d.results['_Box.Name'], null, "Role('r') is the unbound one");
  t.is(json(await unit.as({ method: 'GET', url: `/cell1/__ctl/Role${encodeURIComponent("(Name='editors',_Box.Name='box1')")}` })).d.results['_Box.Name'], 'box1');
  t.is(json(await unit.as({ method: 'GET', url: '/cell1/__ctl/Role' })).d.results.length, 2);
});

test.serial('$links: link, list, refuse duplicates and bad uris, unlink; deleting the role or the account removes its links', async (t) => {
  const links = "/cell1/__ctl/Account('alice')/$links/_Role";
  const link = (uri: unknown) => unit.as({ method: 'POST', url: links, payload: { uri } });
  t.is((await link(`${base}Role('editors')`)).statusCode, 204);
  t.is((await link("Role(Name='editors',_Box.Name='box1')")).statusCode, 204, 'a uri relative to __ctl/ works');
  const again = await link(`${base}Role('editors')`);
  t.deepEqual([again.statusCode, json(again)], [409, errorBody('PR409-OD-0002')]);
  for (const uri of ['', null, `${base}Box('box1')`, `${base}Role`, 'http://elsewhere.test/__ctl/Role(\'editors\')']) {
    const res = await link(uri);
    t.deepEqual([res.statusCode, json(res)], [400, errorBody('PR400-OD-0006', ['uri'])], String(uri));
  }
  const unknown = await link(`${base}Role('nobody')`);
  t.is(unknown.statusCode, 400);
  t.is(json(unknown).code, 'PR400-OD-0024');
  t.is((await unit.as({ method: 'POST', url: "/cell1/__ctl/Account('nobody')/$links/_Role", payload: { uri: `${base}Role('editors')` } })).statusCode, 404);
  const withKey = await unit.as({ method: 'POST', url: `${links}('editors')`, payload: { uri: `${base}Role('editors')` } });
  t.deepEqual([withKey.statusCode, json(withKey)], [400, errorBody('PR400-OD-0010')]);
  t.deepEqual(json(await unit.as({ method: 'GET', url: links })).d.results.map((one: { uri: string }) => one.uri).sort(), [
    `${base}Role(Name='editors',_Box.Name='box1')`, `${base}Role(Name='editors',_Box.Name=null)`,
  ]);
  t.is((await unit.as({ method: 'PUT', url: `${links}('editors')`, payload: {} })).statusCode, 501);
  const noKey = await unit.as({ method: 'DELETE', url: links });
  t.deepEqual([noKey.statusCode, json(noKey)], [400, errorBody('PR400-OD-0011')]);
  t.is((await unit.as({ method: 'DELETE', url: `${links}('editors')` })).statusCode, 204);
  t.is((await unit.as({ method: 'DELETE', url: `${links}('editors')` })).statusCode, 404);
  t.is((await unit.as({ method: 'DELETE', url: `/cell1/__ctl/Role${encodeURIComponent("(Name='editors',_Box.Name='box1')")}` })).statusCode, 204);
  t.deepEqual(json(await unit.as({ method: 'GET', url: links })).d.results, [], 'the deleted role took its link along');
  await link(`${base}Role('editors')`);
  t.is((await unit.as({ method: 'DELETE', url: "/cell1/__ctl/Account('alice')" })).statusCode, 204);
  t.deepEqual((await odataOnDisk()).links, [], 'the deleted account took its link along');
});

test.serial('ACL on the cell stores role ids in the cell .pmeta and PROPFIND shows them relative to __role/__/', async (t) => {
  await grant(unit, 'cell1', [['editors', ['root']], ['all', ['propfind']]]);
  const { contents, store } = unit.server.cellar;
  const cell = store.findCell('cell1')!;
  const pmeta = JSON.parse(await readFile(path.join(contents.davRoot(cell), '.pmeta'), 'utf8'));
  const roleId = (await odataOnDisk()).roles.find((role: { Name: string }) => role.Name === 'editors')._id;
  t.deepEqual(pmeta.a['D.ace'], [
    { 'D.principal': { 'D.href': roleId }, 'D.grant': { 'D.privilege': { 'p.root': null } } },
    { 'D.principal': { 'D.all': '' }, 'D.grant': { 'D.privilege': { 'p.propfind': null } } },
  ]);
  const res = await unit.as({ method: 'PROPFIND', url: '/cell1/', headers: { depth: '0' } });
  t.true(res.payload.includes('<D:acl xml:base="http://unit.test/cell1/__role/__/"><D:ace><D:principal><D:href>editors</D:href></D:principal><D:grant><D:privilege><p:root/></D:privilege></D:grant></D:ace><D:ace><D:principal><D:all/></D:principal><D:grant><D:privilege><p:propfind/></D:privilege></D:grant></D:ace></D:acl>'), res.payload);
});

test.serial('the snapshot area\'s PROPFIND shows the cell ACL too', async (t) => {
  const res = await unit.as({ method: 'PROPFIND', url: '/cell1/__snapshot/', headers: { depth: '0' } });
  t.is(res.statusCode, 207);
  t.true(res.payload.includes('<D:acl xml:base="http://unit.test/cell1/__role/__/"><D:ace><D:principal><D:href>editors</D:href></D:principal>'), res.payload);
});

test.serial('an ACL naming an unknown role, box or cell, an unknown privilege or broken XML gets 400 and changes nothing', async (t) => {
  const before = (await unit.as({ method: 'PROPFIND', url: '/cell1/', headers: { depth: '0' } })).payload;
  const cellUrl = 'http://unit.test/cell1/';
  const cases: Array<[string, string, ReturnType<typeof errorBody>]> = [
    ['unknown role', aclBody(cellUrl, [['nobody', ['root']]]), errorBody('PR400-DV-0004')],
    ['unknown box', aclBody(cellUrl, [['../nobox/editors', ['root']]]), errorBody('PR400-DV-0005', [`${cellUrl}__role/nobox/`])],
    ['another cell', aclBody('http://unit.test/cell2/', [['editors', ['root']]]), errorBody('PR400-DV-0004')],
    ['unknown privilege', aclBody(cellUrl, [['editors', ['box-export']]]), errorBody('PR400-DV-0006', ['unknown privilege box-export'])],
    ['broken XML', '<D:acl xmlns:D="DAV:"><D:ace>', errorBody('PR400-DV-0002')],
    ['a deny', `<D:acl xmlns:D="DAV:"><D:ace><D:principal><D:all/></D:principal><D:deny><D:privilege><D:read/></D:privilege></D:deny></D:ace></D:acl>`, errorBody('PR400-DV-0006', ['deny is not supported'])],
  ];
  for (const [what, body, expected] of cases) {
    const res = await unit.as({ method: 'ACL', url: '/cell1/', payload: body });
    t.deepEqual([res.statusCode, json(res)], [400, expected], what);
  }
  t.is((await unit.as({ method: 'PROPFIND', url: '/cell1/', headers: { depth: '0' } })).payload.replace(/<D:getlastmodified>.*?<\/D:getlastmodified>/, ''), before.replace(/<D:getlastmodified>.*?<\/D:getlastmodified>/, ''));
});

test.serial('a box that has roles bound to it cannot be deleted (409) until they are', async (t) => {
  await unit.createBox('cell1', 'bound');
  await unit.as({ method: 'POST', url: '/cell1/__ctl/Role', payload: { Name: 'keeper', '_Box.Name': 'bound' } });
  const refused = await unit.as({ method: 'DELETE', url: "/cell1/__ctl/Box('bound')" });
  t.deepEqual([refused.statusCode, json(refused)], [409, errorBody('PR409-OD-0001')]);
  t.is((await unit.as({ method: 'DELETE', url: `/cell1/__ctl/Role${encodeURIComponent("(Name='keeper',_Box.Name='bound')")}` })).statusCode, 204);
  t.is((await unit.as({ method: 'DELETE', url: "/cell1/__ctl/Box('bound')" })).statusCode, 204);
});

test.serial('the same links from the role\'s side: Role(...)/$links/_Account links, lists and unlinks accounts', async (t) => {
  await createAccount('dave', 'dave-pass-1');
  await unit.as({ method: 'POST', url: '/cell1/__ctl/Role', payload: { Name: 'crew' } });
  const links = "/cell1/__ctl/Role('crew')/$links/_Account";
  t.is((await unit.as({ method: 'POST', url: links, payload: { uri: `${base}Account('dave')` } })).statusCode, 204);
  const again = await unit.as({ method: 'POST', url: links, payload: { uri: "Account('dave')" } });
  t.deepEqual([again.statusCode, json(again)], [409, errorBody('PR409-OD-0002')]);
  t.deepEqual(json(await unit.as({ method: 'GET', url: links })).d.results, [{ uri: `${base}Account('dave')` }]);
  t.deepEqual(json(await unit.as({ method: 'GET', url: "/cell1/__ctl/Account('dave')/$links/_Role" })).d.results, [{ uri: `${base}Role(Name='crew',_Box.Name=null)` }]);
  const badUri = await unit.as({ method: 'POST', url: links, payload: { uri: `${base}Role('crew')` } });
  t.deepEqual([badUri.statusCode, json(badUri)], [400, errorBody('PR400-OD-0006', ['uri'])]);
  t.is((await unit.as({ method: 'POST', url: links, payload: { uri: "Account('nobody')" } })).statusCode, 400);
  t.is((await unit.as({ method: 'DELETE', url: `${links}('dave')` })).statusCode, 204);
  t.is((await unit.as({ method: 'DELETE', url: `${links}('dave')` })).statusCode, 404);
  t.deepEqual(json(await unit.as({ method: 'GET', url: links })).d.results, []);
});
