// The identity API under the cell status gates: while an export runs, writes to accounts, roles,
// links and the cell ACL get 409 and change nothing, reads and logins go on; while the cell is
// `import failed`, only __token still answers.
import test from 'ava';
import { errorBody } from '../core/errors.ts';
import { aclBody, addAccountWithRole, login } from './helpers/identity.ts';
import { json, startUnit } from './helpers/unit.ts';

test('while the cell exports, identity writes get 409 PR409-CM-0002, reads and logins go on', async (t) => {
  const unit = await startUnit();
  t.teardown(() => unit.stop());
  await unit.createCell('cell1');
  await addAccountWithRole(unit, 'cell1', 'me', 'owners', ['root']);
  let release!: () => void;
  const held = new Promise<void>((resolve) => { release = resolve; });
  let reached!: () => void;
  const reachedEntry = new Promise<void>((resolve) => { reached = resolve; });
  unit.hooks.export = async () => { reached(); await held; };
  t.is((await unit.as({ method: 'POST', url: '/cell1/__export', payload: '{"Name":"s1"}' })).statusCode, 202);
  await reachedEntry;
  const writes = [
    { method: 'POST', url: '/cell1/__ctl/Account', headers: { 'x-personium-credential': 'new-pass-1' }, payload: { Name: 'new' } },
    { method: 'PUT', url: "/cell1/__ctl/Account('me')", payload: { Name: 'me2' } },
    { method: 'DELETE', url: "/cell1/__ctl/Account('me')" },
    { method: 'POST', url: '/cell1/__ctl/Role', payload: { Name: 'r2' } },
    { method: 'DELETE', url: "/cell1/__ctl/Account('me')/$links/_Role('owners')" },
    { method: 'ACL', url: '/cell1/', payload: aclBody('http://unit.test/cell1/', [['all', ['root']]]) },
  ];
  for (const write of writes) {
    const res = await unit.as(write);
    t.deepEqual([res.statusCode, json(res)], [409, errorBody('PR409-CM-0002', ['cell export'])], `${write.method} ${write.url}`);
  }
  t.is(json(await unit.as({ method: 'GET', url: '/cell1/__ctl/Account' })).d.results.length, 1);
  t.truthy((await login(unit, 'cell1', 'me')).access_token);
  release();
});

test('while the cell is import failed, the identity API gets 409 PR409-CM-0001 and __token still logs in', async (t) => {
  const unit = await startUnit();
  t.teardown(() => unit.stop());
  await unit.createCell('cell1');
  await addAccountWithRole(unit, 'cell1', 'me', 'owners', ['root']);
  const { status, store } = unit.server.cellar;
  const cellId = store.findCell('cell1')!.id;
  await status.accept(cellId, 'import', 'x', new Date());
  await status.importFailed(cellId, errorBody('PR400-SN-0006', ['broken']));
  for (const request of [{ method: 'GET', url: '/cell1/__ctl/Account' }, { method: 'POST', url: '/cell1/__ctl/Role', payload: { Name: 'r' } }, { method: 'ACL', url: '/cell1/', payload: '<D:acl xmlns:D="DAV:"/>' }]) {
    const res = await unit.as(request);
    t.deepEqual([res.statusCode, json(res).code], [409, 'PR409-CM-0001'], `${request.method} ${request.url}`);
  }
  t.truthy((await login(unit, 'cell1', 'me')).access_token);
});
