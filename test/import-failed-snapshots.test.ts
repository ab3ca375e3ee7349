// While a cell is import failed its snapshot area stays open (a deliberate difference from
// Personium), so a good zip can be uploaded and imported; the cell's own content stays closed.
import test from 'ava';
import { errorBody } from '../core/errors.ts';
import { json, startUnit } from './helpers/unit.ts';

test('an import-failed cell takes PUT, PROPFIND, GET and DELETE on its snapshot area while its content stays closed', async (t) => {
  const unit = await startUnit();
  t.teardown(() => unit.stop());
  await unit.createCell('cell1');
  const { status, store } = unit.server.cellar;
  const cell = store.findCell('cell1')!;
  await status.accept(cell.id, 'import', 'bad');
  await status.importFailed(cell.id, errorBody('PR400-SN-0005', ['20_webdav/__/a/content']));

  const put = await unit.as({ method: 'PUT', url: '/cell1/__snapshot/good.zip', payload: 'zip bytes', headers: { 'content-type': 'application/zip' } });
  t.is(put.statusCode, 201);
  const listing = await unit.as({ method: 'PROPFIND', url: '/cell1/__snapshot/', headers: { depth: '1' } });
  t.is(listing.statusCode, 207);
  t.regex(listing.payload, /__snapshot\/good\.zip<\/D:href>/);
  t.is((await unit.as({ method: 'GET', url: '/cell1/__snapshot/good.zip' })).payload, 'zip bytes');
  t.is((await unit.as({ method: 'PUT', url: '/cell1/__snapshot/other.zip', payload: 'x' })).statusCode, 201);
  t.is((await unit.as({ method: 'DELETE', url: '/cell1/__snapshot/other.zip' })).statusCode, 204);
  t.is((await unit.as({ method: 'MOVE', url: '/cell1/__snapshot/good.zip', headers: { destination: '/cell1/__snapshot/better.zip' } })).statusCode, 201, 'a snapshot is renamed before its import');
  t.is((await unit.as({ method: 'MOVE', url: '/cell1/__snapshot/better.zip', headers: { destination: '/cell1/__snapshot/good.zip' } })).statusCode, 201);

  for (const request of [
    { method: 'GET', url: '/cell1/__ctl/Box' },
    { method: 'PUT', url: '/cell1/__/x', payload: 'x' },
    { method: 'PROPFIND', url: '/cell1/', headers: { depth: '0' } },
    { method: 'POST', url: '/cell1/__export', payload: {} },
  ]) {
    const res = await unit.as(request);
    t.is(res.statusCode, 409, `${request.method} ${request.url}`);
    t.deepEqual(json(res), errorBody('PR409-CM-0001'));
  }
});

test('while an import runs the snapshot area refuses writes with 409 PR409-CM-0002, whatever the status', async (t) => {
  const unit = await startUnit();
  t.teardown(() => unit.stop());
  await unit.createCell('cell1');
  const { status, store } = unit.server.cellar;
  const cell = store.findCell('cell1')!;
  await status.accept(cell.id, 'import', 'bad');
  await status.importFailed(cell.id, errorBody('PR400-SN-0005', ['x']));
  await status.accept(cell.id, 'import', 'again');
  const res = await unit.as({ method: 'PUT', url: '/cell1/__snapshot/good.zip', payload: 'x' });
  t.is(res.statusCode, 409);
  t.deepEqual(json(res), errorBody('PR409-CM-0002', ['cell import']));
  t.is((await unit.as({ method: 'GET', url: '/cell1/__snapshot/good.zip' })).statusCode, 404, 'reads go on');
});
