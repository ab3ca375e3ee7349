import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { cellar } from './helpers/cli.ts';
import { addAccountWithRole, bearer, login } from './helpers/identity.ts';
import { json, masterToken, startUnit, type TestUnit } from './helpers/unit.ts';

/** A unit on `dataDir` whose master token is kept in the folder, as a generated one is. */
async function unitOn(dataDir: string): Promise<TestUnit> {
  await mkdir(dataDir, { recursive: true });
  await writeFile(path.join(dataDir, 'master-token'), `${masterToken}\n`, { mode: 0o600, flag: 'wx' }).catch(() => {});
  const unit = await startUnit({ masterToken: '' }, { dataDir });
  await unit.listen();
  return unit;
}

test('a cell token cannot take a backup; after a restore the accounts log in again, tokens issued before still open the cell, and its export schedule is back', async (t) => {
  t.timeout(180_000);
  const work = await mkdtemp(path.join(os.tmpdir(), 'cellar-backup-accounts-'));
  let unit = await unitOn(path.join(work, 'data'));
  t.teardown(async () => {
    await unit.stop();
    await rm(work, { recursive: true, force: true });
  });
  await unit.createCell('cell1');
  await addAccountWithRole(unit, 'cell1', 'owner', 'owner', ['root']);
  const before = await login(unit, 'cell1', 'owner');
  t.is((await unit.inject({ method: 'GET', url: '/cell1/__ctl/Account', headers: bearer(before.access_token) })).statusCode, 200);
  const refused = await unit.inject({ method: 'GET', url: '/__backup', headers: bearer(before.access_token) });
  t.is(refused.statusCode, 403, 'a root token of a cell is not the unit master');
  t.is(json(refused).code, 'PR403-AU-0002');

  const schedule = { cron: '0 3 * * *', keep: 3, timeZone: 'Europe/Berlin' };
  const put = await unit.inject({ method: 'PUT', url: '/cell1/__export/schedule', headers: { authorization: `Bearer ${masterToken}`, 'content-type': 'application/json' }, payload: schedule });
  t.is(put.statusCode, 201, put.payload);

  const backup = await cellar(unit, ['unit', 'backup', 'unit.tar'], { cwd: work });
  t.is(backup.code, 0, backup.stderr);
  t.regex(backup.stdout, /secrets: master-token, token-key; /);
  await unit.stop();
  const restore = await cellar({ url: '' }, ['unit', 'restore', 'unit.tar', '--data-dir', 'restored'], { cwd: work });
  t.is(restore.code, 0, restore.stderr);

  unit = await unitOn(path.join(work, 'restored'));
  const accounts = await unit.inject({ method: 'GET', url: '/cell1/__ctl/Account', headers: bearer(before.access_token) });
  t.is(accounts.statusCode, 200, 'the token key came back with the unit');
  t.deepEqual(json(accounts).d.results.map((account: { Name: string }) => account.Name), ['owner']);
  const again = await login(unit, 'cell1', 'owner');
  t.is((await unit.inject({ method: 'GET', url: "/cell1/__ctl/Role('owner')", headers: bearer(again.access_token) })).statusCode, 200);
  const restored = await unit.inject({ method: 'GET', url: '/cell1/__export/schedule', headers: bearer(again.access_token) });
  t.is(restored.statusCode, 200, restored.payload);
  t.like(json(restored), schedule);
});
