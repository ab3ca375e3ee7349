// `{CellURL}__export/schedule`: set, read and removed over HTTP with the __export gates; bad
// bodies get 400 PR400-SC-0001 naming the field and change nothing; the schedule lives in the
// unit store (not in the cell's export) and goes with the cell.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { errorBody } from '../core/errors.ts';
import { CorruptFileError } from '../core/json-file.ts';
import { UnitStore } from '../core/store.ts';
import { areaDirOf, holdExportAt, postExport, untilReady } from './helpers/export.ts';
import { FakeClock } from './helpers/fake-clock.ts';
import { json, startUnit, type TestUnit } from './helpers/unit.ts';
import { readZip } from './helpers/zip.ts';

const url = '/cell1/__export/schedule';

async function unitWithCell(t: import('ava').ExecutionContext, clock = new FakeClock('2026-12-01T10:00:00Z')): Promise<{ unit: TestUnit; clock: FakeClock }> {
  const unit = await startUnit({}, { clock });
  t.teardown(() => unit.stop());
  await unit.createCell('cell1');
  return { unit, clock };
}

const put = (unit: TestUnit, body: unknown) => unit.as({ method: 'PUT', url, payload: typeof body === 'string' ? body : JSON.stringify(body) });

test('PUT sets a schedule (201), PUT again replaces it (200), GET shows it with its next run', async (t) => {
  const { unit, clock } = await unitWithCell(t);
  const created = await put(unit, { cron: '0 3 * * *', keep: 7, timeZone: 'Asia/Tokyo' });
  t.is(created.statusCode, 201);
  t.regex(created.headers['content-type'] as string, /^application\/json/);
  t.deepEqual(json(created), { cron: '0 3 * * *', keep: 7, timeZone: 'Asia/Tokyo', nextRunAt: '2026-12-01T18:00:00.000Z', lastRun: null, snapshots: [] });
  t.deepEqual(clock.pendingTimes(), ['2026-12-01T18:00:00.000Z']);

  const replaced = await put(unit, { cron: '30 1 * * 0' });
  t.is(replaced.statusCode, 200);
  t.deepEqual(json(replaced), { cron: '30 1 * * 0', keep: 7, timeZone: 'UTC', nextRunAt: '2026-12-06T01:30:00.000Z', lastRun: null, snapshots: [] }, 'keep 7 and UTC by default');
  t.deepEqual(json(await unit.as({ method: 'GET', url })), json(replaced));
  t.deepEqual(clock.pendingTimes(), ['2026-12-06T01:30:00.000Z'], 'the old schedule is disarmed');
});

const refusals: Array<[string, unknown, string, string]> = [
  ['a cron value above its range', { cron: '61 * * * *' }, 'cron', 'is not a five-field cron pattern (minute hour day-of-month month day-of-week): Invalid value for minute: 61'],
  ['a six-field cron', { cron: '0 0 3 * * *' }, 'cron', "is not a five-field cron pattern (minute hour day-of-month month day-of-week): mode '5-part' requires exactly 5 parts, but pattern '0 0 3 * * *' has 6 parts."],
  ['a cron that is no pattern', { cron: 'every night' }, 'cron', "is not a five-field cron pattern (minute hour day-of-month month day-of-week): invalid configuration format ('every night'), exactly five, six, or seven space separated parts are required."],
  ['a cron that never falls on a time', { cron: '0 0 30 2 *' }, 'cron', 'never falls on a time'],
  ['no cron', { keep: 3 }, 'cron', 'is required'],
  ['a cron that is not a string', { cron: 5 }, 'cron', 'must be a string'],
  ['an unknown time zone', { cron: '0 3 * * *', timeZone: 'Mars/Olympus_Mons' }, 'timeZone', 'is not a time zone the server knows (an IANA name such as "Europe/Berlin", or "UTC")'],
  ['keep 0', { cron: '0 3 * * *', keep: 0 }, 'keep', 'must be from 1 to 1000'],
  ['keep as a string', { cron: '0 3 * * *', keep: '7' }, 'keep', 'must be a number'],
  ['keep 1.5', { cron: '0 3 * * *', keep: 1.5 }, 'keep', 'must be a whole number'],
  ['an unknown field', { cron: '0 3 * * *', Keep: 3 }, 'Keep', 'is not a field of a schedule (cron, keep, timeZone)'],
];

for (const [what, body, field, reason] of refusals) {
  test(`PUT with ${what} gets 400 PR400-SC-0001 naming ${field}, and the schedule stays as it was`, async (t) => {
    const { unit, clock } = await unitWithCell(t);
    t.is((await put(unit, { cron: '0 3 * * *' })).statusCode, 201);
    const before = json(await unit.as({ method: 'GET', url }));
    const res = await put(unit, body);
    t.is(res.statusCode, 400);
    t.deepEqual(json(res), errorBody('PR400-SC-0001', [field, reason]));
    t.deepEqual(json(await unit.as({ method: 'GET', url })), before);
    t.deepEqual(clock.pendingTimes(), ['2026-12-02T03:00:00.000Z']);
  });
}

test('a body that is not a JSON object gets 400 PR400-CM-0004', async (t) => {
  const { unit } = await unitWithCell(t);
  t.deepEqual(json(await put(unit, '{"cron":')), errorBody('PR400-CM-0004', ['{"cron":']));
  t.deepEqual(json(await put(unit, '')), errorBody('PR400-CM-0004', ['']));
  t.deepEqual(json(await put(unit, '["0 3 * * *"]')), errorBody('PR400-CM-0004', ['["0 3 * * *"]']));
});

test('GET and DELETE of a cell without a schedule get 404 PR404-SC-0001; DELETE removes one (204) and disarms it', async (t) => {
  const { unit, clock } = await unitWithCell(t);
  t.deepEqual(json(await unit.as({ method: 'GET', url })), errorBody('PR404-SC-0001'));
  t.is((await unit.as({ method: 'GET', url })).statusCode, 404);
  t.deepEqual(json(await unit.as({ method: 'DELETE', url })), errorBody('PR404-SC-0001'));
  await put(unit, { cron: '0 3 * * *' });
  const removed = await unit.as({ method: 'DELETE', url });
  t.is(removed.statusCode, 204);
  t.is(removed.payload, '');
  t.is((await unit.as({ method: 'GET', url })).statusCode, 404);
  t.deepEqual(clock.pendingTimes(), []);
});

test('the schedule URL needs the master token, an existing cell, and answers 405 with Allow to other methods', async (t) => {
  const { unit } = await unitWithCell(t);
  t.deepEqual(json(await unit.inject({ method: 'GET', url })), errorBody('PR401-AU-0001'));
  t.deepEqual(json(await unit.inject({ method: 'PUT', url, payload: '{"cron":"0 3 * * *"}', headers: { authorization: 'Bearer wrong-token-0000000000' } })), errorBody('PR401-AU-0006'));
  t.deepEqual(json(await unit.as({ method: 'GET', url: '/nocell/__export/schedule' })), errorBody('PR404-DV-0003'));
  const post = await unit.as({ method: 'POST', url, payload: '{}' });
  t.is(post.statusCode, 405);
  t.is(post.headers.allow, 'OPTIONS, GET, PUT, DELETE');
  const options = await unit.inject({ method: 'OPTIONS', url });
  t.is(options.statusCode, 200);
  t.is(options.headers.allow, 'OPTIONS, GET, PUT, DELETE');
});

test('while the cell exports a PUT gets 409 PR409-CM-0002 and GET goes on; an import-failed cell closes it like __export', async (t) => {
  const { unit } = await unitWithCell(t);
  await put(unit, { cron: '0 3 * * *' });
  const hold = holdExportAt(unit);
  t.is((await postExport(unit, 'cell1', { Name: 'running' })).statusCode, 202);
  await hold.reached;
  t.deepEqual(json(await put(unit, { cron: '0 4 * * *' })), errorBody('PR409-CM-0002', ['cell export']));
  t.is(json(await unit.as({ method: 'GET', url })).cron, '0 3 * * *');
  hold.release();
  await untilReady(unit, 'cell1');

  const { status, store } = unit.server.cellar;
  const id = store.findCell('cell1')!.id;
  await status.accept(id, 'import', 'x');
  await status.importFailed(id, errorBody('PR400-SN-0006', ['test']));
  t.deepEqual(json(await unit.as({ method: 'GET', url })), errorBody('PR409-CM-0001'));
  t.deepEqual(json(await put(unit, { cron: '0 4 * * *' })), errorBody('PR409-CM-0001'));
});

test('the schedule is kept in unit.json, never in the cell\'s export, and goes with the cell', async (t) => {
  const { unit, clock } = await unitWithCell(t);
  await put(unit, { cron: '17 4 * * *', keep: 3, timeZone: 'Europe/Paris' });
  const stored = JSON.parse(await readFile(path.join(unit.dataDir, 'unit.json'), 'utf8'));
  t.like(stored.cells[0].exportSchedule, { cron: '17 4 * * *', keep: 3, timeZone: 'Europe/Paris', made: [] });

  t.is((await postExport(unit, 'cell1', { Name: 'plain' })).statusCode, 202);
  await untilReady(unit, 'cell1');
  const entries = await readZip(path.join(areaDirOf(unit, 'cell1'), 'plain.zip'));
  for (const [name, entry] of entries) t.false(entry.data.includes('17 4 * * *') || entry.data.includes('Europe/Paris'), `${name} holds nothing of the schedule`);

  t.is((await unit.as({ method: 'DELETE', url: '/cell1/', headers: { 'x-personium-recursive': 'true' } })).statusCode, 204);
  t.deepEqual(clock.pendingTimes(), [], 'no run is left armed');
  await unit.createCell('cell1');
  t.deepEqual(json(await unit.as({ method: 'GET', url })), errorBody('PR404-SC-0001'));
  t.false((await readFile(path.join(unit.dataDir, 'unit.json'), 'utf8')).includes('exportSchedule'));
});

test('a unit.json from before schedules loads; one with a malformed schedule is refused at start', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cellar-schedule-store-'));
  const cell = { id: 'c1', name: 'cell1', createdAt: 1, updatedAt: 1, status: 'normal', contentId: 'content-1' };
  await writeFile(path.join(dir, 'unit.json'), JSON.stringify({ version: 1, cells: [cell] }));
  const old = new UnitStore(dir);
  await old.initialize();
  t.is(old.findCell('cell1')?.exportSchedule, undefined);

  await writeFile(path.join(dir, 'unit.json'), JSON.stringify({ version: 1, cells: [{ ...cell, exportSchedule: { cron: '0 3 * * *', keep: 'all', timeZone: 'UTC', setAt: 'x', made: [] } }] }));
  const error = await t.throwsAsync(new UnitStore(dir).initialize(), { instanceOf: CorruptFileError });
  t.regex(error!.message, /cells\[0\]\.exportSchedule has no valid keep/);
});
