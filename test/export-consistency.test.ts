// An export reads a cell that no write is touching, and an import replaces one: writes already
// past the gate when the job is accepted are waited for (for a bounded time, else 409
// PR409-MC-0001), new ones get 409 PR409-CM-0002, and a box file is never exported half-written.
import { createHash } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import test from 'ava';
import { errorBody } from '../core/errors.ts';
import { buildZip, snapshotEntries } from './helpers/snapshot-zip.ts';
import { auth, json, startUnit, type TestUnit } from './helpers/unit.ts';
import { readZip } from './helpers/zip.ts';

/** A PUT over a real socket whose body is sent in `pieces` parts `gapMs` apart (or held open). */
function slowPut(url: string, target: string, pieces: Buffer[], gapMs: number): { done: Promise<number>; finish(): void } {
  const { hostname, port } = new URL(url);
  const length = pieces.reduce((sum, piece) => sum + piece.length, 0);
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => { finish = resolve; });
  const done = new Promise<number>((resolve, reject) => {
    const request = http.request({ hostname, port, method: 'PUT', path: target, headers: { ...auth, 'content-length': String(length), 'content-type': 'application/octet-stream' } }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    request.on('error', reject);
    void (async () => {
      for (const [index, piece] of pieces.entries()) {
        if (index === pieces.length - 1 && gapMs < 0) await finished;
        else if (index > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
        request.write(piece);
      }
      request.end();
    })();
  });
  return { done, finish };
}

async function boxUnit(t: { teardown(fn: () => Promise<void>): void }, overrides = {}): Promise<TestUnit> {
  const unit = await startUnit(overrides);
  t.teardown(() => unit.stop());
  await unit.listen();
  await unit.createCell('cell1');
  await unit.createBox('cell1', 'box1');
  return unit;
}

async function untilIdle(unit: TestUnit, job: '__export' | '__import'): Promise<Record<string, unknown>> {
  for (let i = 0; i < 2000; i++) {
    const status = json(await unit.as({ method: 'GET', url: `/cell1/${job}` }));
    if (!String(status.status).includes('in progress')) return status;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`${job} did not end`);
}

const areaFile = (unit: TestUnit, name: string) => {
  const { store, snapshots } = unit.server.cellar;
  return path.join(snapshots.of(store.findCell('cell1')!.id).dir, name);
};

test('an export accepted while a box upload streams waits for it, and exports the whole new file', async (t) => {
  const unit = await boxUnit(t);
  const pieces = Array.from({ length: 6 }, (_, i) => Buffer.alloc(256 * 1024, i + 1));
  const upload = slowPut(unit.url, '/cell1/box1/big.bin', pieces, 100);
  await new Promise((resolve) => setTimeout(resolve, 150));
  t.is(unit.server.cellar.writes.running(unit.server.cellar.store.findCell('cell1')!.id), 1, 'the upload is under way');
  const exported = await unit.as({ method: 'POST', url: '/cell1/__export', payload: '{"Name":"s1"}' });
  t.is(exported.statusCode, 202);
  t.is(await upload.done, 201, 'the upload that was under way was let finish');
  await untilIdle(unit, '__export');
  const zip = await readZip(areaFile(unit, 's1.zip'));
  const entry = [...zip.keys()].find((name) => name.endsWith('/big.bin/content'))!;
  t.true(zip.get(entry)!.data.equals(Buffer.concat(pieces)));
});

test('a write that does not end within the wait makes the export and the import answer 409 PR409-MC-0001, leaving the cell as it was', async (t) => {
  const unit = await boxUnit(t, { jobWriteDrainMs: 300 });
  await unit.as({ method: 'PUT', url: '/cell1/__snapshot/good.zip', payload: buildZip(snapshotEntries()) });
  const stalled = slowPut(unit.url, '/cell1/box1/stalled.bin', [Buffer.alloc(1000, 1), Buffer.alloc(1000, 2)], -1);
  await new Promise((resolve) => setTimeout(resolve, 100));
  for (const job of ['__export', '__import'] as const) {
    const res = await unit.as({ method: 'POST', url: `/cell1/${job}`, payload: job === '__export' ? '{"Name":"s2"}' : '{"Name":"good"}' });
    t.is(res.statusCode, 409, job);
    t.deepEqual(json(res), errorBody('PR409-MC-0001'), job);
    t.deepEqual(json(await unit.as({ method: 'GET', url: `/cell1/${job}` })), { status: 'ready' }, job);
  }
  const cell = unit.server.cellar.store.findCell('cell1')!;
  t.is(cell.status, 'normal');
  t.is(cell.job, undefined);
  stalled.finish();
  t.is(await stalled.done, 201);
  t.is((await unit.as({ method: 'POST', url: '/cell1/__export', payload: '{"Name":"s2"}' })).statusCode, 202, 'once the write ended, the export starts');
  await untilIdle(unit, '__export');
});

test('snapshot uploads are not waited for: they leave the cell content alone', async (t) => {
  const unit = await boxUnit(t, { jobWriteDrainMs: 300 });
  const upload = slowPut(unit.url, '/cell1/__snapshot/incoming.zip', [Buffer.alloc(1000, 1), Buffer.alloc(1000, 2)], -1);
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.is((await unit.as({ method: 'POST', url: '/cell1/__export', payload: '{"Name":"s3"}' })).statusCode, 202);
  await untilIdle(unit, '__export');
  upload.finish();
  t.is(await upload.done, 201);
});

test('exports under load: 8 clients rewrite big box files in a loop; every export holds each file wholly as one of its versions', async (t) => {
  const unit = await boxUnit(t);
  const clients = 8;
  const size = 512 * 1024;
  /** Every version each client's file has had, by SHA-256. */
  const versions = Array.from({ length: clients }, () => new Set<string>());
  const version = (client: number, round: number) => {
    const bytes = Buffer.alloc(size, (client * 31 + round) % 251);
    bytes.writeUInt32BE(round, 0);
    return bytes;
  };
  const put = (client: number, bytes: Buffer) => new Promise<number>((resolve, reject) => {
    const { hostname, port } = new URL(unit.url);
    const request = http.request({ hostname, port, method: 'PUT', path: `/cell1/box1/c${client}.bin`, headers: { ...auth, 'content-length': String(bytes.length) } }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    request.on('error', reject);
    request.end(bytes);
  });
  for (let client = 0; client < clients; client++) {
    const first = version(client, 0);
    versions[client]!.add(createHash('sha256').update(first).digest('hex'));
    t.is(await put(client, first), 201);
  }
  let running = true;
  const statuses = new Map<number, number>();
  const writers = Array.from({ length: clients }, async (_, client) => {
    for (let round = 1; running && round < 400; round++) {
      const bytes = version(client, round);
      versions[client]!.add(createHash('sha256').update(bytes).digest('hex'));
      const status = await put(client, bytes);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
  });
  const names: string[] = [];
  for (let i = 0; i < 4; i++) {
    await new Promise((resolve) => setTimeout(resolve, 150));
    const res = await unit.as({ method: 'POST', url: '/cell1/__export', payload: JSON.stringify({ Name: `load${i}` }) });
    t.is(res.statusCode, 202, `export ${i}: ${res.payload}`);
    await untilIdle(unit, '__export');
    names.push(`load${i}`);
  }
  running = false;
  await Promise.all(writers);
  t.log(`PUT answers: ${JSON.stringify(Object.fromEntries(statuses))}`);
  t.true([...statuses.keys()].every((status) => status === 204 || status === 409), 'writes either landed or were refused while an export ran');
  for (const name of names) {
    const zip = await readZip(areaFile(unit, `${name}.zip`));
    for (let client = 0; client < clients; client++) {
      const content = [...zip.entries()].find(([entry]) => entry.endsWith(`/c${client}.bin/content`))?.[1].data;
      t.truthy(content, `${name}: c${client}.bin is in the export`);
      if (!content) continue;
      t.true(versions[client]!.has(createHash('sha256').update(content).digest('hex')), `${name}: c${client}.bin is one whole version`);
      const pmeta = [...zip.entries()].find(([entry]) => entry.endsWith(`/c${client}.bin/.pmeta`))![1].data;
      t.is(JSON.parse(pmeta.toString('utf8')).cl, content.length, `${name}: c${client}.bin's .pmeta says its length`);
    }
  }
});
