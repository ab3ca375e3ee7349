// Who may use the snapshot area and when: credentials, the root privilege, the
// cell status gates, and the area's life with its cell (created with it, kept across a restart,
// removed with it).
import { access, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { errorBody } from '../core/errors.ts';
import { json, startUnit, type TestUnit } from './helpers/unit.ts';

async function cellWithFile(t: { teardown(fn: () => Promise<void>): void }): Promise<{ unit: TestUnit; cellId: string; dir: string }> {
  const unit = await startUnit();
  t.teardown(() => unit.stop());
  await unit.createCell('cell1');
  const { store, contents } = unit.server.cellar;
  const cellId = store.findCell('cell1')!.id;
  const res = await unit.as({ method: 'PUT', url: '/cell1/__snapshot/a.zip', payload: 'x' });
  if (res.statusCode !== 201) throw new Error(`PUT a.zip: ${res.statusCode}`);
  return { unit, cellId, dir: contents.snapshotDir(cellId) };
}

/** Every kind of request the area answers, each as a user would send it (OPTIONS: below). */
const requests = [
  { method: 'GET', url: '/cell1/__snapshot/a.zip' },
  { method: 'HEAD', url: '/cell1/__snapshot/a.zip' },
  { method: 'PUT', url: '/cell1/__snapshot/b.zip', payload: 'y' },
  { method: 'DELETE', url: '/cell1/__snapshot/a.zip' },
  { method: 'MOVE', url: '/cell1/__snapshot/b.zip', headers: { destination: '/cell1/__snapshot/c.zip' } },
  { method: 'PROPFIND', url: '/cell1/__snapshot', headers: { depth: '1' } },
  { method: 'PROPFIND', url: '/cell1/__snapshot/a.zip', headers: { depth: '0' } },
] as const;
const isWrite = (request: { method: string }) => ['PUT', 'DELETE', 'MOVE'].includes(request.method);
const writes = requests.filter(isWrite);
const reads = requests.filter((request) => !isWrite(request));
const label = (request: { method: string; url: string }) => `${request.method} ${request.url}`;

/** HEAD answers carry no body: their code is checked through the status alone. */
function assertError(t: { is(a: unknown, b: unknown, m?: string): void; deepEqual(a: unknown, b: unknown, m?: string): void }, res: { statusCode: number; payload: string }, method: string, status: number, body: ReturnType<typeof errorBody>, message: string) {
  t.is(res.statusCode, status, message);
  if (method !== 'HEAD') t.deepEqual(json(res), body, message);
}

test('every method without credentials gets 401 PR401-AU-0001 with a Bearer challenge', async (t) => {
  const { unit } = await cellWithFile(t);
  for (const request of requests) {
    const res = await unit.inject({ ...request });
    assertError(t, res, request.method, 401, errorBody('PR401-AU-0001'), label(request));
    t.is(res.headers['www-authenticate'], 'Bearer realm="http://unit.test/cell1/"', label(request));
  }
  t.is((await unit.inject({ method: 'GET', url: '/cell1/__snapshot/a.zip', headers: { authorization: 'Bearer wrong' } })).statusCode, 401);
});

test('OPTIONS on the area and its files is answered 200 to anyone, in any cell state: it is a browser preflight', async (t) => {
  const { unit, cellId } = await cellWithFile(t);
  const { status } = unit.server.cellar;
  await status.accept(cellId, 'import', 'a');
  await status.importFailed(cellId, errorBody('PR500-SV-0000'));
  for (const url of ['/cell1/__snapshot', '/cell1/__snapshot/a.zip', '/nocell/__snapshot/a.zip']) {
    const res = await unit.inject({ method: 'OPTIONS', url });
    t.is(res.statusCode, 200, url);
    t.is(res.headers['www-authenticate'], undefined, url);
  }
});

test('every method with a token lacking root gets 403 PR403-AU-0002', async (t) => {
  const { unit, cellId } = await cellWithFile(t);
  unit.server.ext('onPostAuth', (request, h) => {
    if (request.headers['x-test-as'] === 'reader-writer') request.auth.credentials.app = { cellar: { kind: 'cell', cellId, privileges: ['read', 'write'] } };
    if (request.headers['x-test-as'] === 'root-of-another-cell') request.auth.credentials.app = { cellar: { kind: 'cell', cellId: 'another', privileges: ['root'] } };
    return h.continue;
  }, { before: ['cellar-cell-access'] });
  for (const who of ['reader-writer', 'root-of-another-cell']) {
    for (const request of requests) {
      const res = await unit.as({ ...request, headers: { ...('headers' in request ? request.headers : {}), 'x-test-as': who } });
      assertError(t, res, request.method, 403, errorBody('PR403-AU-0002'), `${who}: ${label(request)}`);
    }
  }
  t.is((await unit.as({ method: 'GET', url: '/cell1/__snapshot/a.zip' })).payload, 'x', 'nothing was changed');
});

test('a cell that does not exist gets 404 PR404-DV-0003', async (t) => {
  const { unit } = await cellWithFile(t);
  for (const request of requests) {
    const res = await unit.as({ ...request, url: request.url.replace('cell1', 'nocell') });
    assertError(t, res, request.method, 404, errorBody('PR404-DV-0003'), label(request));
  }
});

for (const kind of ['export', 'import'] as const) {
  test(`while the cell ${kind}s, PUT and DELETE get 409 PR409-CM-0002 and reads go on`, async (t) => {
    const { unit, cellId } = await cellWithFile(t);
    await unit.server.cellar.status.accept(cellId, kind, 'running');
    for (const request of writes) {
      t.deepEqual(json(await unit.as({ ...request })), errorBody('PR409-CM-0002', [`cell ${kind}`]), label(request));
    }
    for (const request of reads) t.true([200, 207].includes((await unit.as({ ...request })).statusCode), label(request));
    t.is((await unit.as({ method: 'GET', url: '/cell1/__snapshot/a.zip' })).payload, 'x');
  });
}

test('while the cell is import failed, every method is answered as in a normal cell, so a good zip can be put in', async (t) => {
  const { unit, cellId, dir } = await cellWithFile(t);
  const { status } = unit.server.cellar;
  await status.accept(cellId, 'import', 'a');
  await status.importFailed(cellId, errorBody('PR500-SV-0000'));
  const expected: Record<string, number> = { GET: 200, HEAD: 200, PUT: 201, DELETE: 204, MOVE: 201, OPTIONS: 200, PROPFIND: 207 };
  for (const request of [...reads, ...writes]) {
    t.is((await unit.as({ ...request })).statusCode, expected[request.method]!, label(request));
  }
  t.deepEqual((await readdir(dir)).filter((name) => !name.startsWith('.')), ['c.zip']);
});

test('the area is outside the cell content, and deleting the cell removes it', async (t) => {
  const { unit, dir } = await cellWithFile(t);
  const { contents, store } = unit.server.cellar;
  const cell = store.findCell('cell1')!;
  t.false(dir.startsWith(contents.contentDir(cell) + path.sep), 'never part of what an export reads');
  const res = await unit.as({ method: 'DELETE', url: "/__ctl/Cell('cell1')", headers: { 'x-personium-recursive': 'true' } });
  t.is(res.statusCode, 204);
  await t.throwsAsync(access(dir), { code: 'ENOENT' });
  await unit.createCell('cell1');
  const list = await unit.as({ method: 'PROPFIND', url: '/cell1/__snapshot', headers: { depth: '1' } });
  t.false(list.payload.includes('a.zip'), 'a new cell of the same name starts with an empty area');
});

test('a file keeps its content type across a restart, and start-up removes unfinished writes', async (t) => {
  const first = await cellWithFile(t);
  await first.unit.as({ method: 'PUT', url: '/cell1/__snapshot/notes', payload: '{}', headers: { 'content-type': 'application/json' } });
  await first.unit.as({ method: 'PUT', url: '/cell1/__snapshot/plain.bin', payload: 'p' });
  await writeFile(path.join(first.dir, '.tmp-upload-abc'), 'half an upload');
  await writeFile(path.join(first.dir, '.x.error.1234.tmp'), 'half a small file');
  await first.unit.server.stop();
  const unit = await startUnit({}, { dataDir: first.unit.dataDir });
  t.teardown(() => unit.stop());
  await unit.server.start();
  const type = async (name: string) => (await unit.as({ method: 'GET', url: `/cell1/__snapshot/${name}` })).headers['content-type'];
  t.is(await type('notes'), 'application/json');
  t.is(await type('a.zip'), 'application/zip');
  t.is(await type('plain.bin'), 'application/octet-stream');
  t.deepEqual((await readdir(first.dir)).filter((name) => name.startsWith('.')), ['.meta.json']);
});

test('uploads of new names racing for the last free place never pass the file limit', async (t) => {
  const unit = await startUnit({ snapshot: { maxFiles: 3, maxFileBytes: 1024 * 1024 } });
  t.teardown(() => unit.stop());
  await unit.createCell('cell1');
  const results = await Promise.all(Array.from({ length: 8 }, (_, i) => unit.as({ method: 'PUT', url: `/cell1/__snapshot/f${i}`, payload: Buffer.alloc(100_000, i) })));
  t.is(results.filter((res) => res.statusCode === 201).length, 3);
  for (const res of results.filter((res) => res.statusCode !== 201)) t.deepEqual(json(res), errorBody('PR400-DV-0007'));
  const { store, contents } = unit.server.cellar;
  t.is((await readdir(contents.snapshotDir(store.findCell('cell1')!.id))).filter((name) => !name.startsWith('.')).length, 3);
});
