import test from 'ava';
import { errorBody } from '../core/errors.ts';
import { buildZip, importStatus, snapshotEntries, startImport, unitWithCell, upload, type ZipEntrySpec } from './helpers/snapshot-zip.ts';
import { json } from './helpers/unit.ts';

type Expected = ReturnType<typeof errorBody>;
const change = (edit: (entries: ZipEntrySpec[]) => ZipEntrySpec[]) => snapshotEntries({ change: edit });
const withEntry = (extra: ZipEntrySpec) => change((entries) => [...entries, extra]);
const replacing = (name: string, data: string) => change((entries) => entries.map((entry) => (entry.name === name ? { ...entry, data } : entry)));

const refusedBefore202: Array<[string, () => ZipEntrySpec[], Expected]> = [
  ['more entries than the limit', () => snapshotEntries(), errorBody('PR400-SN-0002', [20])],
  ['more bytes than the limit', () => withEntry({ name: '20_webdav/__/big/content', data: Buffer.alloc(3000, 'b') }), errorBody('PR400-SN-0003', [2048])],
  ['a compression method other than stored or deflated', () => withEntry({ name: '20_webdav/__/b/content', data: 'x', method: 12 }), errorBody('PR400-SN-0001', ['20_webdav/__/b/content', 'compression method 12'])],
  ['a folder entry with content', () => withEntry({ name: '20_webdav/__/dir/', data: 'x' }), errorBody('PR400-SN-0001', ['20_webdav/__/dir/', 'folder with content'])],
  ['a NUL in a name', () => withEntry({ name: '20_webdav/__/a\0b/content', data: 'x' }), errorBody('PR400-SN-0001', ['20_webdav/__/a\0b/content', 'NUL in the name'])],
  ['a "." segment', () => withEntry({ name: '20_webdav/__/./x/content', data: 'x' }), errorBody('PR400-SN-0001', ['20_webdav/__/./x/content', 'relative path segment'])],
  ['an empty segment', () => withEntry({ name: '20_webdav/__//content', data: 'x' }), errorBody('PR400-SN-0001', ['20_webdav/__//content', 'empty path segment'])],
  ['a hidden folder', () => withEntry({ name: '20_webdav/__/.hidden/' }), errorBody('PR400-SN-0001', ['20_webdav/__/.hidden/', 'hidden folder'])],
  ['a checksum list that is not an object', () => change((entries) => [...entries, { name: '00_checksums.json', data: '[]' }]), errorBody('PR400-SN-0006', ['00_checksums.json is not an object'])],
  ['a manifest that is JSON but not an object', () => snapshotEntries({ change: (entries) => entries.map((entry) => (entry.name === '00_manifest.json' ? { ...entry, data: '[2]' } : entry)) }), errorBody('PR400-CM-0004', ['[2]'])],
  ['no 20_webdav/.pmeta', () => change((entries) => entries.filter((entry) => entry.name !== '20_webdav/.pmeta')), errorBody('PR400-MC-0001', ['20_webdav/.pmeta'])],
];

for (const [what, entries, expected] of refusedBefore202) {
  test(`a zip with ${what} is refused before the 202`, async (t) => {
    const limits = what.startsWith('more entries') ? { maxEntries: 20 } : what.startsWith('more bytes') ? { maxTotalBytes: 2048 } : {};
    const unit = await unitWithCell({ import: { maxEntries: 1000, maxTotalBytes: 50 * 1024 * 1024, maxCompressionRatio: 100, ...limits } });
    t.teardown(() => unit.stop());
    await upload(unit, 'hostile', buildZip(entries()));
    const res = await startImport(unit, 'hostile');
    t.is(res.statusCode, 400);
    t.deepEqual(json(res), expected);
    t.deepEqual(json(await unit.as({ method: 'GET', url: '/cell1/__import' })), { status: 'ready' });
  });
}

const failingAfter202: Array<[string, () => ZipEntrySpec[], Expected]> = [
  ['a box folder of no box', () => withEntry({ name: '20_webdav/nobox/.pmeta', data: '{}' }), errorBody('PR400-SN-0006', ['20_webdav/nobox/ belongs to no box of 10_odata/10_box.pjson'])],
  ['a .pjson line that is not JSON', () => replacing('10_odata/21_rule.pjson', '{"_type":'), errorBody('PR400-CM-0004', ['10_odata/21_rule.pjson: {"_type":'])],
  ['a Box line without a Name', () => replacing('10_odata/10_box.pjson', '{"_type":"Box","_id":"b","_source":{"s":{}}}'), errorBody('PR400-CM-0004', ['10_odata/10_box.pjson: {"_type":"Box","_id":"b","_source":{"s":{}}}'])],
  ['a box .pmeta that is not JSON', () => replacing('20_webdav/oldbox/.pmeta', 'nope'), errorBody('PR400-CM-0004', ['20_webdav/oldbox/.pmeta: nope'])],
  ['an entry the checksum list names but the zip lacks', () => snapshotEntries({ checksums: (sums) => { sums['20_webdav/__/gone/content'] = { size: 1, sha256: '0'.repeat(64) }; } }), errorBody('PR400-SN-0006', ['20_webdav/__/gone/content is listed in 00_checksums.json but missing'])],
];

for (const [what, entries, expected] of failingAfter202) {
  test(`a zip with ${what} is accepted, then ends as import failed`, async (t) => {
    const unit = await unitWithCell();
    t.teardown(() => unit.stop());
    await upload(unit, 'bad', buildZip(entries()));
    t.is((await startImport(unit, 'bad')).statusCode, 202);
    const status = await importStatus(unit);
    t.is(status.status, 'import failed');
    t.deepEqual(status.message, expected);
  });
}
