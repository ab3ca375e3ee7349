import test from 'ava';
import { errorBody } from '../core/errors.ts';
import { areaDirOf, exportStatus, holdExportAt, postExport, untilReady } from './helpers/export.ts';
import { json, startUnit } from './helpers/unit.ts';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';

async function unitWithCell(t: { teardown(fn: () => Promise<void>): void }, overrides = {}) {
  const unit = await startUnit(overrides);
  t.teardown(() => unit.stop());
  await unit.createCell('cell1');
  return unit;
}

const nameRule = ['Name', '^[a-zA-Z0-9-_]{1,192}$'];

test('POST __export answers 202 with no body and Location {CellURL}__export', async (t) => {
  const unit = await unitWithCell(t);
  const res = await postExport(unit, 'cell1', { Name: 'CellExport_2017_01' });
  t.is(res.statusCode, 202);
  t.is(res.payload, '');
  t.is(res.headers.location, 'http://unit.test/cell1/__export');
  await untilReady(unit, 'cell1');
});

test('the in-progress record is stored before the 202, so a GET right after sees the export', async (t) => {
  const unit = await unitWithCell(t);
  const hold = holdExportAt(unit);
  await postExport(unit, 'cell1', { Name: 'snap1' });
  t.like(unit.server.cellar.store.findCell('cell1')!.job, { kind: 'export', name: 'snap1' });
  t.like(await exportStatus(unit, 'cell1'), { status: 'exportation in progress', exportation_name: 'snap1' });
  hold.release();
  await untilReady(unit, 'cell1');
});

test('GET __export in progress has exactly status, started_at, progress and exportation_name, as the Personium export status page shows it', async (t) => {
  const unit = await unitWithCell(t);
  const hold = holdExportAt(unit);
  const before = Date.now();
  await postExport(unit, 'cell1', { Name: 'CellExport_2017_01' });
  await hold.reached;
  const res = await unit.as({ method: 'GET', url: '/cell1/__export' });
  t.is(res.statusCode, 200);
  t.regex(res.headers['content-type'] as string, /^application\/json/);
  const body = json(res);
  t.deepEqual(Object.keys(body).sort(), ['exportation_name', 'progress', 'started_at', 'status']);
  t.is(body.status, 'exportation in progress');
  t.is(body.exportation_name, 'CellExport_2017_01');
  t.regex(body.progress, /^\d{1,3}%$/);
  t.regex(body.started_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  t.true(Math.abs(Date.parse(body.started_at) - before) < 5_000);
  hold.release();
  await untilReady(unit, 'cell1');
});

test('GET __export is {"status":"ready"} when nothing runs, and again once the export has ended', async (t) => {
  const unit = await unitWithCell(t);
  const res = await unit.as({ method: 'GET', url: '/cell1/__export' });
  t.is(res.statusCode, 200);
  t.regex(res.headers['content-type'] as string, /^application\/json/);
  t.is(res.payload, '{"status":"ready"}');
  await postExport(unit, 'cell1', { Name: 'snap1' });
  await untilReady(unit, 'cell1');
  t.deepEqual(await exportStatus(unit, 'cell1'), { status: 'ready' });
});

test('without a body, or with Name null, the export is named {CellName}_yyyyMMdd_HHmmss in UTC', async (t) => {
  const unit = await unitWithCell(t);
  for (const body of [undefined, '', { Name: null }, {}]) {
    const hold = holdExportAt(unit);
    const before = new Date();
    t.is((await postExport(unit, 'cell1', body)).statusCode, 202);
    const name = (await exportStatus(unit, 'cell1')).exportation_name!;
    t.regex(name, /^cell1_\d{8}_\d{6}$/);
    const stamp = new Date(`${name.slice(6, 10)}-${name.slice(10, 12)}-${name.slice(12, 14)}T${name.slice(15, 17)}:${name.slice(17, 19)}:${name.slice(19, 21)}Z`);
    t.true(Math.abs(stamp.getTime() - before.getTime()) < 2_000, `${name} is not ${before.toISOString()}`);
    hold.release();
    await untilReady(unit, 'cell1');
    // The next default name must differ: the same second would collide with this .zip.
    await new Promise((resolve) => setTimeout(resolve, 1_000 - (Date.now() % 1_000) + 10));
  }
});

test('a Name of 192 allowed characters is accepted', async (t) => {
  const unit = await unitWithCell(t);
  const name = `${'a-Z_9'.repeat(38)}ab`;
  t.is(name.length, 192);
  t.is((await postExport(unit, 'cell1', { Name: name })).statusCode, 202);
  await untilReady(unit, 'cell1');
});

test('a Name breaking ^[a-zA-Z0-9-_]{1,192}$ gets 400 PR400-CM-0002', async (t) => {
  const unit = await unitWithCell(t);
  for (const Name of ['', 'a'.repeat(193), 'snap.1', 'snap 1', '../snap', 'snäp', 'snap/1']) {
    const res = await postExport(unit, 'cell1', { Name });
    t.is(res.statusCode, 400, Name);
    t.deepEqual(json(res), errorBody('PR400-CM-0002', nameRule));
  }
});

test('a Name that is not a string gets 400 PR400-CM-0002', async (t) => {
  const unit = await unitWithCell(t);
  for (const Name of [42, true, ['snap1'], { n: 1 }]) {
    const res = await postExport(unit, 'cell1', { Name });
    t.is(res.statusCode, 400);
    t.deepEqual(json(res), errorBody('PR400-CM-0002', nameRule));
  }
});

test('a body that is not a JSON object gets 400 PR400-CM-0004', async (t) => {
  const unit = await unitWithCell(t);
  for (const body of ['{"Name":', 'Name=snap1', '["snap1"]', '"snap1"', 'null']) {
    const res = await postExport(unit, 'cell1', body);
    t.is(res.statusCode, 400, body);
    t.is(json(res).code, 'PR400-CM-0004');
    t.regex(json(res).message.value, /^JSON parse error\. \[/);
  }
  t.deepEqual(await exportStatus(unit, 'cell1'), { status: 'ready' });
});

test('an export over an existing {Name}.zip gets 409 PR409-DV-0002 and leaves the file alone', async (t) => {
  const unit = await unitWithCell(t);
  const zip = path.join(areaDirOf(unit, 'cell1'), 'snap1.zip');
  await writeFile(zip, 'an earlier snapshot');
  const res = await postExport(unit, 'cell1', { Name: 'snap1' });
  t.is(res.statusCode, 409);
  t.deepEqual(json(res), { code: 'PR409-DV-0002', message: { lang: 'en', value: 'File [snap1.zip] already exists.' } });
  t.deepEqual(await exportStatus(unit, 'cell1'), { status: 'ready' });
});

test('a second export while one runs gets 409 PR409-CM-0002', async (t) => {
  const unit = await unitWithCell(t);
  const hold = holdExportAt(unit);
  await postExport(unit, 'cell1', { Name: 'snap1' });
  for (const Name of ['snap2', 'snap1']) {
    const res = await postExport(unit, 'cell1', { Name });
    t.is(res.statusCode, 409);
    t.deepEqual(json(res), errorBody('PR409-CM-0002', ['cell export']));
  }
  hold.release();
  await untilReady(unit, 'cell1');
});

test('two POSTs at once: one export is accepted, the other is told why not', async (t) => {
  const unit = await unitWithCell(t);
  const sameName = await Promise.all([postExport(unit, 'cell1', { Name: 'snap1' }), postExport(unit, 'cell1', { Name: 'snap1' })]);
  t.deepEqual(sameName.map((res) => res.statusCode).sort(), [202, 409]);
  t.deepEqual(json(sameName.find((res) => res.statusCode === 409)!), errorBody('PR409-DV-0002', ['snap1.zip']));
  await untilReady(unit, 'cell1');
  const otherNames = await Promise.all([postExport(unit, 'cell1', { Name: 'snap2' }), postExport(unit, 'cell1', { Name: 'snap3' })]);
  t.deepEqual(otherNames.map((res) => res.statusCode).sort(), [202, 409]);
  t.deepEqual(json(otherNames.find((res) => res.statusCode === 409)!), errorBody('PR409-CM-0002', ['cell export']));
  await untilReady(unit, 'cell1');
});

test('while a cell imports, POST __export gets 409 PR409-CM-0002 naming the import', async (t) => {
  const unit = await unitWithCell(t);
  const { status, store } = unit.server.cellar;
  await status.accept(store.findCell('cell1')!.id, 'import', 'snap0');
  const res = await postExport(unit, 'cell1', { Name: 'snap1' });
  t.is(res.statusCode, 409);
  t.deepEqual(json(res), errorBody('PR409-CM-0002', ['cell import']));
});

test('a cell whose import failed refuses export and its status with 409 PR409-CM-0001', async (t) => {
  const unit = await unitWithCell(t);
  const { status, store } = unit.server.cellar;
  const id = store.findCell('cell1')!.id;
  await status.accept(id, 'import', 'snap0');
  await status.importFailed(id, errorBody('PR500-SV-0000'));
  for (const res of [await postExport(unit, 'cell1', { Name: 'snap1' }), await unit.as({ method: 'GET', url: '/cell1/__export' })]) {
    t.is(res.statusCode, 409);
    t.deepEqual(json(res), errorBody('PR409-CM-0001'));
  }
});

test('while a cell exports, writes to it get 409 PR409-CM-0002 and reads go on', async (t) => {
  const unit = await unitWithCell(t);
  await unit.createBox('cell1', 'box1');
  const hold = holdExportAt(unit);
  await postExport(unit, 'cell1', { Name: 'snap1' });
  const writes = [
    { method: 'POST', url: '/cell1/__ctl/Box', payload: { Name: 'box2' } },
    { method: 'DELETE', url: "/cell1/__ctl/Box('box1')" },
    { method: 'PUT', url: '/cell1/box1/a.txt', payload: 'x' },
    { method: 'MKCOL', url: '/cell1/__/dir' },
  ];
  for (const write of writes) {
    const res = await unit.as(write);
    t.is(res.statusCode, 409, `${write.method} ${write.url}`);
    t.deepEqual(json(res), errorBody('PR409-CM-0002', ['cell export']));
  }
  t.is((await unit.as({ method: 'GET', url: '/cell1/__ctl/Box' })).statusCode, 200);
  t.is((await unit.as({ method: 'PROPFIND', url: '/cell1/', headers: { depth: '1' } })).statusCode, 207);
  t.is((await unit.as({ method: 'GET', url: '/cell1/__export' })).statusCode, 200);
  hold.release();
  await untilReady(unit, 'cell1');
  t.is((await unit.as({ method: 'POST', url: '/cell1/__ctl/Box', payload: { Name: 'box2' } })).statusCode, 201);
});

test('other methods on __export get 405 PR405-MC-0001; OPTIONS lists GET and POST', async (t) => {
  const unit = await unitWithCell(t);
  for (const method of ['PUT', 'DELETE', 'PATCH', 'PROPFIND']) {
    const res = await unit.as({ method, url: '/cell1/__export' });
    t.is(res.statusCode, 405, method);
    t.deepEqual(json(res), errorBody('PR405-MC-0001'));
  }
  const options = await unit.inject({ method: 'OPTIONS', url: '/cell1/__export' });
  t.is(options.statusCode, 200);
  t.is(options.headers.allow, 'OPTIONS, GET, POST');
});

test('export and its status need credentials (401 PR401-AU-0001) and root (403 PR403-AU-0002)', async (t) => {
  const unit = await unitWithCell(t);
  unit.server.ext('onPostAuth', (request, h) => {
    if (request.headers['x-test-as'] === 'writer') request.auth.credentials.app = { cellar: { kind: 'cell', cellId: unit.server.cellar.store.findCell('cell1')!.id, privileges: ['read', 'write'] } };
    return h.continue;
  }, { before: ['cellar-cell-access'] });
  for (const method of ['POST', 'GET']) {
    const anonymous = await unit.inject({ method, url: '/cell1/__export' });
    t.is(anonymous.statusCode, 401);
    t.deepEqual(json(anonymous), errorBody('PR401-AU-0001'));
    const writer = await unit.as({ method, url: '/cell1/__export', headers: { 'x-test-as': 'writer' } });
    t.is(writer.statusCode, 403);
    t.deepEqual(json(writer), errorBody('PR403-AU-0002'));
  }
  t.deepEqual(await exportStatus(unit, 'cell1'), { status: 'ready' });
});

test('a cell that does not exist gets 404 PR404-DV-0003', async (t) => {
  const unit = await unitWithCell(t);
  const res = await postExport(unit, 'nocell', { Name: 'snap1' });
  t.is(res.statusCode, 404);
  t.deepEqual(json(res), errorBody('PR404-DV-0003'));
});
