// Scheduled exports on an injected clock: runs fall at the times the pattern gives in the
// schedule's zone, each is an ordinary export, retention keeps exactly `keep` of the schedule's own
// snapshots and none of anyone else's, a run missed while the server was down happens once at the
// next start, and a run that falls while the cell is busy or `import failed` is skipped and logged.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { areaFiles, holdExportAt, postExport, untilReady } from './helpers/export.ts';
import { FakeClock } from './helpers/fake-clock.ts';
import { canMount, fillUntil, mountSmallFileSystem, removeFiller } from './helpers/small-file-system.ts';
import { buildZip, importStatus, snapshotEntries } from './helpers/snapshot-zip.ts';
import { json, startUnit, type TestUnit } from './helpers/unit.ts';

async function unitAt(t: import('ava').ExecutionContext, clock: FakeClock, dataDir?: string): Promise<TestUnit> {
  const unit = await startUnit({}, { clock, ...(dataDir ? { dataDir } : {}) });
  t.teardown(() => unit.stop());
  return unit;
}

async function setSchedule(unit: TestUnit, body: Record<string, unknown>, cell = 'cell1') {
  const res = await unit.as({ method: 'PUT', url: `/${cell}/__export/schedule`, payload: JSON.stringify(body) });
  if (res.statusCode !== 201 && res.statusCode !== 200) throw new Error(`PUT schedule ${res.statusCode} ${res.payload}`);
  return json(res);
}

/** A data directory that outlives the units of a test (they restart on it), removed after it. */
async function keptDataDir(t: import('ava').ExecutionContext): Promise<string> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'cellar-schedule-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  return dataDir;
}

/** A unit on `dataDir` with cell1 on an hourly schedule; stopped by the test itself. */
async function hourlyUnitOn(dataDir: string, clock: FakeClock, keep: number): Promise<TestUnit> {
  const unit = await startUnit({}, { dataDir, clock });
  await unit.createCell('cell1');
  await setSchedule(unit, { cron: '0 * * * *', keep, timeZone: 'UTC' });
  return unit;
}

const getSchedule = async (unit: TestUnit, cell = 'cell1') => json(await unit.as({ method: 'GET', url: `/${cell}/__export/schedule` }));
const zips = async (unit: TestUnit, cell = 'cell1') => (await areaFiles(unit, cell)).filter((name) => name.endsWith('.zip'));

test('a weekday schedule in Europe/Berlin runs at 09:00 Berlin time on working days only, each run an ordinary export', async (t) => {
  const clock = new FakeClock('2026-12-03T12:00:00Z');
  const unit = await unitAt(t, clock);
  await unit.createCell('cell1');
  const set = await setSchedule(unit, { cron: '0 9 * * 1-5', keep: 10, timeZone: 'Europe/Berlin' });
  t.is(set.nextRunAt, '2026-12-04T08:00:00.000Z', 'Friday 09:00 CET');

  await clock.advanceTo('2026-12-04T07:59:59Z');
  t.deepEqual(await zips(unit), []);

  // The run shows in GET __export like any export while it runs.
  const hold = holdExportAt(unit);
  const advancing = clock.advanceTo('2026-12-04T08:00:00Z');
  await hold.reached;
  const status = json(await unit.as({ method: 'GET', url: '/cell1/__export' }));
  t.is(status.status, 'exportation in progress');
  t.is(status.exportation_name, 'cell1_20261204_080000');
  hold.release();
  await advancing;
  unit.hooks.export = undefined;

  await clock.advanceTo('2026-12-08T12:00:00Z');
  t.deepEqual(await zips(unit), ['cell1_20261204_080000.zip', 'cell1_20261207_080000.zip', 'cell1_20261208_080000.zip'], 'Friday, Monday, Tuesday; not the weekend');
  const schedule = await getSchedule(unit);
  t.deepEqual(schedule.lastRun, { at: '2026-12-08T08:00:00.000Z', outcome: 'exported', name: 'cell1_20261208_080000' });
  t.is(schedule.nextRunAt, '2026-12-09T08:00:00.000Z');
});

test('a schedule in America/New_York follows the zone across the change to daylight saving time', async (t) => {
  const clock = new FakeClock('2027-03-13T12:00:00Z');
  const unit = await unitAt(t, clock);
  await unit.createCell('cell1');
  await setSchedule(unit, { cron: '0 12 * * *', keep: 5, timeZone: 'America/New_York' });
  await clock.advanceTo('2027-03-15T00:00:00Z');
  t.deepEqual(await zips(unit), ['cell1_20270313_170000.zip', 'cell1_20270314_160000.zip'], 'noon EST is 17:00 UTC, noon EDT 16:00 UTC');
});

test('retention keeps exactly keep of the snapshots the schedule made and never removes anyone else\'s', async (t) => {
  const clock = new FakeClock('2026-12-01T00:30:00Z');
  const unit = await unitAt(t, clock);
  await unit.createCell('cell1');
  t.is((await postExport(unit, 'cell1', { Name: 'by-hand' })).statusCode, 202);
  await untilReady(unit, 'cell1');
  const uploaded = Buffer.from('a person uploaded this');
  t.is((await unit.as({ method: 'PUT', url: '/cell1/__snapshot/uploaded.zip', payload: uploaded })).statusCode, 201);
  await setSchedule(unit, { cron: '0 * * * *', keep: 2, timeZone: 'UTC' });

  await clock.advanceTo('2026-12-01T01:00:00Z');
  t.deepEqual(await zips(unit), ['by-hand.zip', 'cell1_20261201_010000.zip', 'uploaded.zip']);
  // A person replaces the schedule's first snapshot: from then on it is theirs.
  t.is((await unit.as({ method: 'PUT', url: '/cell1/__snapshot/cell1_20261201_010000.zip', payload: Buffer.from('replaced by hand') })).statusCode, 204);
  t.deepEqual((await getSchedule(unit)).snapshots, [], 'the replaced file is no longer listed as the schedule\'s');

  await clock.advanceTo('2026-12-01T04:00:00Z');
  t.deepEqual(await zips(unit), ['by-hand.zip', 'cell1_20261201_010000.zip', 'cell1_20261201_030000.zip', 'cell1_20261201_040000.zip', 'uploaded.zip']);
  t.deepEqual((await getSchedule(unit)).snapshots, ['cell1_20261201_030000.zip', 'cell1_20261201_040000.zip']);

  await clock.advanceTo('2026-12-01T05:00:00Z');
  t.deepEqual(await zips(unit), ['by-hand.zip', 'cell1_20261201_010000.zip', 'cell1_20261201_040000.zip', 'cell1_20261201_050000.zip', 'uploaded.zip']);
  const area = unit.server.cellar.snapshots.of(unit.server.cellar.store.findCell('cell1')!.id).dir;
  t.deepEqual(await readFile(path.join(area, 'uploaded.zip')), uploaded);
  t.is(await readFile(path.join(area, 'cell1_20261201_010000.zip'), 'utf8'), 'replaced by hand');
  t.true(unit.logs.some((line) => line.includes('removed scheduled snapshots beyond keep') && line.includes('cell1_20261201_030000.zip')));
});

test('a run missed while the server was down happens once at the next start, and not again at the one after', async (t) => {
  const dataDir = await keptDataDir(t);
  const first = new FakeClock('2026-12-01T00:00:00Z');
  const before = await startUnit({}, { dataDir, clock: first });
  await before.createCell('cell1');
  await setSchedule(before, { cron: '0 3 * * *', keep: 7, timeZone: 'UTC' });
  await first.advanceTo('2026-12-01T03:00:00Z');
  await before.stop();

  // Down from Dec 1 to Dec 4 noon: three runs (Dec 2, 3, 4 at 03:00) fell meanwhile.
  const second = new FakeClock('2026-12-04T12:00:00Z');
  const after = await startUnit({}, { dataDir, clock: second });
  await second.advanceTo('2026-12-04T12:00:00Z');
  t.deepEqual(await zips(after), ['cell1_20261201_030000.zip', 'cell1_20261204_120000.zip'], 'one run made up, not three');
  const schedule = await getSchedule(after);
  t.is(schedule.lastRun.at, '2026-12-04T12:00:00.000Z');
  t.is(schedule.nextRunAt, '2026-12-05T03:00:00.000Z');
  t.true(after.logs.some((line) => line.includes('fell while the server was down') && line.includes('2026-12-02T03:00:00.000Z')));
  await after.stop();

  const third = new FakeClock('2026-12-04T12:30:00Z');
  const again = await startUnit({}, { dataDir, clock: third });
  t.teardown(() => again.stop());
  await third.advanceTo('2026-12-04T12:30:00Z');
  t.deepEqual(await zips(again), ['cell1_20261201_030000.zip', 'cell1_20261204_120000.zip']);
  t.deepEqual(third.pendingTimes(), ['2026-12-05T03:00:00.000Z'], 'only the next run is armed');
});

test('a run that falls while the cell is exporting or import failed is skipped and logged, and the next one runs', async (t) => {
  const clock = new FakeClock('2026-12-01T00:30:00Z');
  const unit = await unitAt(t, clock);
  await unit.createCell('cell1');
  await setSchedule(unit, { cron: '0 * * * *', keep: 5, timeZone: 'UTC' });

  const hold = holdExportAt(unit);
  t.is((await postExport(unit, 'cell1', { Name: 'by-hand' })).statusCode, 202);
  await hold.reached;
  await clock.advanceTo('2026-12-01T01:00:00Z');
  t.deepEqual((await getSchedule(unit)).lastRun, { at: '2026-12-01T01:00:00.000Z', outcome: 'skipped', reason: 'the cell is busy (cell export)' });
  t.true(unit.logs.some((line) => line.includes('scheduled export skipped: the cell is busy (cell export)')));
  hold.release();
  await untilReady(unit, 'cell1');
  unit.hooks.export = undefined;
  t.deepEqual(await zips(unit), ['by-hand.zip']);

  await clock.advanceTo('2026-12-01T02:00:00Z');
  t.deepEqual(await zips(unit), ['by-hand.zip', 'cell1_20261201_020000.zip']);

  const bad = buildZip(snapshotEntries({ checksums: (sums) => { sums['20_webdav/__/top.txt/content']!.sha256 = '0'.repeat(64); } }));
  t.is((await unit.as({ method: 'PUT', url: '/cell1/__snapshot/bad.zip', payload: bad })).statusCode, 201);
  t.is((await unit.as({ method: 'POST', url: '/cell1/__import', payload: { Name: 'bad' } })).statusCode, 202);
  t.is((await importStatus(unit)).status, 'import failed');
  await clock.advanceTo('2026-12-01T03:00:00Z');
  t.deepEqual(await zips(unit), ['bad.zip', 'by-hand.zip', 'cell1_20261201_020000.zip']);
  t.true(unit.logs.some((line) => line.includes('scheduled export skipped: the cell is import failed')));
});

test('a run whose export fails records the failure and removes nothing', async (t) => {
  const clock = new FakeClock('2026-12-01T00:30:00Z');
  const unit = await unitAt(t, clock);
  await unit.createCell('cell1');
  await setSchedule(unit, { cron: '0 * * * *', keep: 1, timeZone: 'UTC' });
  await clock.advanceTo('2026-12-01T01:00:00Z');
  unit.hooks.export = async () => { throw new Error('the disk broke'); };
  await clock.advanceTo('2026-12-01T02:00:00Z');
  t.deepEqual((await areaFiles(unit, 'cell1')).filter((name) => !name.startsWith('.')), ['cell1_20261201_010000.zip', 'cell1_20261201_020000.error']);
  t.deepEqual((await getSchedule(unit)).lastRun, { at: '2026-12-01T02:00:00.000Z', outcome: 'export failed', name: 'cell1_20261201_020000', reason: 'see cell1_20261201_020000.error' });
});

test('a run whose export the unit refuses (a zip of that name is there) is skipped and logged, the file left alone', async (t) => {
  const clock = new FakeClock('2026-12-01T00:30:00Z');
  const unit = await unitAt(t, clock);
  await unit.createCell('cell1');
  await setSchedule(unit, { cron: '0 * * * *', keep: 1, timeZone: 'UTC' });
  t.is((await unit.as({ method: 'PUT', url: '/cell1/__snapshot/cell1_20261201_010000.zip', payload: Buffer.from('mine') })).statusCode, 201);
  await clock.advanceTo('2026-12-01T01:00:00Z');
  t.deepEqual((await getSchedule(unit)).lastRun, { at: '2026-12-01T01:00:00.000Z', outcome: 'skipped', reason: 'File [cell1_20261201_010000.zip] already exists.' });
  t.true(unit.logs.some((line) => line.includes('scheduled export skipped: File [cell1_20261201_010000.zip] already exists.')));
  const area = unit.server.cellar.snapshots.of(unit.server.cellar.store.findCell('cell1')!.id).dir;
  t.is(await readFile(path.join(area, 'cell1_20261201_010000.zip'), 'utf8'), 'mine');
});

const onSmallDisk = canMount ? test : test.skip;

onSmallDisk('a run that falls while the disk is below the free-space floor is skipped and logged', async (t) => {
  const mount = await mountSmallFileSystem(t, 16);
  const clock = new FakeClock('2026-12-01T00:30:00Z');
  const unit = await hourlyUnitOn(path.join(mount, 'data'), clock, 1);
  t.teardown(() => unit.stop());
  // The floor of a 16 MiB file system is 1% of it, about 160 KiB.
  await fillUntil(mount, 64 * 1024);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  await clock.advanceTo('2026-12-01T01:00:00Z');
  t.deepEqual((await getSchedule(unit)).lastRun, { at: '2026-12-01T01:00:00.000Z', outcome: 'skipped', reason: 'the disk is almost full' });
  t.deepEqual(await zips(unit), []);
  await removeFiller(mount);
});

test('a scheduled run a crash cut short shows as export failed after the restart', async (t) => {
  const dataDir = await keptDataDir(t);
  const clock = new FakeClock('2026-12-01T00:30:00Z');
  const before = await hourlyUnitOn(dataDir, clock, 3);
  await before.stop();
  // What a kill during the 01:00 run leaves in unit.json: the run recorded, its job record on disk.
  const file = path.join(dataDir, 'unit.json');
  const stored = JSON.parse(await readFile(file, 'utf8'));
  stored.cells[0].exportSchedule.lastRun = { at: '2026-12-01T01:00:00.000Z', outcome: 'exporting', name: 'cell1_20261201_010000' };
  stored.cells[0].job = { kind: 'export', name: 'cell1_20261201_010000', startedAt: '2026-12-01T01:00:00.000Z' };
  await writeFile(file, JSON.stringify(stored));

  const after = await startUnit({}, { dataDir, clock: new FakeClock('2026-12-01T01:10:00Z') });
  t.teardown(() => after.stop());
  t.deepEqual((await getSchedule(after)).lastRun, {
    at: '2026-12-01T01:00:00.000Z',
    outcome: 'export failed',
    name: 'cell1_20261201_010000',
    reason: 'the server stopped during the export; see cell1_20261201_010000.error',
  });
  t.true((await areaFiles(after, 'cell1')).includes('cell1_20261201_010000.error'));
});

test('a schedule replaced after its last run owes no run from before it was set', async (t) => {
  const dataDir = await keptDataDir(t);
  const clock = new FakeClock('2026-12-01T02:30:00Z');
  const before = await startUnit({}, { dataDir, clock });
  await before.createCell('cell1');
  await setSchedule(before, { cron: '0 3 * * *', keep: 3, timeZone: 'UTC' });
  await clock.advanceTo('2026-12-01T03:00:00Z');
  // The next day at noon the pattern becomes 06:00: its 06:00 of that day fell before it was set.
  await clock.advanceTo('2026-12-02T12:00:00Z');
  t.is((await getSchedule(before)).lastRun.at, '2026-12-02T03:00:00.000Z');
  await setSchedule(before, { cron: '0 6 * * *', keep: 3, timeZone: 'UTC' });
  await before.stop();

  const later = new FakeClock('2026-12-02T13:00:00Z');
  const after = await startUnit({}, { dataDir, clock: later });
  t.teardown(() => after.stop());
  await later.advanceTo('2026-12-02T13:00:00Z');
  t.deepEqual(await zips(after), ['cell1_20261201_030000.zip', 'cell1_20261202_030000.zip']);
  t.deepEqual(later.pendingTimes(), ['2026-12-03T06:00:00.000Z']);
});

test('a snapshot of the schedule that a person renamed with MOVE is theirs, and a file moved onto a schedule name is not the schedule\'s', async (t) => {
  const clock = new FakeClock('2026-12-01T00:30:00Z');
  const unit = await unitAt(t, clock);
  await unit.createCell('cell1');
  await setSchedule(unit, { cron: '0 * * * *', keep: 1, timeZone: 'UTC' });
  const move = (from: string, to: string) => unit.as({ method: 'MOVE', url: `/cell1/__snapshot/${from}`, headers: { destination: `http://unit.test/cell1/__snapshot/${to}`, overwrite: 'T' } });
  await clock.advanceTo('2026-12-01T01:00:00Z');
  t.is((await move('cell1_20261201_010000.zip', 'kept-by-me.zip')).statusCode, 201);
  await clock.advanceTo('2026-12-01T02:00:00Z');
  t.is((await unit.as({ method: 'PUT', url: '/cell1/__snapshot/other.zip', payload: Buffer.from('other') })).statusCode, 201);
  t.is((await move('other.zip', 'cell1_20261201_020000.zip')).statusCode, 204, 'a person moves a file over the schedule\'s');
  await clock.advanceTo('2026-12-01T03:00:00Z');
  t.deepEqual(await zips(unit), ['cell1_20261201_020000.zip', 'cell1_20261201_030000.zip', 'kept-by-me.zip']);
  t.deepEqual((await getSchedule(unit)).snapshots, ['cell1_20261201_030000.zip']);
});

test('stopping the server during a scheduled run ends its export and records it as failed', async (t) => {
  const dataDir = await keptDataDir(t);
  const clock = new FakeClock('2026-12-01T00:30:00Z');
  const unit = await hourlyUnitOn(dataDir, clock, 1);
  const hold = holdExportAt(unit);
  const advancing = clock.advanceTo('2026-12-01T01:00:00Z');
  await hold.reached;
  await unit.stop();
  await advancing;
  const stored = JSON.parse(await readFile(path.join(dataDir, 'unit.json'), 'utf8'));
  t.like(stored.cells[0].exportSchedule.lastRun, { at: '2026-12-01T01:00:00.000Z', outcome: 'export failed', name: 'cell1_20261201_010000' });
  t.is(stored.cells[0].job, undefined);
  const error = JSON.parse(await readFile(path.join(dataDir, 'snapshots', stored.cells[0].id, 'cell1_20261201_010000.error'), 'utf8'));
  t.is(error.code, 'PR503-SV-0002');
});

onSmallDisk('a run whose record cannot be written (a full disk) is logged, and the next run is still armed and runs', async (t) => {
  const mount = await mountSmallFileSystem(t, 16);
  const clock = new FakeClock('2026-12-01T00:30:00Z');
  const unit = await hourlyUnitOn(path.join(mount, 'data'), clock, 1);
  t.teardown(() => unit.stop());
  await fillUntil(mount, 0);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  await clock.advanceTo('2026-12-01T01:00:00Z');
  t.true(unit.logs.some((line) => line.includes('a scheduled export run failed')));
  t.deepEqual(clock.pendingTimes(), ['2026-12-01T02:00:00.000Z']);
  await removeFiller(mount);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  await clock.advanceTo('2026-12-01T02:00:00Z');
  t.deepEqual(await zips(unit), ['cell1_20261201_020000.zip']);
});
