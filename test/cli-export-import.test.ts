import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import test from 'ava';
import { ZipArchive } from 'archiver';
import yauzl from 'yauzl';
import { workspace } from './helpers/cli.ts';
import { json } from './helpers/unit.ts';

/** A workspace whose cell1 holds box1. */
async function setUp(t: { teardown(fn: () => Promise<void>): void }) {
  const space = await workspace(t);
  await space.unit.createBox('cell1', 'box1');
  return space;
}

/** Copies a snapshot zip, giving its first entry a wrong SHA-256 in 00_checksums.json. */
async function withWrongChecksum(source: string, target: string): Promise<void> {
  const zip = await yauzl.openPromise(source, { lazyEntries: true, autoClose: false });
  const entries = await new Promise<yauzl.Entry[]>((resolve, reject) => {
    const found: yauzl.Entry[] = [];
    zip.on('entry', (entry: yauzl.Entry) => {
      found.push(entry);
      zip.readEntry();
    });
    zip.once('end', () => resolve(found));
    zip.once('error', reject);
    zip.readEntry();
  });
  const archive = new ZipArchive();
  const written = pipeline(archive, createWriteStream(target));
  for (const entry of entries) {
    if (entry.fileName.endsWith('/')) continue;
    const content = await buffer(await zip.openReadStreamPromise(entry));
    if (entry.fileName !== '00_checksums.json') {
      archive.append(content, { name: entry.fileName });
      continue;
    }
    const checksums = JSON.parse(content.toString('utf8')) as Record<string, { size: number; sha256: string }>;
    const first = Object.keys(checksums)[0]!;
    checksums[first]!.sha256 = '0'.repeat(64);
    archive.append(JSON.stringify(checksums), { name: entry.fileName });
  }
  await archive.finalize();
  await written;
  zip.close();
}

test('export --wait follows the export to its end and reports the .zip', async (t) => {
  const { run } = await setUp(t);
  const exported = await run(['export', 'cell1', '--name', 'snap1', '--wait']);
  t.is(exported.code, 0, exported.stderr);
  t.is(exported.stdout, 'export snap1 of cell1 done: snap1.zip is in its snapshot area\n');
  t.regex(exported.stderr, /(^|\n)export cell1: 100%\n$/);
  t.regex((await run(['snapshot', 'ls', 'cell1'])).stdout, / snap1\.zip\n$/);
});

test('export without --name picks {cell}_yyyyMMdd_HHmmss in UTC, as the unit would', async (t) => {
  const { run } = await setUp(t);
  const exported = await run(['--json', 'export', 'cell1', '--wait']);
  t.is(exported.code, 0, exported.stderr);
  const result = JSON.parse(exported.stdout);
  t.regex(result.name, /^cell1_\d{8}_\d{6}$/);
  t.like(result, { cell: 'cell1', status: 'done', file: `${result.name}.zip` });
  t.true(result.size > 0);
});

test('export without --wait returns once the unit has accepted it', async (t) => {
  const { unit, run } = await setUp(t);
  const started = await run(['export', 'cell1', '--name', 'snap1']);
  t.is(started.code, 0, started.stderr);
  t.is(started.stdout, 'export snap1 of cell1 started; snap1.zip appears in its snapshot area when done\n');
  t.true(['ready', 'exportation in progress'].includes(json(await unit.as({ method: 'GET', url: '/cell1/__export' })).status));
});

test('an export over an existing snapshot name is refused with PR409-DV-0002', async (t) => {
  const { run } = await setUp(t);
  await run(['export', 'cell1', '--name', 'snap1', '--wait']);
  const again = await run(['export', 'cell1', '--name', 'snap1', '--wait']);
  t.is(again.code, 1);
  t.is(again.stderr, 'cellar: PR409-DV-0002 File [snap1.zip] already exists. (HTTP 409)\n');
});

test('a snapshot exported from one cell, downloaded and uploaded again, imports into another cell', async (t) => {
  const { unit, dir, run } = await setUp(t);
  t.is((await run(['export', 'cell1', '--name', 'snap1', '--wait'])).code, 0);
  t.is((await run(['snapshot', 'get', 'cell1', 'snap1.zip'])).code, 0);
  t.is((await run(['cell', 'create', 'cell2'])).code, 0);
  t.is((await run(['snapshot', 'put', 'cell2', path.join(dir, 'snap1.zip')])).code, 0);
  const imported = await run(['import', 'cell2', 'snap1', '--wait']);
  t.is(imported.code, 0, imported.stderr);
  t.is(imported.stdout, 'import of snap1 into cell2 done\n');
  t.regex(imported.stderr, /(^|\n)import cell2: 100%\n$/);
  t.is((await unit.as({ method: 'GET', url: "/cell2/__ctl/Box('box1')" })).statusCode, 200);
});

test('a failing import exits with 1 and prints the message the unit reports', async (t) => {
  const { dir, run } = await setUp(t);
  await run(['export', 'cell1', '--name', 'snap1', '--wait']);
  await run(['snapshot', 'get', 'cell1', 'snap1.zip']);
  await withWrongChecksum(path.join(dir, 'snap1.zip'), path.join(dir, 'tampered.zip'));
  await run(['snapshot', 'put', 'cell1', path.join(dir, 'tampered.zip')]);
  const imported = await run(['import', 'cell1', 'tampered', '--wait']);
  t.is(imported.code, 1);
  t.regex(imported.stderr, /\ncellar: PR400-SN-0005 import of tampered into cell1 failed: Entry \[.+\] does not match its checksum in 00_checksums\.json\.\n$/);
  const again = await run(['--json', 'import', 'cell1', 'tampered', '--wait']);
  t.is(again.code, 1);
  t.like(JSON.parse(again.stdout), { cell: 'cell1', name: 'tampered', status: 'failed', error: { code: 'PR400-SN-0005' } });
});

test('an import the unit refuses up front shows its code: a missing snapshot, a file that is not a zip', async (t) => {
  const { dir, run } = await setUp(t);
  const missing = await run(['import', 'cell1', 'nothing', '--wait']);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /^cellar: PR404-DV-0001 .*\(HTTP 404\)\n$/);
  const notZip = path.join(dir, 'notzip.zip');
  await writeFile(notZip, 'this is not a zip');
  await run(['snapshot', 'put', 'cell1', notZip]);
  const refused = await run(['import', 'cell1', 'notzip']);
  t.is(refused.code, 1);
  t.is(refused.stderr, 'cellar: PR400-MC-0004 The specified snapshot file is not zip file. (HTTP 400)\n');
});
