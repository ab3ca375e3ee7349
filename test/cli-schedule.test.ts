// `cellar schedule get|set|rm CELL` against a real unit over a socket: what each prints, its
// --json output, and the exit codes of refusals (1) and of command lines that cannot run (2).
import test from 'ava';
import { workspace } from './helpers/cli.ts';
import { json } from './helpers/unit.ts';

test('cellar schedule set, get and rm manage the export schedule of a cell', async (t) => {
  const { unit, run } = await workspace(t);
  const set = await run(['schedule', 'set', 'cell1', '--cron', '0 3 * * *', '--keep', '5', '--time-zone', 'Europe/Berlin']);
  t.is(set.code, 0, set.stderr);
  t.regex(set.stdout, /^schedule of cell1: 0 3 \* \* \* \(Europe\/Berlin\), keeps the newest 5 of its snapshots$/m);
  t.regex(set.stdout, /^next run: \d{4}-\d\d-\d\dT0[12]:00:00\.000Z$/m, '03:00 in Berlin is 01:00 or 02:00 UTC');
  t.regex(set.stdout, /^its snapshots: none yet$/m);
  t.like(json(await unit.as({ method: 'GET', url: '/cell1/__export/schedule' })), { cron: '0 3 * * *', keep: 5, timeZone: 'Europe/Berlin' });

  const got = await run(['--json', 'schedule', 'get', 'cell1']);
  t.is(got.code, 0);
  t.like(JSON.parse(got.stdout), { cron: '0 3 * * *', keep: 5, timeZone: 'Europe/Berlin', lastRun: null, snapshots: [] });

  const replaced = await run(['schedule', 'set', 'cell1', '--cron', '*/30 * * * *']);
  t.is(replaced.code, 0);
  t.regex(replaced.stdout, /\*\/30 \* \* \* \* \(UTC\), keeps the newest 7/);

  const removed = await run(['schedule', 'rm', 'cell1']);
  t.is(removed.code, 0);
  t.regex(removed.stdout, /removed the export schedule of cell1/);
  const gone = await run(['schedule', 'get', 'cell1']);
  t.is(gone.code, 1);
  t.regex(gone.stderr, /^cellar: PR404-SC-0001 The cell has no export schedule\. \(HTTP 404\)$/m);
});

test('cellar schedule set with a bad pattern or zone exits 1 with the unit\'s PR400-SC-0001; a bad command line exits 2', async (t) => {
  const { run } = await workspace(t);
  const badCron = await run(['schedule', 'set', 'cell1', '--cron', '0 25 * * *']);
  t.is(badCron.code, 1);
  t.regex(badCron.stderr, /PR400-SC-0001 Export schedule field \[cron\] is invalid: .*Invalid value for hour: 25.*\(HTTP 400\)/);
  const badZone = await run(['--json', 'schedule', 'set', 'cell1', '--cron', '0 3 * * *', '--time-zone', 'Nowhere/City']);
  t.is(badZone.code, 1);
  t.is(JSON.parse(badZone.stderr).error.code, 'PR400-SC-0001');
  t.is((await run(['schedule', 'set', 'cell1'])).code, 2, '--cron is required');
  const badKeep = await run(['schedule', 'set', 'cell1', '--cron', '0 3 * * *', '--keep', 'many']);
  t.is(badKeep.code, 2);
  t.regex(badKeep.stderr, /--keep must be a whole number/);
  t.is((await run(['schedule', 'get', 'nocell'])).code, 1);
});
