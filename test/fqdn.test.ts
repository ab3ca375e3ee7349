// Per-cell FQDN URLs (`cellUrl: "fqdn"`): the README's walk-through with `Host: cell1.unit.test`
// gives what path mode gives, with every URL the unit writes in the FQDN form; the unit host
// serves the unit's own API only.
import test from 'ava';
import { errorBody } from '../core/errors.ts';
import { buildZip, snapshotEntries } from './helpers/snapshot-zip.ts';
import { auth, json, startUnit, type TestUnit } from './helpers/unit.ts';

const onCell = (unit: TestUnit, cell: string, options: { method: string; url: string; payload?: string | Buffer; headers?: Record<string, string> }) =>
  unit.inject({ ...options, headers: { ...auth, host: `${cell}.unit.test`, ...(options.headers ?? {}) } });

async function fqdnUnit(t: { teardown(fn: () => Promise<void>): void }): Promise<TestUnit> {
  const unit = await startUnit({ cellUrl: 'fqdn', unitUrl: 'http://unit.test/' });
  t.teardown(() => unit.stop());
  const created = await unit.inject({ method: 'POST', url: '/__ctl/Cell', payload: { Name: 'cell1' }, headers: { ...auth, host: 'unit.test' } });
  if (created.statusCode !== 201) throw new Error(`creating cell1: ${created.statusCode} ${created.payload}`);
  return unit;
}

async function untilReady(unit: TestUnit, job: '__export' | '__import'): Promise<Record<string, unknown>> {
  for (let i = 0; i < 400; i++) {
    const status = json(await onCell(unit, 'cell1', { method: 'GET', url: `/${job}` }));
    if (status.status !== 'exportation in progress' && status.status !== 'importation in progress') return status;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`${job} did not end`);
}

test('the walk-through on cell hosts: boxes, content, export, the snapshot area and import, with FQDN URLs', async (t) => {
  const unit = await fqdnUnit(t);
  const box = await onCell(unit, 'cell1', { method: 'POST', url: '/__ctl/Box', payload: '{"Name":"box1"}' });
  t.is(box.statusCode, 201);
  t.is(box.headers.location, "http://cell1.unit.test/__ctl/Box('box1')");
  t.is((await onCell(unit, 'cell1', { method: 'PUT', url: '/box1/hello.txt', payload: 'hello', headers: { 'content-type': 'text/plain' } })).statusCode, 201);
  t.is((await onCell(unit, 'cell1', { method: 'GET', url: '/box1/hello.txt' })).payload, 'hello');
  const members = await onCell(unit, 'cell1', { method: 'PROPFIND', url: '/box1/', headers: { depth: '1' } });
  t.is(members.statusCode, 207);
  t.true(members.payload.includes('<D:href>/box1/hello.txt</D:href>'), `box hrefs are the cell host's paths: ${members.payload.slice(0, 600)}`);
  const copied = await onCell(unit, 'cell1', { method: 'COPY', url: '/box1/hello.txt', headers: { destination: 'http://cell1.unit.test/box1/copy.txt' } });
  t.is(copied.statusCode, 201, 'a Destination on the cell host is inside the box');
  t.is((await onCell(unit, 'cell1', { method: 'GET', url: '/box1/copy.txt' })).payload, 'hello');

  const exported = await onCell(unit, 'cell1', { method: 'POST', url: '/__export', payload: '{"Name":"snap1"}' });
  t.is(exported.statusCode, 202);
  t.is(exported.headers.location, 'http://cell1.unit.test/__export');
  t.deepEqual(await untilReady(unit, '__export'), { status: 'ready' });

  const listing = await onCell(unit, 'cell1', { method: 'PROPFIND', url: '/__snapshot', headers: { depth: '1' } });
  t.is(listing.statusCode, 207);
  t.true(listing.payload.includes('<D:href>http://cell1.unit.test/__snapshot/snap1.zip</D:href>'), listing.payload);
  t.true(listing.payload.includes('<D:href>http://cell1.unit.test/__snapshot/</D:href>'));
  const moved = await onCell(unit, 'cell1', { method: 'MOVE', url: '/__snapshot/snap1.zip', headers: { destination: 'http://cell1.unit.test/__snapshot/snap2.zip' } });
  t.is(moved.statusCode, 201);
  t.is(moved.headers.location, 'http://cell1.unit.test/__snapshot/snap2.zip');

  const imported = await onCell(unit, 'cell1', { method: 'POST', url: '/__import', payload: '{"Name":"snap2"}' });
  t.is(imported.statusCode, 202);
  t.is(imported.headers.location, 'http://cell1.unit.test/__import');
  t.deepEqual(await untilReady(unit, '__import'), { status: 'ready' });
  t.is((await onCell(unit, 'cell1', { method: 'GET', url: '/box1/hello.txt' })).payload, 'hello', 'the import brought the file back');

  const zip = await onCell(unit, 'cell1', { method: 'GET', url: '/__snapshot/snap2.zip' });
  const manifest = /00_manifest\.json/.test(zip.rawPayload.toString('latin1'));
  t.true(manifest);
  t.true(zip.rawPayload.toString('latin1').includes('"unit_url":"http://unit.test/"'), 'the manifest names the unit URL');
});

test('a cell host answers 401 with its own realm, a missing cell 404, and the unit host refuses path-based cell URLs', async (t) => {
  const unit = await fqdnUnit(t);
  const anonymous = await unit.inject({ method: 'GET', url: '/__export', headers: { host: 'cell1.unit.test' } });
  t.is(anonymous.statusCode, 401);
  t.is(anonymous.headers['www-authenticate'], 'Bearer realm="http://cell1.unit.test/"');
  const missing = await onCell(unit, 'nocell', { method: 'GET', url: '/__export' });
  t.is(missing.statusCode, 404);
  t.deepEqual(json(missing), errorBody('PR404-DV-0003'));
  for (const url of ['/cell1/__export', '/cell1/', '/cell1/__snapshot/x.zip']) {
    const path = await unit.inject({ method: 'GET', url, headers: { ...auth, host: 'unit.test' } });
    t.is(path.statusCode, 400, url);
    t.deepEqual(json(path), errorBody('PR400-MC-0002'), url);
  }
  const cells = await unit.inject({ method: 'GET', url: '/__ctl/Cell', headers: { ...auth, host: 'unit.test:8080' } });
  t.is(cells.statusCode, 200, 'the unit API stays on the unit host');
  t.is(json(cells).d.results[0].__metadata.uri, "http://unit.test/__ctl/Cell('cell1')");
  t.is((await unit.inject({ method: 'GET', url: '/__health', headers: { host: 'unit.test' } })).statusCode, 200);
});

test('on an FQDN unit, cell names that differ only by case are one host: the second is refused', async (t) => {
  const unit = await fqdnUnit(t);
  const again = await unit.inject({ method: 'POST', url: '/__ctl/Cell', payload: { Name: 'CELL1' }, headers: { ...auth, host: 'unit.test' } });
  t.is(again.statusCode, 409);
  t.deepEqual(json(again), errorBody('PR409-OD-0003'));
});

test('the gates work by cell on cell hosts: a write while the cell imports gets 409, another cell is untouched', async (t) => {
  const unit = await fqdnUnit(t);
  await unit.inject({ method: 'POST', url: '/__ctl/Cell', payload: { Name: 'cell2' }, headers: { ...auth, host: 'unit.test' } });
  let release!: () => void;
  const held = new Promise<void>((resolve) => { release = resolve; });
  let reached!: () => void;
  const reachedEntry = new Promise<void>((resolve) => { reached = resolve; });
  unit.hooks.import = async () => { reached(); await held; };
  await onCell(unit, 'cell1', { method: 'PUT', url: '/__snapshot/s.zip', payload: buildZip(snapshotEntries()) });
  t.is((await onCell(unit, 'cell1', { method: 'POST', url: '/__import', payload: '{"Name":"s"}' })).statusCode, 202);
  await reachedEntry;
  const refused = await onCell(unit, 'cell1', { method: 'PUT', url: '/__/x.txt', payload: 'x' });
  t.is(refused.statusCode, 409);
  t.deepEqual(json(refused), errorBody('PR409-CM-0002', ['cell import']));
  t.is((await onCell(unit, 'cell2', { method: 'PUT', url: '/__/x.txt', payload: 'x' })).statusCode, 201);
  release();
});
