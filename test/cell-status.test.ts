import { rm } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { bodyOf, errorBody, isPersoniumError } from '../core/errors.ts';
import { transition, type CellEvent, type CellState } from '../core/cell-status.ts';
import { auth, json, startUnit } from './helpers/unit.ts';

const states: CellState[] = [];
for (const status of ['normal', 'import failed'] as const) {
  for (const activity of ['idle', 'exporting', 'importing'] as const) states.push({ status, activity });
}
const events: CellEvent['type'][] = ['export-accepted', 'export-ended', 'import-accepted', 'import-succeeded', 'import-failed', 'import-withdrawn'];

/** The transition table: the state reached, or the error code a client sees, or 'internal'. */
function expected(state: CellState, event: CellEvent['type']): CellState | string {
  const running = state.activity === 'exporting' ? 'cell export' : 'cell import';
  switch (event) {
    case 'export-accepted':
      if (state.activity !== 'idle') return `PR409-CM-0002 ${running}`;
      if (state.status === 'import failed') return 'PR409-CM-0001';
      return { status: 'normal', activity: 'exporting' };
    case 'import-accepted':
      if (state.activity !== 'idle') return `PR409-CM-0002 ${running}`;
      return { status: state.status, activity: 'importing' };
    case 'export-ended':
      return state.activity === 'exporting' ? { status: state.status, activity: 'idle' } : 'internal';
    case 'import-succeeded':
      return state.activity === 'importing' ? { status: 'normal', activity: 'idle' } : 'internal';
    case 'import-failed':
      return state.activity === 'importing' ? { status: 'import failed', activity: 'idle' } : 'internal';
    case 'import-withdrawn':
      return state.activity === 'importing' ? { status: state.status, activity: 'idle' } : 'internal';
  }
}

for (const state of states) {
  for (const event of events) {
    const want = expected(state, event);
    const title = `${event} from ${state.status}/${state.activity} ${typeof want === 'string' ? `is refused (${want})` : `leads to ${want.status}/${want.activity}`}`;
    test(title, (t) => {
      if (typeof want !== 'string') {
        t.deepEqual(transition(state, { type: event }), want);
        return;
      }
      const error = t.throws(() => transition(state, { type: event }));
      if (want === 'internal') {
        t.false(isPersoniumError(error), 'an impossible event is a programming error, not a client error');
      } else {
        t.true(isPersoniumError(error));
        const [code, ...rest] = want.split(' ');
        t.is(bodyOf(error).code, code!);
        if (rest.length) t.true(bodyOf(error).message.value.includes(`[${rest.join(' ')}]`));
      }
    });
  }
}

test('writes to a cell get 409 PR409-CM-0002 while it exports and reads go on', async (t) => {
  const unit = await startUnit();
  t.teardown(() => unit.stop());
  await unit.createCell('cell1');
  await unit.createBox('cell1', 'box1');
  const { status, store } = unit.server.cellar;
  const cell = store.findCell('cell1')!;
  await status.accept(cell.id, 'export', 'snap');

  const write = await unit.as({ method: 'POST', url: '/cell1/__ctl/Box', payload: { Name: 'box2' } });
  t.is(write.statusCode, 409);
  t.deepEqual(json(write), errorBody('PR409-CM-0002', ['cell export']));
  const davWrite = await unit.as({ method: 'PUT', url: '/cell1/box1/a.txt', payload: 'x' });
  t.is(davWrite.statusCode, 409);
  t.is(json(davWrite).code, 'PR409-CM-0002');
  const deleteCell = await unit.as({ method: 'DELETE', url: "/__ctl/Cell('cell1')", headers: { 'x-personium-recursive': 'true' } });
  t.is(deleteCell.statusCode, 409);

  t.is((await unit.as({ method: 'GET', url: '/cell1/__ctl/Box' })).statusCode, 200);
  t.is((await unit.as({ method: 'PROPFIND', url: '/cell1/box1', headers: { depth: '0' } })).statusCode, 207);

  await status.endExport(cell.id);
  t.is((await unit.as({ method: 'POST', url: '/cell1/__ctl/Box', payload: { Name: 'box2' } })).statusCode, 201);
});

test('writes name the cell import while one runs', async (t) => {
  const unit = await startUnit();
  t.teardown(() => unit.stop());
  await unit.createCell('cell1');
  const { status, store } = unit.server.cellar;
  await status.accept(store.findCell('cell1')!.id, 'import', 'snap');
  const write = await unit.as({ method: 'POST', url: '/cell1/__ctl/Box', payload: { Name: 'box2' } });
  t.deepEqual(json(write), errorBody('PR409-CM-0002', ['cell import']));
});

test('an import-failed cell answers 409 PR409-CM-0001 to everything but import, token and its deletion', async (t) => {
  const unit = await startUnit();
  t.teardown(() => unit.stop());
  await unit.createCell('cell1');
  const { status, store } = unit.server.cellar;
  const cell = store.findCell('cell1')!;
  await status.accept(cell.id, 'import', 'snap');
  await status.importFailed(cell.id, errorBody('PR400-SN-0005', ['20_webdav/__/a/content']));

  for (const request of [
    { method: 'GET', url: '/cell1/__ctl/Box' },
    { method: 'PROPFIND', url: '/cell1/', headers: { depth: '0' } },
    { method: 'GET', url: '/cell1/__/x' },
    { method: 'PUT', url: '/cell1/__/x', payload: 'x' },
  ]) {
    const res = await unit.as(request);
    t.is(res.statusCode, 409, `${request.method} ${request.url}`);
    t.deepEqual(json(res), errorBody('PR409-CM-0001'));
  }
  t.is((await unit.as({ method: 'GET', url: "/__ctl/Cell('cell1')" })).statusCode, 200, 'unit-level APIs are unaffected');
  const survivesRestart = store.findCell('cell1')!;
  t.is(survivesRestart.status, 'import failed');
  t.is(survivesRestart.importFailure?.importation_name, 'snap');
  t.is(survivesRestart.importFailure?.message.code, 'PR400-SN-0005');

  const deleted = await unit.as({ method: 'DELETE', url: "/__ctl/Cell('cell1')", headers: { ...auth, 'x-personium-recursive': 'true' } });
  t.is(deleted.statusCode, 204, 'the cell can still be deleted');
});

test('a successful import returns the cell to normal and clears the failure', async (t) => {
  const unit = await startUnit();
  t.teardown(() => unit.stop());
  await unit.createCell('cell1');
  const { status, store } = unit.server.cellar;
  const cell = store.findCell('cell1')!;
  await status.accept(cell.id, 'import', 'one');
  await status.importFailed(cell.id, errorBody('PR500-SV-0000'));
  await status.accept(cell.id, 'import', 'two');
  await status.importSucceeded(cell.id, cell.contentId);
  const after = store.findCell('cell1')!;
  t.is(after.status, 'normal');
  t.is(after.importFailure, undefined);
  t.is(after.job, undefined);
  t.is((await unit.as({ method: 'GET', url: '/cell1/__ctl/Box' })).statusCode, 200);
});

test('after a restart no cell stays exporting or importing', async (t) => {
  const first = await startUnit({}, {});
  const dataDir = first.dataDir;
  await first.createCell('exporter');
  await first.createCell('importer');
  const { status, store } = first.server.cellar;
  await status.accept(store.findCell('exporter')!.id, 'export', 'e1');
  await status.accept(store.findCell('importer')!.id, 'import', 'i1');
  // Simulate a crash: the job records stay on disk; nothing ends them, and the lock is left as a dead process leaves it.
  await rm(path.join(dataDir, 'unit.lock'));
  const second = await startUnit({}, { dataDir });
  t.teardown(() => second.stop());
  const after = second.server.cellar.store;
  t.is(after.findCell('exporter')!.job, undefined);
  t.is(after.findCell('exporter')!.status, 'normal');
  const importer = after.findCell('importer')!;
  t.is(importer.job, undefined);
  t.is(importer.status, 'import failed');
  t.regex(importer.importFailure!.message.message.value, /interrupted|stopped/);
  t.is(importer.importFailure!.importation_name, 'i1');
});
