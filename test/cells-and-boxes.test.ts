import { access, readdir } from 'node:fs/promises';
import test from 'ava';
import { errorBody } from '../core/errors.ts';
import { json, startUnit } from './helpers/unit.ts';

const nameRule = '^[a-zA-Z0-9][a-zA-Z0-9-_]{0,127}$';

test('a cell is created, listed, read and answers in OData v2 form', async (t) => {
  const unit = await startUnit();
  t.teardown(() => unit.stop());
  const created = await unit.as({ method: 'POST', url: '/__ctl/Cell', payload: { Name: 'cell1' } });
  t.is(created.statusCode, 201);
  t.is(created.headers.location, "http://unit.test/__ctl/Cell('cell1')");
  t.is(json(created).d.results.Name, 'cell1');
  t.regex(json(created).d.results.__published, /^\/Date\(\d+\)\/$/);
  const list = json(await unit.as({ method: 'GET', url: '/__ctl/Cell' }));
  t.deepEqual(list.d.results.map((cell: { Name: string }) => cell.Name), ['cell1']);
  const one = await unit.as({ method: 'GET', url: "/__ctl/Cell('cell1')" });
  t.is(json(one).d.results.Name, 'cell1');
  const encoded = await unit.as({ method: 'GET', url: '/__ctl/Cell(%27cell1%27)' });
  t.is(encoded.statusCode, 200);
});

test('cell names are checked and duplicates refused', async (t) => {
  const unit = await startUnit();
  t.teardown(() => unit.stop());
  for (const Name of ['', '-lead', '_x', '__ctl', 'a'.repeat(129), 'sp ace', 'sl/ash', 12]) {
    const res = await unit.as({ method: 'POST', url: '/__ctl/Cell', payload: { Name } });
    t.is(res.statusCode, 400, JSON.stringify(Name));
    t.deepEqual(json(res), errorBody('PR400-CM-0002', ['Name', nameRule]));
  }
  const missing = await unit.as({ method: 'POST', url: '/__ctl/Cell', payload: {} });
  t.deepEqual(json(missing), errorBody('PR400-CM-0001', ['Name']));
  const notJson = await unit.as({ method: 'POST', url: '/__ctl/Cell', payload: 'Name=x' });
  t.is(json(notJson).code, 'PR400-CM-0004');
  t.is((await unit.as({ method: 'POST', url: '/__ctl/Cell', payload: { Name: 'a'.repeat(128) } })).statusCode, 201);
  await unit.createCell('cell1');
  const duplicate = await unit.as({ method: 'POST', url: '/__ctl/Cell', payload: { Name: 'cell1' } });
  t.is(duplicate.statusCode, 409);
  t.deepEqual(json(duplicate), errorBody('PR409-OD-0003'));
});

test('a missing cell gets 404', async (t) => {
  const unit = await startUnit();
  t.teardown(() => unit.stop());
  t.deepEqual(json(await unit.as({ method: 'GET', url: "/__ctl/Cell('nope')" })), errorBody('PR404-OD-0002'));
  t.deepEqual(json(await unit.as({ method: 'DELETE', url: "/__ctl/Cell('nope')" })), errorBody('PR404-OD-0002'));
  t.deepEqual(json(await unit.as({ method: 'PROPFIND', url: '/nope/', headers: { depth: '0' } })), errorBody('PR404-DV-0003'));
});

test('deleting a cell that holds data needs X-Personium-Recursive and removes its data and snapshot area', async (t) => {
  const unit = await startUnit();
  t.teardown(() => unit.stop());
  await unit.createCell('cell1');
  await unit.createBox('cell1', 'box1');
  const { contents, store } = unit.server.cellar;
  const cell = store.findCell('cell1')!;
  const refused = await unit.as({ method: 'DELETE', url: "/__ctl/Cell('cell1')" });
  t.is(refused.statusCode, 409);
  t.deepEqual(json(refused), errorBody('PR409-OD-0001'));
  const deleted = await unit.as({ method: 'DELETE', url: "/__ctl/Cell('cell1')", headers: { 'x-personium-recursive': 'true' } });
  t.is(deleted.statusCode, 204);
  await t.throwsAsync(access(contents.cellDir(cell.id)));
  await t.throwsAsync(access(contents.snapshotDir(cell.id)));
  t.is(store.findCell('cell1'), undefined);
});

test('an empty cell is deleted without the recursive header', async (t) => {
  const unit = await startUnit();
  t.teardown(() => unit.stop());
  await unit.createCell('cell1');
  t.is((await unit.as({ method: 'DELETE', url: "/__ctl/Cell('cell1')" })).statusCode, 204);
});

test('boxes are created, listed, read and deleted; the main box always exists', async (t) => {
  const unit = await startUnit();
  t.teardown(() => unit.stop());
  await unit.createCell('cell1');
  const created = await unit.as({ method: 'POST', url: '/cell1/__ctl/Box', payload: { Name: 'box1', Schema: 'https://app.example/' } });
  t.is(created.statusCode, 201);
  t.is(created.headers.location, "http://unit.test/cell1/__ctl/Box('box1')");
  t.is(json(created).d.results.Schema, 'https://app.example/');
  t.deepEqual(json(await unit.as({ method: 'GET', url: '/cell1/__ctl/Box' })).d.results.map((box: { Name: string }) => box.Name), ['box1']);
  t.is(json(await unit.as({ method: 'GET', url: "/cell1/__ctl/Box('box1')" })).d.results.Name, 'box1');
  t.deepEqual(json(await unit.as({ method: 'POST', url: '/cell1/__ctl/Box', payload: { Name: 'box1' } })), errorBody('PR409-OD-0003'));
  t.deepEqual(json(await unit.as({ method: 'POST', url: '/cell1/__ctl/Box', payload: { Name: '__' } })), errorBody('PR400-CM-0002', ['Name', nameRule]));
  t.is((await unit.as({ method: 'PROPFIND', url: '/cell1/__', headers: { depth: '0' } })).statusCode, 207);

  t.is((await unit.as({ method: 'MKCOL', url: '/cell1/box1/dir' })).statusCode, 201);
  const refused = await unit.as({ method: 'DELETE', url: "/cell1/__ctl/Box('box1')" });
  t.deepEqual(json(refused), errorBody('PR409-OD-0001'));
  const { contents, store } = unit.server.cellar;
  const cell = store.findCell('cell1')!;
  const boxId = (await contents.odata(cell)).data.boxes[0]!._id;
  t.is((await unit.as({ method: 'DELETE', url: "/cell1/__ctl/Box('box1')", headers: { 'x-personium-recursive': 'true' } })).statusCode, 204);
  t.false((await readdir(contents.davRoot(cell))).includes(boxId));
  t.deepEqual(json(await unit.as({ method: 'GET', url: "/cell1/__ctl/Box('box1')" })), errorBody('PR404-OD-0002'));
  t.is(json(await unit.as({ method: 'GET', url: '/cell1/box1/dir' })).code, 'PR404-DV-0001');
});

test('PROPFIND on the cell shows its status and Depth rules', async (t) => {
  const unit = await startUnit();
  t.teardown(() => unit.stop());
  await unit.createCell('cell1');
  await unit.createBox('cell1', 'box1');
  const res = await unit.as({ method: 'PROPFIND', url: '/cell1/', headers: { depth: '1' } });
  t.is(res.statusCode, 207);
  t.regex(res.payload, /xmlns:p="urn:x-personium:xmlns"/);
  t.regex(res.payload, /<p:cellstatus>normal<\/p:cellstatus>/);
  t.regex(res.payload, /<D:href>http:\/\/unit\.test\/cell1\/box1<\/D:href>/);
  t.deepEqual(json(await unit.as({ method: 'PROPFIND', url: '/cell1/' })), errorBody('PR400-DV-0003', ['null']));
  t.deepEqual(json(await unit.as({ method: 'PROPFIND', url: '/cell1/', headers: { depth: 'infinity' } })), errorBody('PR403-DV-0001'));
  t.deepEqual(json(await unit.as({ method: 'PROPFIND', url: '/cell1/', headers: { depth: '0' }, payload: '<D:propfind xmlns:D="DAV:"><D:allprop>' })), errorBody('PR400-DV-0001'));
  const options = await unit.inject({ method: 'OPTIONS', url: '/cell1/' });
  t.is(options.statusCode, 200);
});

test('cells and their boxes survive a restart', async (t) => {
  const first = await startUnit();
  await first.createCell('cell1');
  await first.createBox('cell1', 'box1');
  await first.server.stop();
  const second = await startUnit({}, { dataDir: first.dataDir });
  t.teardown(() => second.stop());
  t.is(json(await second.as({ method: 'GET', url: "/cell1/__ctl/Box('box1')" })).d.results.Name, 'box1');
});
