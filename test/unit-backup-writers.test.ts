import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { cellar } from './helpers/cli.ts';
import { auth, masterToken, startUnit, type TestUnit } from './helpers/unit.ts';

const cells = ['c0', 'c1', 'c2', 'c3'];
const clients = 8;
const filesPerClient = 3;
const maxRounds = 400;

/** 256 KiB that say which client, file and version wrote them, all through. */
function bodyOf(client: number, file: number, version: number): Buffer {
  return Buffer.from(`client ${client} file ${file} version ${version}|`.repeat(8192).slice(0, 256 * 1024));
}

async function unitOn(dataDir: string): Promise<TestUnit> {
  await mkdir(dataDir, { recursive: true });
  await writeFile(path.join(dataDir, 'master-token'), `${masterToken}\n`, { mode: 0o600, flag: 'wx' }).catch(() => {});
  const unit = await startUnit({ unitUrl: '', masterToken: '' }, { dataDir });
  await unit.listen();
  return unit;
}

test('a backup taken while 8 clients rewrite files restores every file wholly one version, and the clients only ever got the documented 409', async (t) => {
  // Big files on a machine shared with other test runs.
  t.timeout(180_000);
  const work = await mkdtemp(path.join(os.tmpdir(), 'cellar-backup-load-'));
  let unit = await unitOn(path.join(work, 'data'));
  t.teardown(async () => {
    await unit.stop();
    await rm(work, { recursive: true, force: true });
  });
  for (const cell of cells) {
    await unit.createCell(cell);
    // Filler, so that each cell is held long enough for the clients to meet the hold.
    const filler = await fetch(`${unit.url}/${cell}/__/filler.bin`, { method: 'PUT', headers: auth, body: randomBytes(24 * 1024 * 1024) });
    t.is(filler.status, 201);
  }

  let stop = false;
  const unexpected: string[] = [];
  let conflicts = 0;
  const lastVersion = new Map<string, number>();
  const client = async (id: number) => {
    const cell = cells[id % cells.length]!;
    for (let round = 0; round < maxRounds && !stop; round++) {
      const file = round % filesPerClient;
      const url = `${unit.url}/${cell}/__/client${id}-file${file}.txt`;
      try {
        const res = await fetch(url, { method: 'PUT', headers: { ...auth, 'content-type': 'text/plain' }, body: bodyOf(id, file, round) });
        const text = await res.text();
        if (res.status === 201 || res.status === 204) lastVersion.set(`${id}/${file}`, round);
        else if (res.status === 409 && JSON.parse(text).code === 'PR409-CM-0002' && text.includes('[unit backup]')) conflicts += 1;
        else unexpected.push(`${res.status} ${text}`);
      } catch (error) {
        unexpected.push(String(error));
      }
    }
  };
  const writers = Promise.all(Array.from({ length: clients }, (_, id) => client(id)));
  await new Promise((resolve) => setTimeout(resolve, 300));
  const backup = await cellar(unit, ['unit', 'backup', 'unit.tar'], { cwd: work });
  stop = true;
  await writers;
  t.is(backup.code, 0, backup.stderr);
  t.deepEqual(unexpected, [], 'no client got anything but success or the documented 409');
  t.true(conflicts > 0, 'some writes met a cell while it was read');
  await unit.stop();

  const restore = await cellar({ url: '' }, ['unit', 'restore', 'unit.tar', '--data-dir', 'restored'], { cwd: work });
  t.is(restore.code, 0, restore.stderr);
  unit = await unitOn(path.join(work, 'restored'));
  let found = 0;
  for (let id = 0; id < clients; id++) {
    for (let file = 0; file < filesPerClient; file++) {
      const res = await fetch(`${unit.url}/${cells[id % cells.length]}/__/client${id}-file${file}.txt`, { headers: auth });
      if (res.status === 404) continue;
      t.is(res.status, 200);
      const body = Buffer.from(await res.arrayBuffer());
      const version = Number(/^client \d+ file \d+ version (\d+)\|/.exec(body.toString('latin1'))?.[1]);
      t.deepEqual(body, bodyOf(id, file, version), `client${id}-file${file} is wholly version ${version}`);
      t.true(version <= (lastVersion.get(`${id}/${file}`) ?? -1), 'a version that was acknowledged');
      found += 1;
    }
  }
  t.true(found > 0);
});
