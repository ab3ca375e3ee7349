import { createServer } from 'node:net';
import test from 'ava';
import { cellar, listeningUnit } from './helpers/cli.ts';

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test('cell create, list and delete manage the cells of the unit', async (t) => {
  const unit = await listeningUnit();
  t.teardown(() => unit.stop());
  t.like(await cellar(unit, ['cell', 'create', 'cell1']), { code: 0, stdout: 'created cell cell1\n' });
  t.is((await cellar(unit, ['cell', 'create', 'cell2'])).code, 0);
  t.like(await cellar(unit, ['cell', 'list']), { code: 0, stdout: 'cell1\ncell2\n' });
  t.like(await cellar(unit, ['cell', 'delete', 'cell1']), { code: 0, stdout: 'deleted cell cell1\n' });
  t.like(await cellar(unit, ['cell', 'list']), { code: 0, stdout: 'cell2\n' });
  t.deepEqual(unit.server.cellar.store.findCell('cell1'), undefined);
});

test('with --json the cell commands print JSON on stdout', async (t) => {
  const unit = await listeningUnit();
  t.teardown(() => unit.stop());
  const created = await cellar(unit, ['--json', 'cell', 'create', 'cell1']);
  t.is(JSON.parse(created.stdout).Name, 'cell1');
  const listed = JSON.parse((await cellar(unit, ['--json', 'cell', 'list'])).stdout);
  t.deepEqual(listed.map((cell: { Name: string }) => cell.Name), ['cell1']);
  t.deepEqual(JSON.parse((await cellar(unit, ['cell', 'delete', 'cell1', '--json'])).stdout), { Name: 'cell1', deleted: true });
});

test("a refused request shows the unit's code and message and exits with 1", async (t) => {
  const unit = await listeningUnit();
  t.teardown(() => unit.stop());
  await unit.createCell('cell1');
  const duplicate = await cellar(unit, ['cell', 'create', 'cell1']);
  t.is(duplicate.code, 1);
  t.is(duplicate.stderr, 'cellar: PR409-OD-0003 The entity already exists. (HTTP 409)\n');
  const missing = await cellar(unit, ['--json', 'cell', 'delete', 'nope']);
  t.is(missing.code, 1);
  t.deepEqual(JSON.parse(missing.stderr), { error: { status: 404, code: 'PR404-OD-0002', message: 'The requested resource does not exist.' } });
});

test('a cell that holds a box is deleted only with --recursive', async (t) => {
  const unit = await listeningUnit();
  t.teardown(() => unit.stop());
  await unit.createCell('cell1');
  await unit.createBox('cell1', 'box1');
  const refused = await cellar(unit, ['cell', 'delete', 'cell1']);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /^cellar: PR409-OD-0001 This entity has related data\. .*--recursive/);
  t.is((await cellar(unit, ['cell', 'delete', '--recursive', 'cell1'])).code, 0);
  t.is(unit.server.cellar.store.findCell('cell1'), undefined);
});

test('a wrong token is reported as the unit answers it', async (t) => {
  const unit = await listeningUnit();
  t.teardown(() => unit.stop());
  const result = await cellar(unit, ['cell', 'list'], { env: { CELLAR_TOKEN: 'not-the-token' } });
  t.is(result.code, 1);
  t.regex(result.stderr, /^cellar: PR401-AU-\d{4} .*\(HTTP 401\)\n$/);
});

test('--unit and --token on the command line win over the environment', async (t) => {
  const unit = await listeningUnit();
  t.teardown(() => unit.stop());
  await unit.createCell('cell1');
  const env = { CELLAR_URL: `http://127.0.0.1:${await closedPort()}/`, CELLAR_TOKEN: 'wrong' };
  const result = await cellar(unit, ['--unit', unit.url, '--token', 'test-master-token-0123456789', 'cell', 'list'], { env });
  t.like(result, { code: 0, stdout: 'cell1\n' });
});

test('a unit that cannot be reached is reported with exit code 1', async (t) => {
  const url = `http://127.0.0.1:${await closedPort()}`;
  const result = await cellar({ url }, ['cell', 'list']);
  t.is(result.code, 1);
  t.is(result.stderr, `cellar: cannot reach the unit at ${url}/: ECONNREFUSED\n`);
});

test('usage errors exit with 2 and say what is wrong', async (t) => {
  const unit = { url: 'http://127.0.0.1:9/' };
  const unknown = await cellar(unit, ['celll', 'list']);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /unknown command 'celll'/);
  const missingArgument = await cellar(unit, ['cell', 'create']);
  t.is(missingArgument.code, 2);
  t.regex(missingArgument.stderr, /missing required argument 'name'/);
  const noUrl = await cellar(unit, ['cell', 'list'], { env: { CELLAR_URL: undefined } });
  t.like(noUrl, { code: 2, stderr: 'cellar: no unit URL: pass --unit URL or set CELLAR_URL\n' });
  const noToken = await cellar(unit, ['cell', 'list'], { env: { CELLAR_TOKEN: undefined } });
  t.like(noToken, { code: 2, stderr: 'cellar: no token: pass --token TOKEN or set CELLAR_TOKEN\n' });
  const badUrl = await cellar(unit, ['--unit', 'ftp://unit.example/', 'cell', 'list']);
  t.like(badUrl, { code: 2, stderr: 'cellar: the unit URL must be http or https, not ftp:\n' });
});

test('--help describes the commands and exits with 0', async (t) => {
  const help = await cellar({ url: '' }, ['--help']);
  t.is(help.code, 0);
  for (const command of ['cell', 'export', 'import', 'snapshot']) t.regex(help.stdout, new RegExp(`\\n  ${command} `));
});
