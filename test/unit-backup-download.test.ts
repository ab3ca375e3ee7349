import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, utimes } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { manifestName } from '../core/backup-layout.ts';
import { cellar } from './helpers/cli.ts';
import { auth, masterToken, startUnit } from './helpers/unit.ts';
import { backupTar, buildTar, cellId, manifestFor, minimalEntries, populate } from './helpers/unit-backup.ts';

async function folder(t: ExecutionContext, prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** An HTTP server answering GET /__backup with `archive`, as a unit would (chunked, no length). */
async function servingArchive(t: ExecutionContext, archive: Buffer): Promise<string> {
  const server = http.createServer((req, res) => {
    res.writeHead(req.url?.startsWith('/__backup') ? 200 : 404, { 'content-type': 'application/x-tar' });
    for (let at = 0; at < archive.length; at += 1000) res.write(archive.subarray(at, at + 1000));
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

/** The minimal backup with the odata.json file's bytes changed after its manifest line was made. */
async function damagedArchive(sameSize: boolean): Promise<Buffer> {
  const entries = minimalEntries();
  const manifest = manifestFor(entries);
  const odata = entries.find((entry) => entry.name.endsWith('odata.json'))!;
  const body = String(odata.body);
  odata.body = sameSize ? body.replace('boxes', 'BOXES') : `${body} `;
  return backupTar(entries, manifest);
}

const odataEntry = `cells/${cellId}/content-1/odata.json`;

test('a download whose bytes differ from the manifest but not in size is saved, and unit verify names the entry', async (t) => {
  const dir = await folder(t, 'cellar-backup-damaged-');
  const url = await servingArchive(t, await damagedArchive(true));
  const saved = await cellar({ url }, ['unit', 'backup', 'unit.tar'], { cwd: dir, env: { CELLAR_TOKEN: masterToken } });
  t.is(saved.code, 0, saved.stderr);
  const verified = await cellar({ url: '' }, ['unit', 'verify', 'unit.tar'], { cwd: dir });
  t.is(verified.code, 1);
  t.regex(verified.stderr, new RegExp(`entry \\[${odataEntry}\\]: its size or SHA-256 does not match the manifest`));
});

test('with --verify a download whose bytes differ from the manifest saves nothing', async (t) => {
  const dir = await folder(t, 'cellar-backup-damaged-');
  const url = await servingArchive(t, await damagedArchive(true));
  const result = await cellar({ url }, ['unit', 'backup', 'unit.tar', '--verify'], { cwd: dir, env: { CELLAR_TOKEN: masterToken } });
  t.is(result.code, 1);
  t.regex(result.stderr, new RegExp(`nothing was saved to unit\\.tar: entry \\[${odataEntry}\\]: its size or SHA-256 does not match the manifest`));
  t.deepEqual(await readdir(dir), []);
});

test('a download with an entry of another size than its manifest line saves nothing, even without --verify', async (t) => {
  const dir = await folder(t, 'cellar-backup-damaged-');
  const url = await servingArchive(t, await damagedArchive(false));
  const result = await cellar({ url }, ['unit', 'backup', 'unit.tar'], { cwd: dir, env: { CELLAR_TOKEN: masterToken } });
  t.is(result.code, 1);
  t.regex(result.stderr, new RegExp(`nothing was saved to unit\\.tar: entry \\[${odataEntry}\\]: its size or SHA-256 does not match the manifest`));
  t.deepEqual(await readdir(dir), []);
});

test('a download that ends before its manifest saves nothing, even without --verify', async (t) => {
  const dir = await folder(t, 'cellar-backup-damaged-');
  const whole = await backupTar(minimalEntries());
  const url = await servingArchive(t, whole.subarray(0, whole.indexOf(Buffer.from(manifestName)) - 512));
  const result = await cellar({ url }, ['unit', 'backup', 'unit.tar'], { cwd: dir, env: { CELLAR_TOKEN: masterToken } });
  t.is(result.code, 1);
  t.regex(result.stderr, /nothing was saved to unit\.tar/);
  t.deepEqual(await readdir(dir), []);
});

test('a download the checks refuse stops there, while the unit would send on (an entry is checked once its bytes are in)', async (t) => {
  const dir = await folder(t, 'cellar-backup-refused-');
  // A first entry outside the layout, then bytes that keep coming until the client goes.
  const evil = (await buildTar([{ name: 'evil.txt', body: 'x' }])).subarray(0, 1024);
  let sent = 0;
  let closed = false;
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/x-tar' });
    res.write(evil);
    const chunk = Buffer.alloc(1024 * 1024);
    const more = () => {
      if (closed || sent >= 1024 * 1024 * 1024) return void res.end();
      sent += chunk.length;
      if (res.write(chunk)) setImmediate(more);
      else res.once('drain', more);
    };
    res.once('close', () => { closed = true; });
    more();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const result = await cellar({ url }, ['unit', 'backup', 'unit.tar'], { cwd: dir, env: { CELLAR_TOKEN: masterToken } });
  t.is(result.code, 1);
  t.regex(result.stderr, /nothing was saved to unit\.tar: entry \[evil\.txt\]: outside the unit backup layout/);
  t.deepEqual(await readdir(dir), []);
  t.true(closed, 'the command closed the connection');
  t.true(sent < 256 * 1024 * 1024, `the unit sent ${sent} bytes`);
});

/** Every folder under `root` (relative name → modification time in whole seconds). */
async function folderTimes(root: string): Promise<Map<string, number>> {
  const times = new Map<string, number>();
  const walk = async (dir: string, prefix: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const name = prefix ? `${prefix}/${entry.name}` : entry.name;
      await walk(path.join(dir, entry.name), name);
      times.set(name, Math.floor((await stat(path.join(dir, entry.name))).mtimeMs / 1000));
    }
  };
  await walk(root, '');
  return times;
}

test('a restore gives every folder of the cells the time it had in the unit, not the time of the restore', async (t) => {
  t.timeout(120_000);
  const unit = await startUnit({ unitUrl: '' });
  t.teardown(() => unit.stop());
  await unit.listen();
  await populate(unit);
  const dataDir = unit.server.cellar.config.dataDir;
  const cell = unit.server.cellar.store.findCell('cell1')!;
  const content = path.join(dataDir, 'cells', cell.id, cell.contentId);
  // Each folder an hour of 2001 of its own, deepest first so that no parent's time moves again.
  const names = [...(await folderTimes(content)).keys()];
  t.true(names.length >= 6, names.join(', '));
  for (const [index, name] of names.entries()) {
    const time = new Date(Date.UTC(2001, 0, 1, index));
    await utimes(path.join(content, name), time, time);
  }
  const expected = await folderTimes(content);

  const dir = await folder(t, 'cellar-backup-times-');
  t.is((await cellar(unit, ['-q', 'unit', 'backup', 'unit.tar'], { cwd: dir })).code, 0);
  const restore = await cellar({ url: '' }, ['-q', 'unit', 'restore', 'unit.tar', '--data-dir', 'restored'], { cwd: dir });
  t.is(restore.code, 0, restore.stderr);
  const restored = await folderTimes(path.join(dir, 'restored', 'cells', cell.id, cell.contentId));
  t.deepEqual(restored, expected);
  t.true([...restored.values()].every((seconds) => seconds < Date.UTC(2002, 0, 1) / 1000));
  t.truthy(JSON.parse(await readFile(path.join(dir, 'restored', 'unit.json'), 'utf8')).cells.length);
});

test('a backup stops, saying why, when a write in the held cell does not end in time, and lets the cell go', async (t) => {
  t.timeout(60_000);
  // Twelve waits of 100 ms: the bound is 1.2 s here (a minute with the default of 5 s).
  const unit = await startUnit({ unitUrl: '', jobWriteDrainMs: 100 });
  t.teardown(() => unit.stop());
  await unit.listen();
  await unit.createCell('cell1');
  const { port } = unit.server.listener.address() as AddressInfo;
  const upload = http.request({ host: '127.0.0.1', port, method: 'PUT', path: '/cell1/__/slow.bin', headers: { ...auth, 'content-length': '100000' } });
  const answered = new Promise<number>((resolve, reject) => {
    upload.once('response', (res) => { res.resume(); resolve(res.statusCode ?? 0); });
    upload.once('error', reject);
  });
  upload.write(Buffer.alloc(1000));
  const id = unit.server.cellar.store.findCell('cell1')!.id;
  const deadline = Date.now() + 10_000;
  while (unit.server.cellar.writes.running(id) !== 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));

  const dir = await folder(t, 'cellar-backup-stuck-');
  const started = Date.now();
  const result = await cellar(unit, ['-q', 'unit', 'backup', 'unit.tar'], { cwd: dir });
  t.is(result.code, 1);
  t.regex(result.stderr, /nothing was saved to unit\.tar: the unit stopped the backup: writes under way in cell cell1 did not end within 1\.2 s/);
  t.true(Date.now() - started < 30_000);
  t.deepEqual(await readdir(dir), []);
  t.is(unit.server.cellar.holds.holderOf(id), undefined, 'the cell is let go');
  upload.end(Buffer.alloc(99_000));
  t.is(await answered, 201, 'the slow write ends normally');
});

test('files larger than the backup reads at once come out whole, each held to its SHA-256 with --verify', async (t) => {
  t.timeout(120_000);
  const unit = await startUnit({ unitUrl: '' });
  t.teardown(() => unit.stop());
  await unit.listen();
  await unit.createCell('cell1');
  const bodies = [randomBytes(20 * 1024 * 1024 + 17), randomBytes(3 * 1024 * 1024)];
  for (const [index, body] of bodies.entries()) {
    const res = await fetch(`${unit.url}/cell1/__/big${index}.bin`, { method: 'PUT', headers: { ...auth, 'content-type': 'application/octet-stream' }, body });
    t.is(res.status, 201);
  }
  const dir = await folder(t, 'cellar-backup-big-');
  const saved = await cellar(unit, ['-q', 'unit', 'backup', 'unit.tar', '--verify'], { cwd: dir });
  t.is(saved.code, 0, saved.stderr);
  const manifest = (await readFile(path.join(dir, 'unit.tar'), 'latin1'));
  for (const body of bodies) t.true(manifest.includes(`"size":${body.length},"sha256":"${createHash('sha256').update(body).digest('hex')}"`));
});
