// Uploads and creations that must never leave a half-made resource: an aborted new upload, the
// temporaries a killed unit leaves (swept at the next start), parallel MKCOLs, a full disk.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { json, masterToken, startUnit } from './helpers/unit.ts';
import { box, boxDir, hrefsOf, propfind, put, until, unitWithBox } from './helpers/box.ts';

test('an aborted upload of a new file leaves no file, listed or on disk, and no temporary', async (t) => {
  const unit = await unitWithBox(t);
  const base = await unit.listen();
  const dir = await boxDir(unit);
  const socket = net.connect(Number(new URL(base).port), '127.0.0.1');
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
  socket.write(`PUT ${box}/new.txt HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${masterToken}\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n0123456789`);
  const sawTemp = await until(async () => (await readdir(dir)).some((name) => name.startsWith('.content.tmp-')), 50);
  socket.destroy();
  t.true(sawTemp, 'the body was being received into a temporary folder');
  t.true(await until(async () => (await readdir(dir)).length === 1), 'the temporary folder is removed');
  t.deepEqual(await readdir(dir), ['.pmeta']);
  t.is((await unit.as({ method: 'GET', url: `${box}/new.txt` })).statusCode, 404);
  t.deepEqual(hrefsOf((await propfind(unit, `${box}/`, '1')).payload), ['/cell1/box1/']);
});

test('an X-Override of Content-Length does not change how a PUT body is framed', async (t) => {
  const unit = await unitWithBox(t);
  await put(unit, `${box}/a.txt`, 'old');
  const res = await unit.as({ method: 'PUT', url: `${box}/a.txt`, payload: 'new', headers: { 'content-length': '3', 'x-override': 'Content-Length: 10' } });
  t.is(res.statusCode, 204, 'an overridden Content-Length is ignored, the real one frames the body');
  t.is((await unit.as({ method: 'GET', url: `${box}/a.txt` })).payload, 'new');
});

test('temporaries left by a killed unit are removed at the next start; resources are kept', async (t) => {
  const first = await startUnit();
  const { dataDir } = first;
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  await first.createCell('cell1');
  await first.createBox('cell1', 'box1');
  await put(first, `${box}/a.txt`, 'kept');
  const dir = await boxDir(first);
  await first.server.stop();

  const old = new Date(Date.now() - 3600_000);
  const leftovers = [path.join(dir, '.content.tmp-0badc0ffee'), path.join(dir, 'a.txt', '.content.tmp-1234abcd'), path.join(dir, 'a.txt', '.pmeta.0123.tmp')];
  await mkdir(leftovers[0]!);
  await writeFile(path.join(leftovers[0]!, 'content'), 'half an upload');
  await writeFile(leftovers[1]!, 'half a replacement');
  await writeFile(leftovers[2]!, '{"half":');
  for (const leftover of leftovers) await utimes(leftover, old, old);

  const second = await startUnit({}, { dataDir });
  t.teardown(() => second.server.stop());
  t.true(await until(async () => (await readdir(dir)).length === 2 && (await readdir(path.join(dir, 'a.txt'))).length === 2), 'every temporary is swept');
  t.deepEqual((await readdir(dir)).sort(), ['.pmeta', 'a.txt']);
  t.deepEqual((await readdir(path.join(dir, 'a.txt'))).sort(), ['.pmeta', 'content']);
  t.is((await second.as({ method: 'GET', url: `${box}/a.txt` })).payload, 'kept');
});

test('two parallel MKCOLs of one folder, then a MKCOL inside it: one 201, one 405, then 201, every time', async (t) => {
  const unit = await unitWithBox(t);
  const base = await unit.listen();
  const mkcol = (url: string) => fetch(`${base}${url}`, { method: 'MKCOL', headers: { authorization: `Bearer ${masterToken}` } }).then((res) => res.status);
  for (let trial = 0; trial < 30; trial++) {
    const statuses = (await Promise.all([mkcol(`${box}/d${trial}`), mkcol(`${box}/d${trial}`)])).sort();
    t.deepEqual(statuses, [201, 405], `trial ${trial}`);
    t.is(await mkcol(`${box}/d${trial}/child`), 201, `trial ${trial}: child`);
  }
});

/** A 1 MiB tmpfs, when this machine lets the tests mount one (root with mount rights). */
function mountSmallDisk(mountPoint: string): boolean {
  return process.getuid?.() === 0 && spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountPoint]).status === 0;
}

const canMount = (() => {
  const probe = mkdtempSync(path.join(os.tmpdir(), 'cellar-mount-probe-'));
  const mounted = mountSmallDisk(probe);
  if (mounted) spawnSync('umount', [probe]);
  rmSync(probe, { recursive: true, force: true });
  return mounted;
})();

(canMount ? test : test.skip)(`a full disk answers 507 PR507-DV-0001 and leaves no partial file${canMount ? '' : ' (skipped: a small tmpfs cannot be mounted here; it needs root with mount rights)'}`, async (t) => {
  const mountPoint = await mkdtemp(path.join(os.tmpdir(), 'cellar-full-'));
  t.teardown(async () => { spawnSync('umount', [mountPoint]); await rm(mountPoint, { recursive: true, force: true }); });
  t.true(mountSmallDisk(mountPoint), 'the small disk is mounted');
  const small = await startUnit({}, { dataDir: mountPoint });
  t.teardown(() => small.server.stop());
  await small.createCell('cell1');
  await small.createBox('cell1', 'box1');
  const res = await small.as({ method: 'PUT', url: `${box}/big.bin`, payload: Buffer.alloc(2 * 1024 * 1024, 7), headers: { 'content-type': 'application/octet-stream' } });
  t.is(res.statusCode, 507);
  t.is(json(res).code, 'PR507-DV-0001');
  t.deepEqual(await readdir(await boxDir(small)), ['.pmeta']);
  t.is((await small.as({ method: 'GET', url: `${box}/big.bin` })).statusCode, 404);
});
