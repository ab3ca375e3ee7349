// Full disks on a real small file system (a tmpfs): ENOSPC is 507 PR507-DV-0001 wherever it
// happens and loses nothing; below the free-space floor writes get 503 PR503-SV-0005 while reads
// and deletions go on.
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { buildZip, snapshotEntries } from './helpers/snapshot-zip.ts';
import { canMount, fillUntil, mountSmallFileSystem, removeFiller, skipReason } from './helpers/small-file-system.ts';
import { json, startUnit, type TestUnit } from './helpers/unit.ts';

if (!canMount) console.log(`full-disk tests skipped: ${skipReason}`);
const onSmallDisk = canMount ? test : test.skip;

async function unitOnSmallDisk(t: Parameters<typeof mountSmallFileSystem>[0], megabytes: number, floor: { percent: number; bytes: number }): Promise<{ unit: TestUnit; mount: string }> {
  const mount = await mountSmallFileSystem(t, megabytes);
  const unit = await startUnit({ freeSpaceFloor: floor }, { dataDir: path.join(mount, 'data') });
  t.teardown(() => unit.server.stop());
  return { unit, mount };
}

const put = (unit: TestUnit, url: string, payload: Buffer | string) => unit.as({ method: 'PUT', url, payload, headers: { 'content-type': 'application/octet-stream' } });

onSmallDisk('on a full disk snapshot PUT, import and cell creation answer 507 PR507-DV-0001 and leave everything as it was', async (t) => {
  const { unit, mount } = await unitOnSmallDisk(t, 24, { percent: 0, bytes: 0 });
  await unit.createCell('cell1');
  await unit.createBox('cell1', 'box1');
  const keep = randomBytes(64 * 1024);
  t.is((await put(unit, '/cell1/__snapshot/keep.bin', keep)).statusCode, 201);
  const zip = buildZip(snapshotEntries({
    change: (entries) => [...entries, { name: '20_webdav/__/big/' }, { name: '20_webdav/__/big/.pmeta', data: '{"i":"b","t":"dav.file","a":null,"d":{},"p":1,"u":1,"v":1,"cl":4194304}' }, { name: '20_webdav/__/big/content', data: randomBytes(4 * 1024 * 1024) }],
  }));
  t.is((await put(unit, '/cell1/__snapshot/snap.zip', zip)).statusCode, 201);
  await fillUntil(mount, 512 * 1024);

  const refused = await put(unit, '/cell1/__snapshot/keep.bin', randomBytes(2 * 1024 * 1024));
  t.is(refused.statusCode, 507);
  t.deepEqual(json(refused), { code: 'PR507-DV-0001', message: { lang: 'en', value: 'Insufficient storage.' } });
  t.deepEqual((await unit.as({ method: 'GET', url: '/cell1/__snapshot/keep.bin' })).rawPayload, keep, 'the previous file is whole');
  const area = unit.server.cellar.snapshots.of(unit.server.cellar.store.findCell('cell1')!.id).dir;
  t.false((await readdir(area)).some((name) => name.startsWith('.tmp-')), 'no temporary file is left');

  t.is((await unit.as({ method: 'POST', url: '/cell1/__import', payload: { Name: 'snap' } })).statusCode, 202);
  let status: Record<string, any> = {};
  for (let i = 0; i < 200; i++) {
    status = json(await unit.as({ method: 'GET', url: '/cell1/__import' }));
    if (status.status !== 'importation in progress') break;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  t.is(status.status, 'import failed');
  t.deepEqual(status.message, { code: 'PR507-DV-0001', message: { lang: 'en', value: 'Insufficient storage.' } });

  await fillUntil(mount, 0, 'more');
  const created = await unit.as({ method: 'POST', url: '/__ctl/Cell', payload: { Name: 'cell2' } });
  t.is(created.statusCode, 507);
  t.is(json(created).code, 'PR507-DV-0001');
  t.deepEqual(json(await unit.as({ method: 'GET', url: '/__ctl/Cell' })).d.results.map((cell: { Name: string }) => cell.Name), ['cell1'], 'the failed cell is not listed');
  t.is((await unit.as({ method: 'GET', url: "/__ctl/Cell('cell2')" })).statusCode, 404);

  await removeFiller(mount, 'more');
  await removeFiller(mount);
  t.is((await unit.as({ method: 'POST', url: '/__ctl/Cell', payload: { Name: 'cell2' } })).statusCode, 201, 'the name is free again once there is room');
  const ids = json(await unit.as({ method: 'GET', url: '/__ctl/Cell' })).d.results.map((cell: { __id: string }) => cell.__id).sort();
  t.deepEqual((await readdir(path.join(mount, 'data', 'cells'))).sort(), ids, 'no folder of the failed creation is left');
});

onSmallDisk('below the free-space floor writes get 503 PR503-SV-0005, reads and deletions go on, and writes come back once there is room', async (t) => {
  const { unit, mount } = await unitOnSmallDisk(t, 16, { percent: 50, bytes: 4 * 1024 * 1024 });
  await unit.createCell('cell1');
  await unit.createCell('cell2');
  await unit.createBox('cell1', 'box1');
  t.is((await put(unit, '/cell1/__snapshot/a.bin', 'aaa')).statusCode, 201);
  await fillUntil(mount, 2 * 1024 * 1024);
  await new Promise((resolve) => setTimeout(resolve, 1100));

  const body = { code: 'PR503-SV-0005', message: { lang: 'en', value: 'Operation is prohibited as one or more disks are almost full.' } };
  for (const [method, url, payload] of [
    ['PUT', '/cell1/__snapshot/b.bin', 'bbb'],
    ['POST', '/__ctl/Cell', { Name: 'cell3' }],
    ['POST', '/cell1/__ctl/Box', { Name: 'box2' }],
    ['POST', '/cell1/__export', { Name: 'e1' }],
  ] as const) {
    const res = await unit.as({ method, url, payload: payload as string | object });
    t.is(res.statusCode, 503, `${method} ${url}`);
    t.deepEqual(json(res), body);
  }
  t.is((await unit.as({ method: 'GET', url: '/cell1/__snapshot/a.bin' })).payload, 'aaa');
  t.is((await unit.as({ method: 'GET', url: '/__ctl/Cell' })).statusCode, 200);
  t.is((await unit.as({ method: 'DELETE', url: '/cell1/__snapshot/a.bin' })).statusCode, 204);
  t.is((await unit.as({ method: 'DELETE', url: "/cell1/__ctl/Box('box1')" })).statusCode, 204);
  t.is((await unit.as({ method: 'DELETE', url: "/__ctl/Cell('cell2')" })).statusCode, 204);

  await removeFiller(mount);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  t.is((await put(unit, '/cell1/__snapshot/b.bin', 'bbb')).statusCode, 201);
  t.is((await unit.as({ method: 'POST', url: '/__ctl/Cell', payload: { Name: 'cell3' } })).statusCode, 201);
});
