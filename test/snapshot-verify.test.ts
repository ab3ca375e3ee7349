// `cellar snapshot verify FILE.zip` judges a snapshot file without a unit, with the import's own
// checks: every hostile zip is refused with the code and message the import itself gives it (the
// same zip is imported into a real unit to compare), and a snapshot a real export made passes.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { errorBody, type PersoniumErrorBody } from '../core/errors.ts';
import type { ImportLimits } from '../plugins/import/inspect.ts';
import { verifySnapshot } from '../plugins/import/verify.ts';
import { cellar, workspace } from './helpers/cli.ts';
import { areaDirOf, postExport, untilReady } from './helpers/export.ts';
import { personiumSnapshot } from './helpers/personium-snapshot.ts';
import { buildZip, importStatus, snapshotEntries, startImport, unitWithCell, upload, type ZipEntrySpec } from './helpers/snapshot-zip.ts';
import { json, masterToken } from './helpers/unit.ts';

const limits: ImportLimits = { maxEntries: 1000, maxTotalBytes: 50 * 1024 * 1024, maxCompressionRatio: 100 };

const change = (edit: (entries: ZipEntrySpec[]) => ZipEntrySpec[]) => buildZip(snapshotEntries({ change: edit }));
const withEntry = (extra: ZipEntrySpec) => change((entries) => [...entries, extra]);
const without = (name: string) => buildZip(snapshotEntries().filter((entry) => entry.name !== name));
const replaced = (name: string, data: string) => change((entries) => entries.map((entry) => entry.name === name ? { ...entry, data } : entry));

/** A Personium-style zip (no checksum list) whose stored `hello` bytes were changed after the CRC-32 was written. */
function crcMismatch(): Buffer {
  const zip = without('00_checksums.json');
  const name = '20_webdav/oldbox/hello.txt/content';
  const at = zip.indexOf('hello', zip.indexOf(name) + name.length);
  zip.write('jello', at);
  return zip;
}

async function tempFile(t: import('ava').ExecutionContext, bytes: Buffer): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cellar-verify-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'snapshot.zip');
  await writeFile(file, bytes);
  return file;
}

/** What a real import of `zip` says: the 400 before the 202, or the failure of the job. */
async function importVerdict(zip: Buffer, importLimits: ImportLimits): Promise<PersoniumErrorBody | 'ready'> {
  const unit = await unitWithCell({ import: importLimits });
  try {
    await upload(unit, 'judged', zip);
    const started = await startImport(unit, 'judged');
    if (started.statusCode !== 202) return json(started);
    const status = await importStatus(unit);
    return status.status === 'ready' ? 'ready' : status.message;
  } finally {
    await unit.stop();
  }
}

const refusals: Array<[string, () => Buffer, PersoniumErrorBody, ImportLimits?]> = [
  ['a file that is not a zip', () => Buffer.from('this is not a zip file at all'), errorBody('PR400-MC-0004')],
  ['a truncated zip', () => { const zip = buildZip(snapshotEntries()); return zip.subarray(0, zip.length - 30); }, errorBody('PR400-MC-0004')],
  ['a ../ entry', () => withEntry({ name: '20_webdav/__/../../evil/content', data: 'x' }), errorBody('PR400-SN-0001', ['20_webdav/__/../../evil/content', 'relative path segment'])],
  ['an absolute path', () => withEntry({ name: '/etc/evil', data: 'x' }), errorBody('PR400-SN-0001', ['/etc/evil', 'absolute path'])],
  ['a backslash path', () => withEntry({ name: '20_webdav\\..\\evil', data: 'x' }), errorBody('PR400-SN-0001', ['20_webdav\\..\\evil', 'backslash in the path'])],
  ['a symlink entry', () => withEntry({ name: '20_webdav/__/link/content', data: '/etc/passwd', mode: 0o120777 }), errorBody('PR400-SN-0001', ['20_webdav/__/link/content', 'symbolic link'])],
  ['an encrypted entry', () => withEntry({ name: '20_webdav/__/secret/content', data: 'x', encrypted: true }), errorBody('PR400-SN-0001', ['20_webdav/__/secret/content', 'encrypted entry'])],
  ['a bzip2 entry', () => withEntry({ name: '20_webdav/__/packed/content', data: 'x', method: 12 }), errorBody('PR400-SN-0001', ['20_webdav/__/packed/content', 'compression method 12'])],
  ['duplicate entry names', () => withEntry({ name: '20_webdav/__/top.txt/content', data: 'again' }), errorBody('PR400-SN-0001', ['20_webdav/__/top.txt/content', 'duplicate entry name'])],
  ['an entry outside the layout', () => withEntry({ name: 'README.txt', data: 'x' }), errorBody('PR400-SN-0001', ['README.txt', 'not part of the snapshot layout'])],
  ['a file and a folder of one name', () => withEntry({ name: '20_webdav/__/top.txt/content/' }), errorBody('PR400-SN-0001', ['20_webdav/__/top.txt/content', 'a file and a folder of the same name'])],
  ['a folder below a file, the file last', () => change((entries) => [{ name: '20_webdav/__/top.txt/content/inner/.pmeta', data: '{}' }, ...entries]), errorBody('PR400-SN-0001', ['20_webdav/__/top.txt/content', 'a file and a folder of the same name'])],
  ['a path through a hidden folder', () => withEntry({ name: '20_webdav/__/top.txt/.pmeta/content', data: 'x' }), errorBody('PR400-SN-0001', ['20_webdav/__/top.txt/.pmeta/content', 'hidden folder'])],
  ['more entries than the limit', () => buildZip(snapshotEntries()), errorBody('PR400-SN-0002', [10]), { ...limits, maxEntries: 10 }],
  ['more bytes than the limit', () => withEntry({ name: '20_webdav/__/big/content', data: Buffer.alloc(4096, 'b') }), errorBody('PR400-SN-0003', [2048]), { ...limits, maxTotalBytes: 2048 }],
  ['a ratio bomb', () => withEntry({ name: '20_webdav/__/bomb/content', data: Buffer.alloc(8 * 1024 * 1024), deflate: true }), errorBody('PR400-SN-0004', ['20_webdav/__/bomb/content', 100])],
  ['a missing manifest', () => without('00_manifest.json'), errorBody('PR400-MC-0001', ['00_manifest.json'])],
  ['export_version 3', () => buildZip(snapshotEntries({ manifest: { export_version: 3 } })), errorBody('PR400-MC-0003', [2, 3])],
  ['a missing .pjson', () => without('10_odata/21_rule.pjson'), errorBody('PR400-MC-0001', ['10_odata/21_rule.pjson'])],
  ['content not matching its SHA-256', () => buildZip(snapshotEntries({ checksums: (sums) => { sums['20_webdav/oldbox/hello.txt/content']!.sha256 = '0'.repeat(64); } })), errorBody('PR400-SN-0005', ['20_webdav/oldbox/hello.txt/content'])],
  ['a size not matching 00_checksums.json', () => buildZip(snapshotEntries({ checksums: (sums) => { sums['20_webdav/__/top.txt/content']!.size = 4; } })), errorBody('PR400-SN-0005', ['20_webdav/__/top.txt/content'])],
  ['a file missing from the checksum list', () => buildZip(snapshotEntries({ checksums: (sums) => { delete sums['20_webdav/__/top.txt/content']; } })), errorBody('PR400-SN-0005', ['20_webdav/__/top.txt/content'])],
  ['a listed entry that is not in the zip', () => buildZip(snapshotEntries({ checksums: (sums) => { sums['20_webdav/__/gone/content'] = { size: 1, sha256: '0'.repeat(64) }; } })), errorBody('PR400-SN-0006', ['20_webdav/__/gone/content is listed in 00_checksums.json but missing'])],
  ['a CRC-32 that does not match (no checksum list)', crcMismatch, errorBody('PR400-SN-0006', ['20_webdav/oldbox/hello.txt/content: its CRC-32 does not match its data'])],
  ['an entry that lies about its size', () => change((entries) => entries.map((entry) => entry.name === '20_webdav/__/top.txt/content' ? { ...entry, declaredSize: 2 } : entry)), errorBody('PR400-SN-0006', ['compressed/uncompressed size mismatch for stored file: 3 != 2'])],
  ['a box folder no box line names', () => withEntry({ name: '20_webdav/stranger/.pmeta', data: '{}' }), errorBody('PR400-SN-0006', ['20_webdav/stranger/ belongs to no box of 10_odata/10_box.pjson'])],
  ['an empty folder of a box no box line names', () => withEntry({ name: '20_webdav/stranger/' }), errorBody('PR400-SN-0006', ['20_webdav/stranger/ belongs to no box of 10_odata/10_box.pjson'])],
  ['a .pjson line that is not a hit', () => replaced('10_odata/20_role.pjson', 'not json\n'), errorBody('PR400-CM-0004', ['10_odata/20_role.pjson: not json'])],
  ["a box's .pmeta that is not JSON", () => replaced('20_webdav/oldbox/.pmeta', '{oops'), errorBody('PR400-CM-0004', ['20_webdav/oldbox/.pmeta: {oops'])],
];

for (const [what, zip, expected, caseLimits] of refusals) {
  test(`verify refuses a snapshot with ${what}, as the import does`, async (t) => {
    const bytes = zip();
    const verdict = await verifySnapshot(await tempFile(t, bytes), caseLimits ?? limits);
    t.false(verdict.importable);
    t.deepEqual(verdict.importable ? undefined : verdict.error, expected);
    t.deepEqual(await importVerdict(bytes, caseLimits ?? limits), expected, 'a real import gives the same refusal');
  });
}

test('a collection named content holding a file named content passes verify and imports', async (t) => {
  const pmeta = (type: string) => JSON.stringify({ i: `id-${type}`, t: type, a: null, d: {}, p: 1, u: 1, v: 1 });
  const zip = change((entries) => [
    ...entries,
    { name: '20_webdav/__/content/' },
    { name: '20_webdav/__/content/.pmeta', data: pmeta('col.webdav') },
    { name: '20_webdav/__/content/content/' },
    { name: '20_webdav/__/content/content/.pmeta', data: JSON.stringify({ i: 'f1', t: 'dav.file', a: null, d: {}, p: 1, u: 1, v: 1, ct: 'text/plain', cl: 6 }) },
    { name: '20_webdav/__/content/content/content', data: 'nested' },
  ]);
  const verdict = await verifySnapshot(await tempFile(t, zip), limits);
  t.true(verdict.importable, verdict.importable ? '' : verdict.error.message.value);
  const unit = await unitWithCell({ import: limits });
  t.teardown(() => unit.stop());
  await upload(unit, 'nested', zip);
  t.is((await startImport(unit, 'nested')).statusCode, 202);
  t.deepEqual(await importStatus(unit), { status: 'ready' });
  t.is((await unit.as({ method: 'GET', url: '/cell1/__/content/content' })).payload, 'nested');
});

test('verify passes a snapshot without 00_checksums.json, as Personium makes them, holding each file to its CRC-32', async (t) => {
  const fixture = personiumSnapshot();
  const verdict = await verifySnapshot(await tempFile(t, fixture.zip), limits);
  t.true(verdict.importable);
  t.is(verdict.findings.checksums, 'crc32');
  t.true(verdict.findings.filesChecked >= Object.keys(fixture.files).length);
  t.is(await importVerdict(fixture.zip, limits), 'ready');
});

test('cellar snapshot verify passes a snapshot a real export made and exits 0; the unit imports it', async (t) => {
  const { unit, dir, run } = await workspace(t);
  await unit.createBox('cell1', 'box1');
  for (const [file, body] of [['box1/notes.txt', 'some notes'], ['box1/empty.txt', ''], ['__/top.bin', 'x'.repeat(3 * 1024 * 1024)]] as const) {
    const put = await fetch(`${unit.url}/cell1/${file}`, { method: 'PUT', body, headers: { authorization: `Bearer ${masterToken}` } });
    t.is(put.status, 201);
  }
  t.is((await postExport(unit, 'cell1', { Name: 'real' })).statusCode, 202);
  await untilReady(unit, 'cell1');
  const zip = path.join(areaDirOf(unit, 'cell1'), 'real.zip');

  const result = await run(['snapshot', 'verify', zip]);
  t.is(result.code, 0, result.stderr);
  t.regex(result.stdout, /manifest: export_version 2, cell cell1/);
  t.regex(result.stdout, /checksums: every file held to its size and SHA-256 in 00_checksums\.json/);
  t.regex(result.stdout, /boxes: box1/);
  t.regex(result.stdout, /9 WebDAV files read and checked/);
  t.regex(result.stdout, /the snapshot would import$/m);

  const asJson = await run(['--json', 'snapshot', 'verify', zip]);
  t.is(asJson.code, 0);
  const report = JSON.parse(asJson.stdout);
  t.true(report.importable);
  t.is(report.findings.checksums, 'sha256');
  t.deepEqual(report.limits, { maxEntries: 1_000_000, maxTotalBytes: 64 * 1024 ** 3, maxCompressionRatio: 1000 });

  await unit.createCell('cell2');
  t.is((await unit.as({ method: 'PUT', url: '/cell2/__snapshot/real.zip', payload: await readFile(zip) })).statusCode, 201);
  t.is((await unit.as({ method: 'POST', url: '/cell2/__import', payload: { Name: 'real' } })).statusCode, 202);
  for (let i = 0; i < 400 && json(await unit.as({ method: 'GET', url: '/cell2/__import' })).status !== 'ready'; i++) await new Promise((resolve) => setTimeout(resolve, 25));
  t.is((await unit.as({ method: 'GET', url: '/cell2/box1/notes.txt' })).payload, 'some notes');
});

test('cellar snapshot verify exits 1 naming the refusal, and reads the import limits of its environment', async (t) => {
  const file = await tempFile(t, withEntry({ name: '20_webdav/__/link/content', data: '/etc/passwd', mode: 0o120777 }));
  const refused = await cellar({ url: '' }, ['snapshot', 'verify', file]);
  t.is(refused.code, 1);
  t.regex(refused.stdout, /refused: PR400-SN-0001 Unsafe entry \[20_webdav\/__\/link\/content\] in the snapshot file: symbolic link\./);
  t.regex(refused.stderr, /^cellar: PR400-SN-0001 .*would not import/m);

  const good = await tempFile(t, buildZip(snapshotEntries()));
  t.is((await cellar({ url: '' }, ['snapshot', 'verify', good])).code, 0);
  const limited = await cellar({ url: '' }, ['--json', 'snapshot', 'verify', good], { env: { CELLAR_IMPORT_MAX_ENTRIES: '5' } });
  t.is(limited.code, 1);
  t.deepEqual(JSON.parse(limited.stdout).error, errorBody('PR400-SN-0002', [5]));
  t.is(JSON.parse(limited.stderr).error.code, 'PR400-SN-0002');
});

test('cellar snapshot verify of a file that does not exist, or with a bad limit in its environment, is a usage error (exit 2)', async (t) => {
  const result = await cellar({ url: '' }, ['snapshot', 'verify', path.join(os.tmpdir(), 'no-such-snapshot.zip')]);
  t.is(result.code, 2);
  t.regex(result.stderr, /no-such-snapshot\.zip is not a file that can be read/);
  const good = await tempFile(t, buildZip(snapshotEntries()));
  const badLimit = await cellar({ url: '' }, ['snapshot', 'verify', good], { env: { CELLAR_IMPORT_MAX_ENTRIES: 'many' } });
  t.is(badLimit.code, 2);
  t.regex(badLimit.stderr, /CELLAR_IMPORT_MAX_ENTRIES/);
});
