import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { pjsonFiles } from '../core/export-format.ts';
import { CellLayout } from './helpers/cell-layout.ts';
import { areaDirOf, areaFiles, holdExportAt, postExport, untilReady } from './helpers/export.ts';
import { startUnit, type TestUnit } from './helpers/unit.ts';
import { readZip } from './helpers/zip.ts';

const run = promisify(execFile);
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** cell1 with a box, nested collections, binary, text and empty files, an empty folder, Unicode names, dead properties. */
async function richCell(t: { teardown(fn: () => Promise<void>): void }) {
  const unit = await startUnit();
  t.teardown(() => unit.stop());
  await unit.createCell('cell1');
  await unit.createBox('cell1', 'box1');
  const layout = new CellLayout(unit, 'cell1');
  const binary = randomBytes(300 * 1024);
  const text = Buffer.from('a line of text that repeats\n'.repeat(20_000));
  await layout.collection('__/docs', { dead: { 'urn:x:color': { value: 'blue', attributes: {} } } });
  await layout.collection('__/docs/deeper');
  await layout.collection('__/docs/deeper/empty folder');
  await layout.file('__/docs/deeper/random.bin', binary);
  await layout.file('__/docs/notes.txt', text, { contentType: 'text/plain' });
  await layout.file('__/docs/empty.txt', '');
  await layout.collection('box1/日本語 フォルダ');
  await layout.file('box1/日本語 フォルダ/café ☕.txt', 'crème brûlée', { contentType: 'text/plain; charset=utf-8', dead: { 'urn:x:lang': { value: 'fr', attributes: {} } } });
  return { unit, layout, binary, text };
}

async function exportedZip(unit: TestUnit, name = 'snap1') {
  const res = await postExport(unit, 'cell1', { Name: name });
  if (res.statusCode !== 202) throw new Error(`export refused: ${res.payload}`);
  await untilReady(unit, 'cell1');
  return path.join(areaDirOf(unit, 'cell1'), `${name}.zip`);
}

test('a rich cell exports to a zip that Info-ZIP unzip -t accepts', async (t) => {
  const { unit } = await richCell(t);
  const zip = await exportedZip(unit);
  const { stdout } = await run('unzip', ['-t', zip]);
  t.regex(stdout, /No errors detected in compressed data/);
});

test('the zip holds the manifest, the cell record, all 16 .pjson files and the WebDAV tree as Personium lays it out', async (t) => {
  const { unit, layout } = await richCell(t);
  const boxDir = await layout.boxDir('box1');
  const boxId = path.basename(boxDir);
  const entries = await readZip(await exportedZip(unit));
  const names = [...entries.keys()];
  t.deepEqual(names.slice(0, 3), ['00_manifest.json', '10_odata/', '10_odata/00_cell.json']);
  t.deepEqual(names.slice(3, 19), pjsonFiles.map(([file]) => `10_odata/${file}`));
  t.is(names.at(-1), '00_checksums.json');
  t.deepEqual(names.slice(19, -1).sort(), [
    '20_webdav/', '20_webdav/.pmeta',
    '20_webdav/__/', '20_webdav/__/.pmeta',
    '20_webdav/__/docs/', '20_webdav/__/docs/.pmeta',
    '20_webdav/__/docs/deeper/', '20_webdav/__/docs/deeper/.pmeta',
    '20_webdav/__/docs/deeper/empty folder/', '20_webdav/__/docs/deeper/empty folder/.pmeta',
    '20_webdav/__/docs/deeper/random.bin/', '20_webdav/__/docs/deeper/random.bin/.pmeta', '20_webdav/__/docs/deeper/random.bin/content',
    '20_webdav/__/docs/empty.txt/', '20_webdav/__/docs/empty.txt/.pmeta', '20_webdav/__/docs/empty.txt/content',
    '20_webdav/__/docs/notes.txt/', '20_webdav/__/docs/notes.txt/.pmeta', '20_webdav/__/docs/notes.txt/content',
    `20_webdav/${boxId}/`, `20_webdav/${boxId}/.pmeta`,
    `20_webdav/${boxId}/日本語 フォルダ/`, `20_webdav/${boxId}/日本語 フォルダ/.pmeta`,
    `20_webdav/${boxId}/日本語 フォルダ/café ☕.txt/`, `20_webdav/${boxId}/日本語 フォルダ/café ☕.txt/.pmeta`, `20_webdav/${boxId}/日本語 フォルダ/café ☕.txt/content`,
  ].sort());
  const manifest = JSON.parse(entries.get('00_manifest.json')!.data.toString('utf8'));
  t.like(manifest, { export_version: 2, unit_url: 'http://unit.test/', cell_name: 'cell1' });
  t.true(Number.isInteger(manifest.create_date) && Math.abs(manifest.create_date - Date.now()) < 60_000);
  const cell = unit.server.cellar.store.findCell('cell1')!;
  t.like(JSON.parse(entries.get('10_odata/00_cell.json')!.data.toString('utf8')), { _type: 'Cell', _id: cell.id, _source: { s: { Name: 'cell1' } } });
  const boxLines = entries.get('10_odata/10_box.pjson')!.data.toString('utf8');
  t.true(boxLines.endsWith('\n'));
  t.like(JSON.parse(boxLines), { _type: 'Box', _id: boxId, _source: { c: cell.id, s: { Name: 'box1', Schema: null } } });
  t.is(entries.get('10_odata/11_account.pjson')!.data.length, 0);
});

test('every file in the zip is byte for byte the cell file, .pmeta with its dead properties included', async (t) => {
  const { unit, layout, binary, text } = await richCell(t);
  const entries = await readZip(await exportedZip(unit));
  const boxId = path.basename(await layout.boxDir('box1'));
  t.deepEqual(entries.get('20_webdav/__/docs/deeper/random.bin/content')!.data, binary);
  t.deepEqual(entries.get('20_webdav/__/docs/notes.txt/content')!.data, text);
  t.is(entries.get('20_webdav/__/docs/empty.txt/content')!.data.length, 0);
  t.is(entries.get(`20_webdav/${boxId}/日本語 フォルダ/café ☕.txt/content`)!.data.toString('utf8'), 'crème brûlée');
  const pmeta = JSON.parse(entries.get(`20_webdav/${boxId}/日本語 フォルダ/café ☕.txt/.pmeta`)!.data.toString('utf8'));
  t.like(pmeta, { t: 'dav.file', ct: 'text/plain; charset=utf-8', d: { 'urn:x:lang': { value: 'fr' } } });
  const onDisk = await readFile(path.join(await layout.resourceDir('__/docs'), '.pmeta'));
  t.deepEqual(entries.get('20_webdav/__/docs/.pmeta')!.data, onDisk);
});

test('00_checksums.json gives the size and SHA-256 of every file entry and of nothing else', async (t) => {
  const { unit } = await richCell(t);
  const entries = await readZip(await exportedZip(unit));
  const checksums = JSON.parse(entries.get('00_checksums.json')!.data.toString('utf8'));
  const files = [...entries.values()].filter((entry) => !entry.directory && entry.name !== '00_checksums.json');
  t.deepEqual(Object.keys(checksums).sort(), files.map((entry) => entry.name).sort());
  for (const entry of files) t.deepEqual(checksums[entry.name], { size: entry.data.length, sha256: sha256(entry.data) }, entry.name);
});

test('random bytes are stored and text is deflated', async (t) => {
  const { unit } = await richCell(t);
  const entries = await readZip(await exportedZip(unit));
  t.is(entries.get('20_webdav/__/docs/deeper/random.bin/content')!.compressionMethod, 0);
  t.is(entries.get('20_webdav/__/docs/notes.txt/content')!.compressionMethod, 8);
});

test('lines of types Cellar does not model are written back verbatim, in their own .pjson file', async (t) => {
  const { unit } = await richCell(t);
  const { contents, store } = unit.server.cellar;
  const document = await contents.odata(store.findCell('cell1')!);
  const account = '{"_type":"Account","_id":"a1","_source":{"s":{"Name":"me"},"h":{"HashedCredential":"x"}}}';
  document.data.preserved['11_account.pjson'] = [account];
  document.data.cellSource = { s: { Name: 'old name', Extra: 1 }, h: { Owner: null } };
  await document.write();
  const entries = await readZip(await exportedZip(unit));
  t.is(entries.get('10_odata/11_account.pjson')!.data.toString('utf8'), `${account}\n`);
  t.like(JSON.parse(entries.get('10_odata/00_cell.json')!.data.toString('utf8')), { _source: { s: { Name: 'cell1', Extra: 1 }, h: { Owner: null } } });
});

test("Cellar's temporaries and hidden folders such as .pkeys stay out of the zip", async (t) => {
  const { unit, layout } = await richCell(t);
  const docs = await layout.resourceDir('__/docs');
  await writeFile(path.join(docs, '.content.tmp-abc'), 'half an upload');
  await mkdir(path.join(layout.davRoot, '.pkeys'));
  await writeFile(path.join(layout.davRoot, '.pkeys', 'key'), 'secret');
  const names = [...(await readZip(await exportedZip(unit))).keys()];
  t.false(names.some((name) => name.includes('.content.tmp-') || name.includes('.pkeys')));
});

test('the zip is a hidden temporary file until it is complete; then only {Name}.zip is in the area', async (t) => {
  const { unit } = await richCell(t);
  const hold = holdExportAt(unit, (entry) => entry.endsWith('notes.txt/content'));
  t.is((await postExport(unit, 'cell1', { Name: 'snap1' })).statusCode, 202);
  await hold.reached;
  const during = await areaFiles(unit, 'cell1');
  t.true(during.length > 0 && during.every((name) => /^\.tmp-export-snap1-/.test(name)), during.join(' '));
  t.deepEqual(await unit.server.cellar.snapshots.of(unit.server.cellar.store.findCell('cell1')!.id).names(), []);
  const listing = await unit.as({ method: 'PROPFIND', url: '/cell1/__snapshot', headers: { depth: '1' } });
  t.is(listing.statusCode, 207);
  t.notRegex(listing.payload, /snap1|\.tmp-/);
  hold.release();
  await untilReady(unit, 'cell1');
  t.deepEqual((await areaFiles(unit, 'cell1')).filter((name) => !name.startsWith('.meta')), ['snap1.zip']);
  const after = await unit.as({ method: 'PROPFIND', url: '/cell1/__snapshot', headers: { depth: '1' } });
  t.regex(after.payload, /__snapshot\/snap1\.zip</);
  t.regex(after.payload, /<D:getcontenttype>application\/zip<\/D:getcontenttype>/i);
  const download = await unit.as({ method: 'GET', url: '/cell1/__snapshot/snap1.zip' });
  t.is(download.headers['content-type'], 'application/zip');
});
