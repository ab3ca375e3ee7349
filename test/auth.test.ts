import { spawn } from 'node:child_process';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { holdsPrivilege, loadMasterToken } from '../core/auth.ts';
import { errorBody } from '../core/errors.ts';
import { json, startUnit, type TestUnit } from './helpers/unit.ts';

let unit: TestUnit;
test.before(async () => {
  unit = await startUnit();
  await unit.createCell('cell1');
});
test.after.always(() => unit.stop());

test('a request without credentials gets 401 PR401-AU-0001 and a Bearer challenge for the cell', async (t) => {
  const res = await unit.inject({ method: 'PROPFIND', url: '/cell1/', headers: { depth: '0' } });
  t.is(res.statusCode, 401);
  t.deepEqual(json(res), errorBody('PR401-AU-0001'));
  t.is(res.headers['www-authenticate'], 'Bearer realm="http://unit.test/cell1/"');
});

test('unit-level requests without credentials are challenged with the unit URL', async (t) => {
  const res = await unit.inject('/__ctl/Cell');
  t.is(res.statusCode, 401);
  t.is(res.headers['www-authenticate'], 'Bearer realm="http://unit.test/"');
});

test('a wrong token gets 401 PR401-AU-0006 and another scheme 401 PR401-AU-0003', async (t) => {
  const wrong = await unit.inject({ url: '/__ctl/Cell', headers: { authorization: 'Bearer not-the-token' } });
  t.is(wrong.statusCode, 401);
  t.is(json(wrong).code, 'PR401-AU-0006');
  const basic = await unit.inject({ url: '/__ctl/Cell', headers: { authorization: 'Basic dXNlcjpwYXNz' } });
  t.is(basic.statusCode, 401);
  t.is(json(basic).code, 'PR401-AU-0003');
});

test('the master token holds every privilege of every cell', (t) => {
  for (const privilege of ['root', 'read', 'write'] as const) t.true(holdsPrivilege({ kind: 'unit-master' }, 'any-cell', privilege));
});

test('a token of cell A never opens cell B, and lacks what its roles do not grant', (t) => {
  const readerOfA = { kind: 'cell', cellId: 'A', privileges: ['read'] } as const;
  t.true(holdsPrivilege(readerOfA, 'A', 'read'));
  t.false(holdsPrivilege(readerOfA, 'A', 'write'));
  t.false(holdsPrivilege(readerOfA, 'A', 'root'));
  t.false(holdsPrivilege(readerOfA, 'B', 'read'));
  t.false(holdsPrivilege({ kind: 'cell', cellId: 'A', privileges: ['root'] }, 'B', 'root'));
  t.false(holdsPrivilege(undefined, 'A', 'read'));
});

test('a valid token without the privilege gets 403 PR403-AU-0002', async (t) => {
  // A cell token of another cell, plugged in through the resolver the scheme is built on.
  const other = await startUnit();
  t.teardown(() => other.stop());
  await other.createCell('cell1');
  const { store } = other.server.cellar;
  other.server.ext('onPostAuth', (request, h) => {
    if (request.headers['x-test-as'] === 'foreign-cell-token') request.auth.credentials.app = { cellar: { kind: 'cell', cellId: 'someone-else', privileges: ['root'] } };
    return h.continue;
  }, { before: ['cellar-cell-access'] });
  const res = await other.as({ method: 'PROPFIND', url: '/cell1/', headers: { depth: '0', 'x-test-as': 'foreign-cell-token' } });
  t.is(res.statusCode, 403);
  t.deepEqual(json(res), errorBody('PR403-AU-0002'));
  t.truthy(store.findCell('cell1'));
});

test('without a configured master token one is generated once, kept with mode 0600, and reused', async (t) => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'cellar-token-'));
  const first = await loadMasterToken('', dataDir);
  t.true(first.generated);
  t.is(first.file, path.join(dataDir, 'master-token'));
  t.is((await stat(first.file!)).mode & 0o777, 0o600);
  t.is((await readFile(first.file!, 'utf8')).trim(), first.token);
  const second = await loadMasterToken('', dataDir);
  t.false(second.generated);
  t.is(second.token, first.token);
  const configured = await loadMasterToken('configured-token-0123456789', dataDir);
  t.is(configured.token, 'configured-token-0123456789');
  t.is(configured.file, undefined);
});

test('the start-up log names the generated token file and never the token', async (t) => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'cellar-start-'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/server.ts'], {
    env: { ...process.env, CELLAR_DATA_DIR: dataDir, CELLAR_PORT: '0', CELLAR_HOST: '127.0.0.1', CELLAR_MASTER_TOKEN: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => { output += String(chunk); });
  const deadline = Date.now() + 20_000;
  while (!output.includes('master token') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  child.kill('SIGTERM');
  const code = await new Promise((resolve) => child.once('exit', resolve));
  const token = (await readFile(path.join(dataDir, 'master-token'), 'utf8')).trim();
  t.true(output.includes(path.join(dataDir, 'master-token')));
  t.false(output.includes(token));
  t.is(code, 0, 'SIGTERM stops the server gracefully');
  t.regex(output, /"msg":"stopped"/);
});
