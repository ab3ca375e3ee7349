// Box-level ACLs (RFC 3744 through Personium's ACL method): a role granted D:read may read and
// nothing else, grants on a collection reach what is below it, D:all holds every box privilege,
// the principal `all` makes content public, and root on the cell still opens everything.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { errorBody } from '../core/errors.ts';
import { addAccountWithRole, aclBody, bearer, login } from './helpers/identity.ts';
import { json, startUnit, type TestUnit } from './helpers/unit.ts';

let unit: TestUnit;
const tokens: Record<string, string> = {};
const cellUrl = 'http://unit.test/cell1/';

/** A box-level ACL body: principals relative to the box's role base. */
function boxAcl(box: string, grants: Array<[string, string[]]>): string {
  return aclBody(cellUrl, grants).replace(`${cellUrl}__role/__/`, `${cellUrl}__role/${box}/`);
}

test.before(async () => {
  unit = await startUnit();
  await unit.createCell('cell1');
  await unit.createBox('cell1', 'box1');
  await unit.createBox('cell1', 'box2');
  for (const file of ['box1/top.txt', 'box2/other.txt']) await unit.as({ method: 'PUT', url: `/cell1/${file}`, payload: file });
  await unit.as({ method: 'MKCOL', url: '/cell1/box2/docs' });
  await unit.as({ method: 'PUT', url: '/cell1/box2/docs/a.txt', payload: 'a' });
  await unit.as({ method: 'MKCOL', url: '/cell1/box2/private' });
  await unit.as({ method: 'PUT', url: '/cell1/box2/private/b.txt', payload: 'b' });
  await addAccountWithRole(unit, 'cell1', 'owner', 'owners', ['root']);
  await addAccountWithRole(unit, 'cell1', 'reader', 'readers', ['log-read']);
  await addAccountWithRole(unit, 'cell1', 'editor', 'editors', ['log-read']);
  for (const name of ['owner', 'reader', 'editor']) tokens[name] = (await login(unit, 'cell1', name)).access_token;
  const set = async (url: string, body: string) => {
    const res = await unit.as({ method: 'ACL', url, payload: body });
    if (res.statusCode !== 200) throw new Error(`ACL ${url}: ${res.statusCode} ${res.payload}`);
  };
  await set('/cell1/box1', boxAcl('box1', [['../__/readers', ['D:read']], ['../__/editors', ['D:all']]]));
  await set('/cell1/box2/docs', boxAcl('box2', [['../__/readers', ['D:read']], ['all', ['D:read']]]));
});
test.after.always(() => unit.stop());

const as = (name: string, method: string, url: string, extra: Record<string, unknown> = {}) =>
  unit.inject({ method, url, headers: { ...(tokens[name] ? bearer(tokens[name]) : {}), ...((extra.headers as Record<string, string>) ?? {}) }, ...(extra.payload ? { payload: extra.payload as string } : {}) });

test('a role granted D:read on a box may GET and PROPFIND it and nothing else', async (t) => {
  t.is((await as('reader', 'GET', '/cell1/box1/top.txt')).statusCode, 200);
  t.is((await as('reader', 'PROPFIND', '/cell1/box1', { headers: { depth: '1' } })).statusCode, 207);
  for (const [method, url, payload] of [['PUT', '/cell1/box1/new.txt', 'x'], ['DELETE', '/cell1/box1/top.txt'], ['MKCOL', '/cell1/box1/dir'], ['ACL', '/cell1/box1', boxAcl('box1', [['all', ['D:all']]])]] as const) {
    const res = await as('reader', method, url, { payload });
    t.deepEqual([res.statusCode, json(res)], [403, errorBody('PR403-AU-0002')], method);
  }
  t.is((await as('reader', 'GET', '/cell1/box2/other.txt')).statusCode, 403, 'another box is not covered');
  t.is((await as('reader', 'GET', '/cell1/__ctl/Box')).statusCode, 403, 'a box grant gives nothing at the cell level');
});

test('D:all on a box holds every box privilege: write, and the ACL method itself', async (t) => {
  t.is((await as('editor', 'PUT', '/cell1/box1/by-editor.txt', { payload: 'e' })).statusCode, 201);
  t.is((await as('editor', 'ACL', '/cell1/box1/by-editor.txt', { payload: boxAcl('box1', [['../__/readers', ['D:read']]]) })).statusCode, 200);
  t.is((await as('editor', 'GET', '/cell1/box2/other.txt')).statusCode, 403);
});

test('a grant on a collection reaches what is below it, not its siblings; the principal all makes it public', async (t) => {
  t.is((await as('reader', 'GET', '/cell1/box2/docs/a.txt')).statusCode, 200, 'inherited from docs');
  t.is((await as('reader', 'GET', '/cell1/box2/private/b.txt')).statusCode, 403);
  const anonymous = await as('nobody', 'GET', '/cell1/box2/docs/a.txt');
  t.is(anonymous.statusCode, 200, 'all → D:read admits a caller without a token');
  t.is(anonymous.payload, 'a');
  t.is((await unit.inject({ url: '/cell1/box2/docs/a.txt', headers: bearer('AR~broken') })).statusCode, 200, 'and one whose token is bad');
  const write = await as('nobody', 'PUT', '/cell1/box2/docs/a.txt', { payload: 'changed' });
  t.deepEqual([write.statusCode, json(write).code], [401, 'PR401-AU-0001'], 'reading is all that is public');
  const hidden = await as('nobody', 'GET', '/cell1/box2/private/b.txt');
  t.deepEqual([hidden.statusCode, json(hidden).code], [401, 'PR401-AU-0001']);
});

test('root on the cell opens every box resource whatever its ACL', async (t) => {
  t.is((await as('owner', 'GET', '/cell1/box2/private/b.txt')).statusCode, 200);
  t.is((await as('owner', 'PUT', '/cell1/box1/by-owner.txt', { payload: 'o' })).statusCode, 201);
  t.is((await as('owner', 'ACL', '/cell1/box2/private', { payload: boxAcl('box2', [['../__/editors', ['D:read']]]) })).statusCode, 200);
  t.is((await as('editor', 'GET', '/cell1/box2/private/b.txt')).statusCode, 200, 'the new grant takes effect at once');
});

test('a box ACL is kept in the resource .pmeta as role ids; cell privileges, unknown roles and missing resources are refused', async (t) => {
  const { contents, store } = unit.server.cellar;
  const cell = store.findCell('cell1')!;
  const box = (await contents.odata(cell)).data.boxes.find((candidate) => candidate.Name === 'box2')!;
  const pmeta = JSON.parse(await readFile(path.join(contents.boxDir(cell, box._id), 'docs', '.pmeta'), 'utf8'));
  const readers = (await unit.server.cellar.identity.records(cell)).roles.find((role) => role.Name === 'readers')!;
  t.deepEqual(pmeta.a['D.ace'], [
    { 'D.principal': { 'D.href': readers._id }, 'D.grant': { 'D.privilege': { 'D.read': null } } },
    { 'D.principal': { 'D.all': '' }, 'D.grant': { 'D.privilege': { 'D.read': null } } },
  ]);
  const cellPrivilege = await unit.as({ method: 'ACL', url: '/cell1/box1', payload: boxAcl('box1', [['../__/readers', ['root']]]) });
  t.deepEqual([cellPrivilege.statusCode, json(cellPrivilege)], [400, errorBody('PR400-DV-0006', ['unknown privilege root'])]);
  const unknownRole = await unit.as({ method: 'ACL', url: '/cell1/box1', payload: boxAcl('box1', [['ghost', ['D:read']]]) });
  t.deepEqual([unknownRole.statusCode, json(unknownRole)], [400, errorBody('PR400-DV-0004')]);
  const missing = await unit.as({ method: 'ACL', url: '/cell1/box1/nothing-here', payload: boxAcl('box1', [['all', ['D:read']]]) });
  t.is(missing.statusCode, 404);
});

test('PROPFIND shows a box resource\'s ACL relative to its box\'s role base to those who may read it', async (t) => {
  const asked = '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:acl/></D:prop></D:propfind>';
  const owner = await as('owner', 'PROPFIND', '/cell1/box2/docs', { headers: { depth: '0' }, payload: asked });
  t.is(owner.statusCode, 207);
  t.true(owner.payload.includes(`<D:acl xml:base="${cellUrl}__role/box2/"><D:ace><D:principal><D:href>../__/readers</D:href></D:principal><D:grant><D:privilege><D:read/></D:privilege></D:grant></D:ace><D:ace><D:principal><D:all/></D:principal>`), owner.payload);
  const reader = await as('reader', 'PROPFIND', '/cell1/box2/docs', { headers: { depth: '0' }, payload: asked });
  t.is(reader.statusCode, 207);
  t.false(reader.payload.includes('<D:ace>'), 'D:read does not give read-acl');
  t.regex(reader.payload, /<D:acl\/><\/D:prop><D:status>HTTP\/1.1 404 Not Found/);
});

test('COPY and MOVE need write where they write: a destination the role may not write is 403 and nothing moves', async (t) => {
  t.is((await unit.as({ method: 'MKCOL', url: '/cell1/box2/drop' })).statusCode, 201);
  t.is((await unit.as({ method: 'ACL', url: '/cell1/box2/drop', payload: boxAcl('box2', [['../__/editors', ['D:all']]]) })).statusCode, 200);
  t.is((await as('editor', 'PUT', '/cell1/box2/drop/x.txt', { payload: 'x' })).statusCode, 201);
  for (const method of ['MOVE', 'COPY']) {
    const refused = await as('editor', method, '/cell1/box2/drop/x.txt', { headers: { destination: '/cell1/box2/private/x.txt' } });
    t.deepEqual([refused.statusCode, json(refused)], [403, errorBody('PR403-AU-0002')], method);
  }
  t.is((await unit.as({ method: 'GET', url: '/cell1/box2/private/x.txt' })).statusCode, 404);
  t.is((await as('editor', 'MOVE', '/cell1/box2/drop/x.txt', { headers: { destination: '/cell1/box2/drop/y.txt' } })).statusCode, 201);
  t.is((await as('editor', 'GET', '/cell1/box2/drop/y.txt')).payload, 'x');
});
