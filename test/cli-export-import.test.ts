import test from 'ava';
import { workspace } from './helpers/cli.ts';
import { areaFiles, untilReady } from './helpers/export.ts';

/** A workspace whose cell1 holds box1. */
async function setUp(t: { teardown(fn: () => Promise<void>): void }) {
  const space = await workspace(t);
  await space.unit.createBox('cell1', 'box1');
  return space;
}

test('export without --wait returns once the unit has accepted it, and the .zip appears later', async (t) => {
  const { unit, run } = await setUp(t);
  const started = await run(['export', 'cell1', '--name', 'snap1']);
  t.is(started.code, 0, started.stderr);
  t.is(started.stdout, 'export snap1 of cell1 started; snap1.zip appears in its snapshot area when done\n');
  await untilReady(unit, 'cell1');
  t.deepEqual(await areaFiles(unit, 'cell1'), ['snap1.zip']);
});

test('export without --name names the snapshot {cell}_yyyyMMdd_HHmmss in UTC, as the unit would', async (t) => {
  const { unit, run } = await setUp(t);
  const started = await run(['--json', 'export', 'cell1']);
  t.is(started.code, 0, started.stderr);
  const result = JSON.parse(started.stdout);
  t.like(result, { cell: 'cell1', status: 'started' });
  t.regex(result.name, /^cell1_\d{8}_\d{6}$/);
  await untilReady(unit, 'cell1');
  t.deepEqual(await areaFiles(unit, 'cell1'), [`${result.name}.zip`]);
});

test('an export over an existing snapshot name is refused with PR409-DV-0002 and exit code 1', async (t) => {
  const { unit, run } = await setUp(t);
  await run(['export', 'cell1', '--name', 'snap1']);
  await untilReady(unit, 'cell1');
  const again = await run(['export', 'cell1', '--name', 'snap1', '--wait']);
  t.is(again.code, 1);
  t.is(again.stderr, 'cellar: PR409-DV-0002 File [snap1.zip] already exists. (HTTP 409)\n');
});

test('an export name the unit does not accept is refused with its code and message', async (t) => {
  const { run } = await setUp(t);
  const refused = await run(['export', 'cell1', '--name', 'no spaces']);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /^cellar: PR400-CM-0002 Field \[Name\] format error\..*\(HTTP 400\)\n$/);
});
