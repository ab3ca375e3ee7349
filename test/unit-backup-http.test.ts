import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { cellar } from './helpers/cli.ts';
import { auth, json, masterToken, startUnit, type TestUnit } from './helpers/unit.ts';

const heldMessage = 'Because [unit backup] is being executed, writing to cell can not be done.';

async function listening(t: ExecutionContext): Promise<TestUnit> {
  const unit = await startUnit({ unitUrl: '' });
  t.teardown(() => unit.stop());
  await unit.listen();
  return unit;
}

function put(unit: TestUnit, url: string, body: string | Buffer) {
  return fetch(`${unit.url}${url}`, { method: 'PUT', headers: { ...auth, 'content-type': 'application/octet-stream' }, body });
}

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const cellIdOf = (unit: TestUnit, name: string) => unit.server.cellar.store.findCell(name)!.id;

test('while a backup reads a cell its writes and jobs get 409 naming the backup; reads and other cells go on; writes come back after', async (t) => {
  // Big files on a machine shared with other test runs.
  t.timeout(180_000);
  const unit = await listening(t);
  await unit.createCell('cell1');
  await unit.createCell('cell2');
  const big = randomBytes(48 * 1024 * 1024);
  t.is((await put(unit, '/cell1/__/big.bin', big)).status, 201);

  // The body is not read, so the backup stops inside cell1's big file until it is.
  const backup = await fetch(`${unit.url}/__backup`, { headers: auth });
  t.is(backup.status, 200);
  await until(() => unit.server.cellar.holds.holderOf(cellIdOf(unit, 'cell1')) !== undefined, 'cell1 is held');

  const refused = await put(unit, '/cell1/__/new.txt', 'new');
  t.is(refused.status, 409);
  t.deepEqual(await refused.json(), { code: 'PR409-CM-0002', message: { lang: 'en', value: heldMessage } });
  const exporting = await fetch(`${unit.url}/cell1/__export`, { method: 'POST', headers: auth, body: '{}' });
  t.is(exporting.status, 409);
  t.is((await exporting.json() as { code: string }).code, 'PR409-CM-0002');
  const deleting = await fetch(`${unit.url}/__ctl/Cell('cell1')`, { method: 'DELETE', headers: { ...auth, 'x-personium-recursive': 'true' } });
  t.is(deleting.status, 409, 'the cell cannot be deleted while it is read');
  const read = await fetch(`${unit.url}/cell1/__/big.bin`, { headers: { ...auth, range: 'bytes=0-9' } });
  t.is(read.status, 206, 'reads of the held cell go on');
  t.deepEqual(Buffer.from(await read.arrayBuffer()), big.subarray(0, 10));
  t.is((await put(unit, '/cell2/__/other.txt', 'other')).status, 201, 'the rest of the unit keeps taking writes');

  const tarBytes = Buffer.from(await backup.arrayBuffer());
  t.true(tarBytes.length > big.length);
  t.is((await put(unit, '/cell1/__/new.txt', 'new')).status, 201, 'the cell takes writes again once the backup is through');
});

test('a backup waits for a write already under way in a cell, and holds the file that write made', async (t) => {
  const unit = await listening(t);
  await unit.createCell('cell1');
  const { port } = unit.server.listener.address() as AddressInfo;
  const body = randomBytes(256 * 1024);
  const upload = http.request({ host: '127.0.0.1', port, method: 'PUT', path: '/cell1/__/slow.bin', headers: { ...auth, 'content-length': String(body.length) } });
  const answered = new Promise<number>((resolve, reject) => {
    upload.once('response', (res) => { res.resume(); resolve(res.statusCode ?? 0); });
    upload.once('error', reject);
  });
  upload.write(body.subarray(0, 1000));
  await until(() => unit.server.cellar.writes.running(cellIdOf(unit, 'cell1')) === 1, 'the upload is under way');

  const backup = fetch(`${unit.url}/__backup`, { headers: auth }).then(async (res) => Buffer.from(await res.arrayBuffer()));
  await until(() => unit.server.cellar.holds.holderOf(cellIdOf(unit, 'cell1')) !== undefined, 'cell1 is held');
  await new Promise((resolve) => setTimeout(resolve, 200));
  upload.end(body.subarray(1000));
  t.is(await answered, 201, 'the write that was under way ends normally');
  const tarBytes = await backup;
  const digest = createHash('sha256').update(body).digest('hex');
  t.true(tarBytes.toString('latin1').includes(`"sha256":"${digest}"`), 'the backup lists the finished upload');
});

test('a backup the client abandons lets go of the cell it was reading', async (t) => {
  // Big files on a machine shared with other test runs.
  t.timeout(180_000);
  const unit = await listening(t);
  await unit.createCell('cell1');
  t.is((await put(unit, '/cell1/__/big.bin', randomBytes(48 * 1024 * 1024))).status, 201);
  const controller = new AbortController();
  const backup = await fetch(`${unit.url}/__backup`, { headers: auth, signal: controller.signal });
  const id = cellIdOf(unit, 'cell1');
  await until(() => unit.server.cellar.holds.holderOf(id) !== undefined, 'cell1 is held');
  controller.abort();
  await backup.body?.cancel().catch(() => {});
  await until(() => unit.server.cellar.holds.holderOf(id) === undefined, 'cell1 is let go');
  t.is((await put(unit, '/cell1/__/after.txt', 'after')).status, 201);
  t.true(unit.logs.some((line) => line.includes('unit backup stopped')));
});

test('backups one after another on one server, the first abandoned by its client, each hold every file to its SHA-256', async (t) => {
  t.timeout(180_000);
  const unit = await listening(t);
  await unit.createCell('cell1');
  t.is((await put(unit, '/cell1/__/big.bin', randomBytes(24 * 1024 * 1024))).status, 201);
  t.is((await put(unit, '/cell1/__/small.txt', 'small')).status, 201);
  // Cut while the hashing thread holds bytes of the big file: that thread is not kept.
  const controller = new AbortController();
  const cut = await fetch(`${unit.url}/__backup`, { headers: auth, signal: controller.signal });
  const reader = cut.body!.getReader();
  await reader.read();
  controller.abort();
  await reader.cancel().catch(() => {});
  const id = cellIdOf(unit, 'cell1');
  await until(() => unit.server.cellar.holds.holderOf(id) === undefined, 'cell1 is let go');

  const dir = await mkdtemp(path.join(os.tmpdir(), 'cellar-backup-again-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (const name of ['first.tar', 'second.tar', 'third.tar']) {
    // --verify: the command holds every file of the download to its line's SHA-256.
    const result = await cellar(unit, ['unit', 'backup', name, '--verify'], { cwd: dir, env: { CELLAR_TOKEN: masterToken } });
    t.is(result.code, 0, result.stderr);
  }
  t.deepEqual((await readdir(dir)).sort(), ['first.tar', 'second.tar', 'third.tar']);
});

test('the backup needs the unit master token: none, a wrong one or a cell token are refused', async (t) => {
  const unit = await startUnit();
  t.teardown(() => unit.stop());
  await unit.createCell('cell1');
  const none = await unit.inject({ method: 'GET', url: '/__backup' });
  t.is(none.statusCode, 401);
  t.is(json(none).code, 'PR401-AU-0001');
  const wrong = await unit.inject({ method: 'GET', url: '/__backup', headers: { authorization: 'Bearer not-the-master-token-at-all' } });
  t.is(wrong.statusCode, 401);
  t.is(json(wrong).code, 'PR401-AU-0006');
  const cellToken = { kind: 'cell' as const, cellId: cellIdOf(unit, 'cell1'), privileges: ['root' as const] };
  const asCell = await unit.inject({ method: 'GET', url: '/__backup', auth: { strategy: 'bearer', credentials: { app: { cellar: cellToken } } } });
  t.is(asCell.statusCode, 403);
  t.is(json(asCell).code, 'PR403-AU-0002');
});

test('cellar unit backup with a token that is not the master token prints the unit\'s refusal, one with a line break is not sent, and neither saves anything', async (t) => {
  const unit = await listening(t);
  await unit.createCell('cell1');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cellar-backup-refused-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const result = await cellar(unit, ['unit', 'backup', 'unit.tar'], { cwd: dir, env: { CELLAR_TOKEN: 'not-the-master-token-at-all' } });
  t.is(result.code, 1);
  t.regex(result.stderr, /PR401-AU-\d{4}/);
  t.deepEqual(await readdir(dir), []);
  // A token that would end the request's header is not sent at all.
  const broken = await cellar(unit, ['unit', 'backup', 'unit.tar'], { cwd: dir, env: { CELLAR_TOKEN: `${masterToken}\r\nX-Injected: 1` } });
  t.is(broken.code, 2);
  t.regex(broken.stderr, /cannot send the request: the header authorization holds a line break/);
  t.deepEqual(await readdir(dir), []);
});

test('the backup answers other methods 405 and a snapshots value other than true or false 400', async (t) => {
  const unit = await startUnit();
  t.teardown(() => unit.stop());
  const posted = await unit.as({ method: 'POST', url: '/__backup' });
  t.is(posted.statusCode, 405);
  t.is(posted.headers.allow, 'OPTIONS, GET');
  const bad = await unit.as({ method: 'GET', url: '/__backup?snapshots=maybe' });
  t.is(bad.statusCode, 400);
  t.deepEqual(json(bad), { code: 'PR400-CM-0002', message: { lang: 'en', value: 'Field [snapshots] format error. Must be [true|false].' } });
  const head = await unit.as({ method: 'HEAD', url: '/__backup' });
  t.is(head.statusCode, 200);
  t.is(head.headers['content-type'], 'application/x-tar');
});

test('the answer says the archive holds the secrets and ends with trailers counting the manifest entries', async (t) => {
  const unit = await listening(t);
  await unit.createCell('cell1');
  const { port } = unit.server.listener.address() as AddressInfo;
  const answer = await new Promise<http.IncomingMessage & { text: string }>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/__backup', headers: auth }, (res) => {
      let text = '';
      res.setEncoding('latin1');
      res.on('data', (chunk: string) => { text += chunk; });
      res.on('end', () => resolve(Object.assign(res, { text })));
    }).once('error', reject);
  });
  t.is(answer.statusCode, 200);
  t.is(answer.headers['content-type'], 'application/x-tar');
  t.regex(String(answer.headers['x-cellar-backup-sensitive']), /secrets.*as safe as the data directory/);
  t.regex(String(answer.headers['content-disposition']), /^attachment; filename="unit_\d{8}_\d{6}\.tar"$/);
  const totals = /\{"entries":(\d+),"bytes":(\d+)\}/.exec(answer.text)!;
  t.is(answer.trailers['x-cellar-backup-entries'], totals[1]);
  t.is(answer.trailers['x-cellar-backup-bytes'], totals[2]);
});

test('an interrupted backup download saves nothing and leaves an older backup as it was', async (t) => {
  // Big files on a machine shared with other test runs.
  t.timeout(180_000);
  const unit = await listening(t);
  await unit.createCell('cell1');
  t.is((await put(unit, '/cell1/__/big.bin', randomBytes(8 * 1024 * 1024))).status, 201);
  const { port } = unit.server.listener.address() as AddressInfo;
  // A proxy that passes the first 3 MiB of the answer on, then cuts the connection.
  const proxy = http.createServer((req, res) => {
    http.get({ host: '127.0.0.1', port, path: req.url, headers: { authorization: req.headers.authorization } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      let sent = 0;
      answer.on('data', (chunk: Buffer) => {
        if (sent >= 3 * 1024 * 1024) return;
        sent += chunk.length;
        res.write(chunk);
        if (sent >= 3 * 1024 * 1024) { answer.destroy(); res.socket?.destroy(); }
      });
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => { proxy.closeAllConnections(); proxy.close(() => resolve()); }));
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cellar-backup-cut-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'unit.tar'), 'the older backup');

  const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  const result = await cellar({ url }, ['unit', 'backup', 'unit.tar'], { cwd: dir, env: { CELLAR_TOKEN: masterToken } });
  t.is(result.code, 1);
  t.regex(result.stderr, /the backup did not complete, nothing was saved to unit\.tar/);
  t.deepEqual(await readdir(dir), ['unit.tar'], 'no partial file is left');
  t.is(await readFile(path.join(dir, 'unit.tar'), 'utf8'), 'the older backup');
});

test('the registry in a backup lists the cells as they were read: one deleted after its turn stays, one deleted before or created during is left out', async (t) => {
  // Big files on a machine shared with other test runs.
  t.timeout(180_000);
  const unit = await listening(t);
  for (const name of ['a', 'b', 'c']) await unit.createCell(name);
  for (const name of ['a', 'b']) t.is((await put(unit, `/${name}/__/big.bin`, randomBytes(32 * 1024 * 1024))).status, 201);
  const response = await fetch(`${unit.url}/__backup`, { headers: auth });
  const reader = response.body!.getReader();
  const chunks: Uint8Array[] = [];
  const readUntil = async (done: () => boolean) => {
    while (!done()) {
      const next = await reader.read();
      if (next.done) return;
      chunks.push(next.value);
    }
  };
  await until(() => unit.server.cellar.holds.holderOf(cellIdOf(unit, 'a')) !== undefined, 'a is held');
  await unit.createCell('d');
  const removeC = await unit.as({ method: 'DELETE', url: "/__ctl/Cell('c')", headers: { 'x-personium-recursive': 'true' } });
  t.is(removeC.statusCode, 204, 'a cell whose turn has not come can be deleted');
  const bId = cellIdOf(unit, 'b');
  await readUntil(() => unit.server.cellar.holds.holderOf(bId) !== undefined);
  const removeA = await unit.as({ method: 'DELETE', url: "/__ctl/Cell('a')", headers: { 'x-personium-recursive': 'true' } });
  t.is(removeA.statusCode, 204, 'a cell already read can be deleted');
  await readUntil(() => false);

  const dir = await mkdtemp(path.join(os.tmpdir(), 'cellar-backup-registry-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'unit.tar'), Buffer.concat(chunks));
  const restore = await cellar({ url: '' }, ['unit', 'restore', 'unit.tar', '--data-dir', 'restored'], { cwd: dir });
  t.is(restore.code, 0, restore.stderr);
  t.regex(restore.stdout, /: 2 cells, /);
  const restored = await startUnit({}, { dataDir: path.join(dir, 'restored') });
  t.teardown(() => restored.stop());
  t.deepEqual(restored.server.cellar.store.listCells().map((cell) => cell.name), ['a', 'b']);
  const big = await restored.as({ method: 'HEAD', url: '/a/__/big.bin' });
  t.is(big.headers['content-length'], String(32 * 1024 * 1024), 'the deleted cell comes back whole');
});
