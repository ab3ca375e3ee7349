// DELETE {CellURL} with X-Personium-Recursive: true removes the cell with everything it holds,
// as Personium's cell bulk deletion does; without the header it is refused with 412.
import { access } from 'node:fs/promises';
import test from 'ava';
import { errorBody } from '../core/errors.ts';
import { json, startUnit, type TestUnit } from './helpers/unit.ts';

async function fullCell(t: { teardown(fn: () => Promise<void>): void }): Promise<{ unit: TestUnit; contentDir: string; areaDir: string }> {
  const unit = await startUnit();
  t.teardown(() => unit.stop());
  await unit.createCell('cell1');
  await unit.createBox('cell1', 'box1');
  await unit.as({ method: 'PUT', url: '/cell1/box1/a.txt', payload: 'a' });
  await unit.as({ method: 'PUT', url: '/cell1/__snapshot/s.zip', payload: 'zip' });
  const { store, contents } = unit.server.cellar;
  const cell = store.findCell('cell1')!;
  return { unit, contentDir: contents.cellDir(cell.id), areaDir: contents.snapshotDir(cell.id) };
}

const gone = async (dir: string) => access(dir).then(() => false, () => true);

test('DELETE {CellURL} with X-Personium-Recursive: true removes the cell, its boxes, content and snapshot area (204)', async (t) => {
  const { unit, contentDir, areaDir } = await fullCell(t);
  const res = await unit.as({ method: 'DELETE', url: '/cell1', headers: { 'x-personium-recursive': 'true' } });
  t.is(res.statusCode, 204);
  t.is(unit.server.cellar.store.findCell('cell1'), undefined);
  t.true(await gone(contentDir));
  t.true(await gone(areaDir));
  t.is((await unit.as({ method: 'GET', url: "/__ctl/Cell('cell1')" })).statusCode, 404);
  t.is((await unit.as({ method: 'GET', url: '/cell1/box1/a.txt' })).statusCode, 404);
  await unit.createCell('cell1');
  t.is((await unit.as({ method: 'GET', url: '/cell1/__ctl/Box' })).payload, '{"d":{"results":[]}}', 'a new cell of the same name starts empty');
});

test('DELETE {CellURL} without X-Personium-Recursive: true gets 412 PR412-MC-0001 and removes nothing', async (t) => {
  const { unit, contentDir } = await fullCell(t);
  for (const headers of [{}, { 'x-personium-recursive': 'false' }, { 'x-personium-recursive': '' }]) {
    const res = await unit.as({ method: 'DELETE', url: '/cell1/', headers });
    t.is(res.statusCode, 412, JSON.stringify(headers));
    t.deepEqual(json(res), errorBody('PR412-MC-0001', ['X-Personium-Recursive']));
  }
  t.truthy(unit.server.cellar.store.findCell('cell1'));
  t.false(await gone(contentDir));
  t.is((await unit.as({ method: 'GET', url: '/cell1/box1/a.txt' })).payload, 'a');
});

test('an import-failed cell can be deleted on its URL; a cell that exports cannot (409)', async (t) => {
  const { unit } = await fullCell(t);
  const { status, store } = unit.server.cellar;
  const id = store.findCell('cell1')!.id;
  await status.accept(id, 'import', 's');
  await status.importFailed(id, errorBody('PR500-SV-0000'));
  t.is((await unit.as({ method: 'DELETE', url: '/cell1', headers: { 'x-personium-recursive': 'true' } })).statusCode, 204);

  await unit.createCell('cell2');
  await status.accept(store.findCell('cell2')!.id, 'export', 'x');
  const busy = await unit.as({ method: 'DELETE', url: '/cell2', headers: { 'x-personium-recursive': 'true' } });
  t.is(busy.statusCode, 409);
  t.deepEqual(json(busy), errorBody('PR409-CM-0002', ['cell export']));
  t.truthy(store.findCell('cell2'));
});

test('DELETE {CellURL} needs credentials (401) and the cell must exist (404)', async (t) => {
  const { unit } = await fullCell(t);
  const anonymous = await unit.inject({ method: 'DELETE', url: '/cell1', headers: { 'x-personium-recursive': 'true' } });
  t.is(anonymous.statusCode, 401);
  const missing = await unit.as({ method: 'DELETE', url: '/nocell', headers: { 'x-personium-recursive': 'true' } });
  t.is(missing.statusCode, 404);
  t.deepEqual(json(missing), errorBody('PR404-DV-0003'));
  t.truthy(unit.server.cellar.store.findCell('cell1'));
});
