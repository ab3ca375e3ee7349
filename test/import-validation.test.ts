import { readdir, readFile } from 'node:fs/promises';
import { deflateRawSync } from 'node:zlib';
import test from 'ava';
import { errorBody } from '../core/errors.ts';
import { buildZip, importStatus, snapshotEntries, startImport, unitWithCell, upload, type ZipEntrySpec } from './helpers/snapshot-zip.ts';
import { json, type TestUnit } from './helpers/unit.ts';

/** The cell is exactly as it was, and nothing was left beside its content. */
async function assertUntouched(t: import('ava').ExecutionContext, unit: TestUnit): Promise<void> {
  const { store, contents } = unit.server.cellar;
  const cell = store.findCell('cell1')!;
  t.deepEqual(await readdir(contents.cellDir(cell.id)), [cell.contentId], 'no staging folder is left');
  t.is(await readFile(`${contents.boxDir(cell, (await contents.odata(cell)).data.boxes[0]!._id)}/old.txt/content`, 'utf8'), 'old content');
}

const change = (edit: (entries: ZipEntrySpec[]) => ZipEntrySpec[]) => buildZip(snapshotEntries({ change: edit }));
const withEntry = (extra: ZipEntrySpec) => change((entries) => [...entries, extra]);
const without = (name: string) => buildZip(snapshotEntries().filter((entry) => entry.name !== name));

const refusedBefore202: Array<[string, () => Buffer, ReturnType<typeof errorBody> | string]> = [
  ['a ../ entry', () => withEntry({ name: '20_webdav/__/../../evil/content', data: 'x' }), errorBody('PR400-SN-0001', ['20_webdav/__/../../evil/content', 'relative path segment'])],
  ['an absolute path', () => withEntry({ name: '/etc/evil', data: 'x' }), errorBody('PR400-SN-0001', ['/etc/evil', 'absolute path'])],
  ['a backslash path', () => withEntry({ name: '20_webdav\\..\\evil', data: 'x' }), errorBody('PR400-SN-0001', ['20_webdav\\..\\evil', 'backslash in the path'])],
  ['a symlink entry', () => withEntry({ name: '20_webdav/__/link/content', data: '/etc/passwd', mode: 0o120777 }), errorBody('PR400-SN-0001', ['20_webdav/__/link/content', 'symbolic link'])],
  ['an encrypted entry', () => withEntry({ name: '20_webdav/__/secret/content', data: 'x', encrypted: true }), errorBody('PR400-SN-0001', ['20_webdav/__/secret/content', 'encrypted entry'])],
  ['duplicate entry names', () => change((entries) => [...entries, { name: '20_webdav/__/top.txt/content', data: 'again' }]), errorBody('PR400-SN-0001', ['20_webdav/__/top.txt/content', 'duplicate entry name'])],
  ['an entry outside the layout', () => withEntry({ name: 'README.txt', data: 'x' }), errorBody('PR400-SN-0001', ['README.txt', 'not part of the snapshot layout'])],
  ['a ratio bomb', () => withEntry({ name: '20_webdav/__/bomb/content', data: Buffer.alloc(8 * 1024 * 1024), deflate: true }), errorBody('PR400-SN-0004', ['20_webdav/__/bomb/content', 100])],
  ['a non-zip', () => Buffer.from('this is not a zip file at all'), errorBody('PR400-MC-0004')],
  ['a truncated zip', () => { const zip = buildZip(snapshotEntries()); return zip.subarray(0, zip.length - 30); }, errorBody('PR400-MC-0004')],
  ['a missing manifest', () => without('00_manifest.json'), errorBody('PR400-MC-0001', ['00_manifest.json'])],
  ['a manifest that is not JSON', () => change((entries) => entries.map((entry) => entry.name === '00_manifest.json' ? { ...entry, data: '{export_version:' } : entry)), 'PR400-CM-0004'],
  ['export_version "2"', () => buildZip(snapshotEntries({ manifest: { export_version: '2' } })), errorBody('PR400-MC-0003', [2, '"2"'])],
  ['export_version 1', () => buildZip(snapshotEntries({ manifest: { export_version: 1 } })), errorBody('PR400-MC-0003', [2, 1])],
  ['export_version 3', () => buildZip(snapshotEntries({ manifest: { export_version: 3 } })), errorBody('PR400-MC-0003', [2, 3])],
  ['no export_version', () => buildZip(snapshotEntries({ manifest: { unit_url: 'x' } })), errorBody('PR400-MC-0003', [2, 'null'])],
  ['a missing .pjson', () => without('10_odata/21_rule.pjson'), errorBody('PR400-MC-0001', ['10_odata/21_rule.pjson'])],
  ['a missing 00_cell.json', () => without('10_odata/00_cell.json'), errorBody('PR400-MC-0001', ['10_odata/00_cell.json'])],
];

for (const [what, zip, expected] of refusedBefore202) {
  test(`import of a zip with ${what} is refused before the 202 and changes nothing`, async (t) => {
    const unit = await unitWithCell();
    t.teardown(() => unit.stop());
    const bytes = zip();
    await upload(unit, 'hostile', bytes);
    const res = await startImport(unit, 'hostile');
    t.is(res.statusCode, 400);
    if (typeof expected === 'string') t.is(json(res).code, expected);
    else t.deepEqual(json(res), expected);
    t.is(json(await unit.as({ method: 'GET', url: '/cell1/__import' })).status, 'ready');
    await assertUntouched(t, unit);
    const { store, contents } = unit.server.cellar;
    t.deepEqual(await readFile(`${contents.snapshotDir(store.findCell('cell1')!.id)}/hostile.zip`), bytes, 'the stored zip is never modified');
  });
}

const failingAfter202: Array<[string, () => Buffer, ReturnType<typeof errorBody>]> = [
  ['content not matching its checksum', () => buildZip(snapshotEntries({ checksums: (sums) => { sums['20_webdav/oldbox/hello.txt/content']!.sha256 = '0'.repeat(64); } })), errorBody('PR400-SN-0005', ['20_webdav/oldbox/hello.txt/content'])],
  ['a small deflated file that expands past its declared size', () => change((entries) => entries.map((entry) => entry.name === '20_webdav/__/top.txt/content' ? { ...entry, data: 'top'.repeat(100), deflate: true, declaredSize: 299 } : entry)), errorBody('PR400-SN-0006', ['20_webdav/__/top.txt/content: expands to more than its declared 299 bytes'])],
  ['a small deflated file that expands to less than its declared size', () => change((entries) => entries.map((entry) => entry.name === '20_webdav/__/top.txt/content' ? { ...entry, data: 'top'.repeat(100), deflate: true, declaredSize: 301 } : entry)), errorBody('PR400-SN-0006', ['20_webdav/__/top.txt/content: expands to 300 bytes, not the declared 301'])],
  ['a local file header without its signature', () => {
    const zip = buildZip(snapshotEntries());
    // The first copy of the name is the local header's; its signature is 30 bytes before it.
    zip.write('XXXX', zip.indexOf('20_webdav/__/top.txt/content') - 30, 'latin1');
    return zip;
  }, errorBody('PR400-SN-0006', ['20_webdav/__/top.txt/content: invalid local file header signature: 0x58585858'])],
  ['a file missing from the checksum list', () => buildZip(snapshotEntries({ checksums: (sums) => { delete sums['20_webdav/__/top.txt/content']; } })), errorBody('PR400-SN-0005', ['20_webdav/__/top.txt/content'])],
];

for (const [what, zip, expected] of failingAfter202) {
  test(`import of a zip with ${what} ends as import failed and leaves the cell as it was`, async (t) => {
    const unit = await unitWithCell();
    t.teardown(() => unit.stop());
    await upload(unit, 'bad', zip());
    const res = await startImport(unit, 'bad');
    t.is(res.statusCode, 202);
    t.is(res.headers.location, 'http://unit.test/cell1/__import');
    const status = await importStatus(unit);
    t.is(status.status, 'import failed');
    t.is(status.importation_name, 'bad');
    t.regex(status.started_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    t.regex(status.progress, /^\d+%$/);
    t.deepEqual(status.message, expected);
    t.deepEqual(json(await unit.as({ method: 'GET', url: '/cell1/__ctl/Box' })), errorBody('PR409-CM-0001'), 'the import-failed gate holds');
    await assertUntouched(t, unit);
  });
}

test('an entry whose real size exceeds its declared size fails the import as damaged', async (t) => {
  const unit = await unitWithCell();
  t.teardown(() => unit.stop());
  const big = Buffer.alloc(100_000, 'z');
  const zip = buildZip(snapshotEntries({
    change: (entries) => entries.map((entry) => entry.name === '20_webdav/__/top.txt/content' ? { ...entry, data: big, deflate: true, declaredSize: 3 } : entry),
    checksums: (sums) => { sums['20_webdav/__/top.txt/content'] = { size: 3, sha256: '0'.repeat(64) }; },
  }));
  t.true(deflateRawSync(big).length < big.length);
  await upload(unit, 'liar', zip);
  t.is((await startImport(unit, 'liar')).statusCode, 202);
  const status = await importStatus(unit);
  t.is(status.status, 'import failed');
  t.is(status.message.code, 'PR400-SN-0006');
  t.regex(status.message.message.value, /20_webdav\/__\/top\.txt\/content/);
});

test('files whose local headers carry a longer extra field than the central directory import byte for byte', async (t) => {
  const unit = await unitWithCell();
  t.teardown(() => unit.stop());
  // Info-ZIP writes local extra fields the central directory lacks; the data starts after them.
  const extra = Buffer.concat([Buffer.from([0x55, 0x54, 9, 0, 3]), Buffer.alloc(8, 1)]);
  await upload(unit, 'extras', change((entries) => entries.map((entry) => entry.name.endsWith('/content') ? { ...entry, localExtra: extra } : entry)));
  t.is((await startImport(unit, 'extras')).statusCode, 202);
  t.deepEqual(await importStatus(unit), { status: 'ready' });
  t.is((await unit.as({ method: 'GET', url: '/cell1/__/top.txt' })).payload, 'top');
  t.is((await unit.as({ method: 'GET', url: '/cell1/box1/hello.txt' })).payload, 'hello');
});

test('the import body is checked: JSON, Name present and well-formed, zip present', async (t) => {
  const unit = await unitWithCell();
  t.teardown(() => unit.stop());
  t.deepEqual(json(await unit.as({ method: 'POST', url: '/cell1/__import' })), errorBody('PR400-CM-0004', ['']));
  t.is(json(await unit.as({ method: 'POST', url: '/cell1/__import', payload: '{"Name":' })).code, 'PR400-CM-0004');
  t.deepEqual(json(await unit.as({ method: 'POST', url: '/cell1/__import', payload: {} })), errorBody('PR400-CM-0001', ['Name']));
  t.deepEqual(json(await unit.as({ method: 'POST', url: '/cell1/__import', payload: { Name: 'a/b' } })), errorBody('PR400-CM-0002', ['Name', '^[a-zA-Z0-9-_]{1,192}$']));
  t.deepEqual(json(await unit.as({ method: 'POST', url: '/cell1/__import', payload: { Name: 7 } })), errorBody('PR400-CM-0002', ['Name', '^[a-zA-Z0-9-_]{1,192}$']));
  t.deepEqual(json(await unit.as({ method: 'POST', url: '/cell1/__import', payload: { Name: 'missing' } })), errorBody('PR404-DV-0001', ['missing.zip']));
  t.deepEqual(json(await unit.as({ method: 'PUT', url: '/cell1/__import' })), errorBody('PR405-MC-0001'));
  const { status, store } = unit.server.cellar;
  await status.accept(store.findCell('cell1')!.id, 'export', 'x');
  t.deepEqual(json(await startImport(unit, 'missing')), errorBody('PR409-CM-0002', ['cell export']));
});

test('a snapshot of another cell imports, ids remapped, unknown lines kept, and GET shows ready', async (t) => {
  const unit = await unitWithCell();
  t.teardown(() => unit.stop());
  await upload(unit, 'good', buildZip(snapshotEntries()));
  t.is((await startImport(unit, 'good')).statusCode, 202);
  t.deepEqual(await importStatus(unit), { status: 'ready' });
  t.is((await unit.as({ method: 'GET', url: '/cell1/box1/hello.txt' })).payload, 'hello');
  t.is((await unit.as({ method: 'GET', url: '/cell1/__/top.txt' })).payload, 'top');
  t.is((await unit.as({ method: 'GET', url: '/cell1/keep/old.txt' })).statusCode, 404, 'the old content is gone');
  const { store, contents } = unit.server.cellar;
  const cell = store.findCell('cell1')!;
  const odata = (await contents.odata(cell)).data;
  t.not(odata.boxes[0]!._id, 'oldbox');
  t.is(odata.preserved['12_extcell.pjson']!.length, 1);
  for (let i = 0; i < 100 && (await readdir(contents.cellDir(cell.id))).length > 1; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  t.deepEqual(await readdir(contents.cellDir(cell.id)), [cell.contentId], 'the old content is removed after the swap');
  const props = await unit.as({ method: 'PROPFIND', url: '/cell1/box1/hello.txt', headers: { depth: '0' } });
  t.regex(props.payload, /zcolor[^>]*>red</);
});

test('a zip without 00_checksums.json (as Personium makes them) is imported, each entry held to its CRC-32', async (t) => {
  const unit = await unitWithCell();
  t.teardown(() => unit.stop());
  await upload(unit, 'plain', without('00_checksums.json'));
  t.is((await startImport(unit, 'plain')).statusCode, 202);
  t.deepEqual(await importStatus(unit), { status: 'ready' });
  t.is((await unit.as({ method: 'GET', url: '/cell1/box1/hello.txt' })).payload, 'hello');
  t.is((await unit.as({ method: 'GET', url: '/cell1/__/top.txt' })).payload, 'top');
});
