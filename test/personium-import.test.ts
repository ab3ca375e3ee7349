// A snapshot Personium exported (no 00_checksums.json, its own line and .pmeta shapes; made by
// test/helpers/personium-snapshot.ts from what Personium's source writes) imports into a fresh
// cell: boxes, nested collections, files, dead properties, accounts, roles, links and ACLs are
// all there, and a re-export of that cell imports back into a third cell the same.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { errorBody } from '../core/errors.ts';
import { personiumSnapshot, type PersoniumFixture } from './helpers/personium-snapshot.ts';
import { json, startUnit, type TestUnit } from './helpers/unit.ts';
import { readZip } from './helpers/zip.ts';

async function untilDone(unit: TestUnit, cell: string, job: '__export' | '__import'): Promise<Record<string, any>> {
  for (let i = 0; i < 800; i++) {
    const status = json(await unit.as({ method: 'GET', url: `/${cell}/${job}` }));
    if (!String(status.status).includes('in progress')) return status;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`${job} of ${cell} did not end`);
}

async function importInto(unit: TestUnit, cell: string, zip: Buffer, name: string): Promise<Record<string, any>> {
  await unit.createCell(cell);
  const put = await unit.as({ method: 'PUT', url: `/${cell}/__snapshot/${name}.zip`, payload: zip, headers: { 'content-type': 'application/zip' } });
  if (put.statusCode !== 201) throw new Error(`PUT ${put.statusCode}`);
  const started = await unit.as({ method: 'POST', url: `/${cell}/__import`, payload: { Name: name } });
  if (started.statusCode !== 202) throw new Error(`import ${started.statusCode} ${started.payload}`);
  return untilDone(unit, cell, '__import');
}

async function exportOf(unit: TestUnit, cell: string, name: string): Promise<Map<string, Buffer>> {
  const res = await unit.as({ method: 'POST', url: `/${cell}/__export`, payload: { Name: name } });
  if (res.statusCode !== 202) throw new Error(`export ${res.statusCode}`);
  await untilDone(unit, cell, '__export');
  const { store, snapshots } = unit.server.cellar;
  const zip = await readZip(path.join(snapshots.of(store.findCell(cell)!.id).dir, `${name}.zip`));
  return new Map([...zip].map(([entry, read]) => [entry, read.data]));
}

const lines = (zip: Map<string, Buffer>, file: string) => zip.get(`10_odata/${file}`)!.toString('utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line));

/** What a cell holds, ids and times aside: boxes, files with their bytes and types, properties, the kept lines and the ACLs. */
async function contentsOf(unit: TestUnit, cell: string, fixture: PersoniumFixture) {
  const boxes = json(await unit.as({ method: 'GET', url: `/${cell}/__ctl/Box` })).d.results.map((box: { Name: string; Schema: string | null }) => [box.Name, box.Schema]).sort();
  const files: Record<string, string> = {};
  for (const [file, { contentType }] of Object.entries(fixture.files)) {
    const res = await unit.as({ method: 'GET', url: `/${cell}/${file}` });
    files[file] = `${res.statusCode} ${res.headers['content-type']} ${res.rawPayload.equals(fixture.files[file]!.content)} ${contentType}`;
  }
  const properties: Record<string, boolean> = {};
  for (const [resource, { namespace, name, value }] of Object.entries(fixture.properties)) {
    const res = await unit.as({ method: 'PROPFIND', url: `/${cell}/${resource}`, headers: { depth: '0', 'content-type': 'application/xml' }, payload: `<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:q="${namespace}"><D:prop><q:${name}/></D:prop></D:propfind>` });
    properties[resource] = res.statusCode === 207 && new RegExp(`<([\\w-]+:)?${name}[^>]*xmlns(:[\\w-]+)?="${namespace.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}"[^>]*>${value}</`).test(res.payload);
  }
  const empty = (await unit.as({ method: 'PROPFIND', url: `/${cell}/box1/empty`, headers: { depth: '1' } })).statusCode;
  return { boxes, files, properties, empty };
}

test('a snapshot Personium made imports into a fresh cell: boxes, nested collections, files, properties', async (t) => {
  const unit = await startUnit();
  t.teardown(() => unit.stop());
  const fixture = personiumSnapshot();
  t.deepEqual(await importInto(unit, 'fresh', fixture.zip, 'from-personium'), { status: 'ready' });
  t.true(unit.logs.some((line) => line.includes('has no 00_checksums.json')), 'the log says the snapshot had no SHA-256 list');
  const seen = await contentsOf(unit, 'fresh', fixture);
  t.deepEqual(seen.boxes, [['box1', null], ['box2', 'https://app.example/']]);
  for (const [file, { contentType }] of Object.entries(fixture.files)) t.is(seen.files[file], `200 ${contentType} true ${contentType}`, file);
  for (const resource of Object.keys(fixture.properties)) t.true(seen.properties[resource], `the dead property of ${resource}`);
  t.is(seen.empty, 207, 'an empty collection came along');
});

test('the accounts, roles, links and ACLs of a Personium snapshot are kept, their ids made the new cell\'s, and exported again', async (t) => {
  const unit = await startUnit();
  t.teardown(() => unit.stop());
  const fixture = personiumSnapshot();
  await importInto(unit, 'fresh', fixture.zip, 'p');
  const cellId = unit.server.cellar.store.findCell('fresh')!.id;
  const zip = await exportOf(unit, 'fresh', 'again');
  const [box1] = lines(zip, '10_box.pjson').filter((line) => line._source.s.Name === 'box1');
  t.not(box1._id, fixture.boxIds.box1, 'boxes get new ids');
  const [account] = lines(zip, '11_account.pjson');
  t.is(account._source.s.Name, 'me');
  t.is(account._source.c, cellId, 'the account belongs to the new cell');
  t.is(account._source.h.HashedCredential, fixture.accountHash, 'the password hash travels as it was');
  const roles = lines(zip, '20_role.pjson');
  t.deepEqual(roles.map((role) => role._source.s.Name).sort(), ['owner', 'reader']);
  const reader = roles.find((role) => role._source.s.Name === 'reader')!;
  const owner = roles.find((role) => role._source.s.Name === 'owner')!;
  t.not(owner._id, fixture.roleIds.owner, 'roles get new ids');
  t.not(reader._id, fixture.roleIds.reader);
  t.not(account._id, fixture.accountId, 'accounts get new ids');
  t.is(reader._source.b, box1._id, 'the role bound to box1 is bound to its new id');
  t.deepEqual(reader._source.l, { Box: box1._id });
  const [link] = lines(zip, '80_link.pjson');
  t.like(link._source, { c: cellId, t1: 'Account', k1: account._id, t2: 'Role', k2: owner._id });
  const cellPmeta = JSON.parse(zip.get('20_webdav/.pmeta')!.toString('utf8'));
  t.deepEqual(cellPmeta.a['D.ace'][0]['D.principal'], { 'D.href': owner._id }, 'the cell ACL grants root to the owner role still, by its new id');
  const boxPmeta = JSON.parse(zip.get(`20_webdav/${box1._id}/.pmeta`)!.toString('utf8'));
  t.deepEqual(boxPmeta.a['D.ace'][0]['D.principal'], { 'D.href': reader._id });
  const deepPmeta = JSON.parse(zip.get(`20_webdav/${box1._id}/docs/2026/.pmeta`)!.toString('utf8'));
  t.deepEqual(deepPmeta.a['D.ace'][0]['D.principal'], { 'D.href': reader._id }, 'the ACL of a folder deep in the box names the new id too');
  t.false([...zip.values()].some((bytes) => bytes.includes(fixture.roleIds.owner) || bytes.includes(fixture.roleIds.reader)), 'no entry names a role by its old id');
  t.false([...zip.values()].some((bytes) => bytes.includes(fixture.cellId)), 'no entry names the source cell any more');
});

test('a re-export of the imported cell imports into a third cell with the same content', async (t) => {
  const unit = await startUnit();
  t.teardown(() => unit.stop());
  const fixture = personiumSnapshot();
  await importInto(unit, 'second', fixture.zip, 'p');
  const again = await exportOf(unit, 'second', 'again');
  const { store, snapshots } = unit.server.cellar;
  const zip = await readFile(path.join(snapshots.of(store.findCell('second')!.id).dir, 'again.zip'));
  t.true(again.has('00_checksums.json'), 'a Cellar export carries its SHA-256 list');
  t.deepEqual(await importInto(unit, 'third', zip, 'again'), { status: 'ready' });
  t.deepEqual(await contentsOf(unit, 'third', fixture), await contentsOf(unit, 'second', fixture));
  const third = await exportOf(unit, 'third', 'third');
  for (const file of ['11_account.pjson', '20_role.pjson', '80_link.pjson']) {
    const strip = (zipFile: Map<string, Buffer>) => lines(zipFile, file).map((line) => ({ ...line._source, c: undefined, b: undefined, l: undefined, k1: undefined, k2: undefined }));
    t.deepEqual(strip(third), strip(again), file);
  }
});

test('a checksum-less snapshot whose entry does not match its CRC-32 fails the import, naming the entry, and changes nothing', async (t) => {
  const unit = await startUnit();
  t.teardown(() => unit.stop());
  const fixture = personiumSnapshot();
  const marker = Buffer.from('read me first');
  const at = fixture.zip.indexOf(marker);
  t.true(at > 0, 'the file is stored, so its bytes are in the zip as they are');
  const damaged = Buffer.from(fixture.zip);
  damaged[at] = damaged[at]! ^ 0x20;
  const status = await importInto(unit, 'fresh', damaged, 'damaged');
  t.is(status.status, 'import failed');
  t.deepEqual(status.message, errorBody('PR400-SN-0006', ['20_webdav/__/readme.txt/content: its CRC-32 does not match its data']));
  t.is((await unit.as({ method: 'GET', url: '/fresh/__ctl/Box' })).statusCode, 409);
});
