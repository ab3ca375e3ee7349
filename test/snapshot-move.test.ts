// MOVE inside the snapshot area (a rename before an import, rclone's `moveto`), and files served
// exactly as stored: never compressed on the fly, whatever Accept-Encoding says.
import { randomBytes } from 'node:crypto';
import { execFile, spawnSync } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { promisify } from 'node:util';
import test from 'ava';
import { errorBody } from '../core/errors.ts';
import { json, masterToken, startUnit, type TestUnit } from './helpers/unit.ts';

async function areaWith(files: Record<string, { body: string | Buffer; type?: string }>, overrides = {}): Promise<{ unit: TestUnit; dir: string }> {
  const unit = await startUnit(overrides);
  await unit.createCell('cell1');
  await unit.createCell('cell2');
  for (const [name, { body, type }] of Object.entries(files)) {
    const res = await unit.as({ method: 'PUT', url: `/cell1/__snapshot/${name}`, payload: body, headers: type ? { 'content-type': type } : {} });
    if (res.statusCode !== 201) throw new Error(`PUT ${name}: ${res.statusCode}`);
  }
  const { store, snapshots } = unit.server.cellar;
  return { unit, dir: snapshots.of(store.findCell('cell1')!.id).dir };
}

const move = (unit: TestUnit, from: string, destination: string, headers: Record<string, string> = {}) =>
  unit.as({ method: 'MOVE', url: `/cell1/__snapshot/${from}`, headers: { destination, ...headers } });

const visible = async (dir: string) => (await readdir(dir)).filter((name) => !name.startsWith('.')).sort();

test('MOVE renames a file in the area: 201 with Location, same bytes and content type, the old name gone', async (t) => {
  const { unit, dir } = await areaWith({ 'a.zip': { body: 'zip bytes' }, 'notes.bin': { body: 'n', type: 'text/x-notes' } });
  t.teardown(() => unit.stop());
  const res = await move(unit, 'a.zip', 'http://unit.test/cell1/__snapshot/renamed%20one.zip');
  t.is(res.statusCode, 201);
  t.is(res.headers.location, 'http://unit.test/cell1/__snapshot/renamed%20one.zip');
  t.deepEqual(await visible(dir), ['notes.bin', 'renamed one.zip']);
  const get = await unit.as({ method: 'GET', url: '/cell1/__snapshot/renamed%20one.zip' });
  t.is(get.payload, 'zip bytes');
  t.is(get.headers['content-type'], 'application/zip');
  t.is((await unit.as({ method: 'GET', url: '/cell1/__snapshot/a.zip' })).statusCode, 404);
  t.is((await move(unit, 'notes.bin', '/cell1/__snapshot/notes.txt')).statusCode, 201, 'an absolute path works too');
  t.is((await unit.as({ method: 'GET', url: '/cell1/__snapshot/notes.txt' })).headers['content-type'], 'text/x-notes', 'the stored type moves with the file');
});

test('MOVE onto an existing file replaces it with Overwrite: T (204) and refuses with Overwrite: F (412)', async (t) => {
  const { unit, dir } = await areaWith({ 'a.zip': { body: 'new' }, 'b.zip': { body: 'old' } });
  t.teardown(() => unit.stop());
  const refused = await move(unit, 'a.zip', '/cell1/__snapshot/b.zip', { overwrite: 'F' });
  t.is(refused.statusCode, 412);
  t.deepEqual(json(refused), errorBody('PR412-DV-0002', ['http://unit.test/cell1/__snapshot/b.zip']));
  t.deepEqual(await visible(dir), ['a.zip', 'b.zip'], 'nothing moved');
  t.is((await move(unit, 'a.zip', '/cell1/__snapshot/b.zip')).statusCode, 204);
  t.deepEqual(await visible(dir), ['b.zip']);
  t.is((await unit.as({ method: 'GET', url: '/cell1/__snapshot/b.zip' })).payload, 'new');
});

test('MOVE refusals: missing source 404, same name 403, stale If-Match 412, another cell or a path 400, another host 502, bad Overwrite 400', async (t) => {
  const { unit, dir } = await areaWith({ 'a.zip': { body: 'a' } });
  t.teardown(() => unit.stop());
  const cases: Array<[string, string, Record<string, string>, number, string]> = [
    ['none.zip', '/cell1/__snapshot/x.zip', {}, 404, 'PR404-DV-0001'],
    ['a.zip', '/cell1/__snapshot/a.zip', {}, 403, 'PR403-DV-0005'],
    ['a.zip', '/cell1/__snapshot/x.zip', { 'if-match': '"stale"' }, 412, 'PR412-DV-0001'],
    ['a.zip', '/cell2/__snapshot/x.zip', {}, 400, 'PR400-SN-0007'],
    ['a.zip', '/cell1/__snapshot/sub/x.zip', {}, 400, 'PR400-SN-0007'],
    ['a.zip', '/cell1/__snapshot/..%2fx.zip', {}, 400, 'PR400-SN-0007'],
    ['a.zip', '/cell1/__snapshot/.hidden', {}, 400, 'PR400-SN-0007'],
    ['a.zip', '/cell1/box/x.zip', {}, 400, 'PR400-SN-0007'],
    ['a.zip', 'http://elsewhere.example/cell1/__snapshot/x.zip', {}, 502, 'PR502-SN-0001'],
    ['a.zip', '/cell1/__snapshot/x.zip', { overwrite: 'maybe' }, 400, 'PR400-DV-0010'],
  ];
  for (const [from, destination, headers, status, code] of cases) {
    const res = await move(unit, from, destination, headers);
    t.is(res.statusCode, status, `${from} → ${destination}`);
    t.is(json(res).code, code, `${from} → ${destination}`);
  }
  const none = await unit.as({ method: 'MOVE', url: '/cell1/__snapshot/a.zip' });
  t.is(none.statusCode, 400, 'no Destination');
  t.deepEqual(await visible(dir), ['a.zip'], 'nothing moved');
});

test('MOVE is a write: refused with 409 while the cell exports', async (t) => {
  const { unit } = await areaWith({ 'a.zip': { body: 'a' } });
  t.teardown(() => unit.stop());
  let release!: () => void;
  const held = new Promise<void>((resolve) => { release = resolve; });
  let reached!: () => void;
  const reachedEntry = new Promise<void>((resolve) => { reached = resolve; });
  unit.hooks.export = async () => { reached(); await held; };
  t.is((await unit.as({ method: 'POST', url: '/cell1/__export', payload: '{"Name":"s1"}' })).statusCode, 202);
  await reachedEntry;
  const res = await move(unit, 'a.zip', '/cell1/__snapshot/b.zip');
  t.is(res.statusCode, 409);
  t.deepEqual(json(res), errorBody('PR409-CM-0002', ['cell export']));
  release();
});

test('snapshot files are sent as stored whatever Accept-Encoding asks, for every content type', async (t) => {
  const body = Buffer.alloc(200_000, 'compressible ');
  const { unit } = await areaWith({ 'a.bin': { body, type: 'application/octet-stream' }, 'b.txt': { body, type: 'text/plain' }, 'c.zip': { body } });
  t.teardown(() => unit.stop());
  for (const name of ['a.bin', 'b.txt', 'c.zip']) {
    const res = await unit.as({ method: 'GET', url: `/cell1/__snapshot/${name}`, headers: { 'accept-encoding': 'gzip, deflate, br' } });
    t.is(res.statusCode, 200);
    t.is(res.headers['content-encoding'], undefined, name);
    t.is(String(res.headers['content-length']), String(body.length), name);
    t.true(res.rawPayload.equals(body), name);
  }
});

const run = promisify(execFile);
const hasRclone = spawnSync('sh', ['-c', 'command -v rclone']).status === 0;
(hasRclone ? test : test.skip)(`rclone moveto renames a snapshot in the area${hasRclone ? '' : ' [skipped: rclone is not installed]'}`, async (t) => {
  const { unit, dir } = await areaWith({ 'upload.zip': { body: randomBytes(50_000) } }, { unitUrl: '' });
  t.teardown(() => unit.stop());
  const url = await unit.listen();
  const remote = `:webdav,url='${url}/cell1/__snapshot/',bearer_token='${masterToken}':`;
  await run('rclone', ['--config', '/dev/null', '--low-level-retries', '1', '--retries', '1', 'moveto', `${remote}upload.zip`, `${remote}before-import.zip`], { timeout: 30_000 });
  t.deepEqual(await visible(dir), ['before-import.zip']);
  t.true(unit.logs.some((line) => /"method":"MOVE"/i.test(line)), 'rclone renamed it on the server, not by copying');
});
