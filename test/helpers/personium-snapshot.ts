// A snapshot zip as Personium writes one (export_version 2, read from its source): no
// 00_checksums.json, directory entries for every folder, deflated entries, the manifest's three
// keys, Elasticsearch hits on every .pjson line (`_index`, `_type`, `_id`, `_source` with `c`,
// `b`, `s`, `h`, `l`, `p`, `u`), the main box under `20_webdav/__/`, boxes under their `_id`,
// `.pmeta` files with `et: "NONE"`, dead properties as Personium keeps them (`name@namespace` →
// the element as XML) and ACLs with role ids. It holds an account with an scrypt hash made here
// in Personium's format, roles (one bound to a box), an account-role link, boxes, nested
// collections, files and an empty collection.
import { randomBytes, randomUUID, scryptSync } from 'node:crypto';
import { buildZip, type ZipEntrySpec } from './snapshot-zip.ts';

const id = () => randomUUID().replace(/-/g, '');
const index = 'u0_anon';

/** Personium's scrypt credential: `$e0801$<salt>$<key>` (N=16384, r=8, p=1; 64-byte salt, 32-byte key). */
export function personiumScryptHash(password: string): string {
  const salt = randomBytes(64);
  const key = scryptSync(Buffer.from(password, 'utf8'), salt, 32, { N: 16384, r: 8, p: 1 });
  return `$e0801$${salt.toString('base64')}$${key.toString('base64')}`;
}

export interface PersoniumFixture {
  zip: Buffer;
  cellId: string;
  boxIds: { box1: string; box2: string };
  roleIds: { owner: string; reader: string };
  accountId: string;
  password: string;
  /** The account's `HashedCredential`, in Personium's scrypt format. */
  accountHash: string;
  /** Files by their WebDAV path below the cell (`box1/docs/2026/note.txt`), with their bytes and type. */
  files: Record<string, { content: Buffer; contentType: string }>;
  /** Dead properties by resource path: namespace, name and text value. */
  properties: Record<string, { namespace: string; name: string; value: string }>;
}

export function personiumSnapshot(): PersoniumFixture {
  const now = 1_764_000_000_000;
  const cellId = id();
  const boxIds = { box1: id(), box2: id() };
  const roleIds = { owner: id(), reader: id() };
  const accountId = id();
  const password = 'personium-pass-1';
  const accountHash = personiumScryptHash(password);
  const hit = (type: string, docId: string, source: Record<string, unknown>) =>
    JSON.stringify({ _index: index, _type: type, _id: docId, _source: { c: cellId, p: now, u: now, ...source } });
  const pmeta = (t: string, extra: Record<string, unknown> = {}) => JSON.stringify({ i: id(), t, a: {}, d: {}, p: now, u: now, v: 1, et: 'NONE', ...extra });
  const rootAcl = { '@p.requireSchemaAuthz': 'none', 'D.ace': [{ 'D.principal': { 'D.href': roleIds.owner }, 'D.grant': { 'D.privilege': [{ 'p.root': null }] } }] };
  const readerAcl = { 'D.ace': [{ 'D.principal': { 'D.href': roleIds.reader }, 'D.grant': { 'D.privilege': { 'D.read': null } } }] };
  const files: PersoniumFixture['files'] = {
    '__/readme.txt': { content: Buffer.from('read me first\n'), contentType: 'text/plain' },
    'box1/docs/2026/note.txt': { content: Buffer.from('a note from Personium, ünïcode included\n'), contentType: 'text/plain; charset=utf-8' },
    'box1/photo.bin': { content: randomBytes(70_000), contentType: 'image/jpeg' },
  };
  const properties: PersoniumFixture['properties'] = {
    'box1/docs/2026/note.txt': { namespace: 'urn:example:meta', name: 'color', value: 'blue' },
    'box1/docs': { namespace: 'http://example.com/ns/', name: 'owner', value: 'me' },
  };
  const dead = (path: string) => {
    const property = properties[path];
    if (!property) return {};
    return { [`${property.name}@${property.namespace}`]: `<z:${property.name} xmlns:z="${property.namespace}">${property.value}</z:${property.name}>` };
  };
  const folder = (below: string): ZipEntrySpec => ({ name: `20_webdav/${below}/` });
  const webdavFile = (below: string, path: string): ZipEntrySpec[] => {
    const file = files[path]!;
    return [
      folder(below),
      { name: `20_webdav/${below}/.pmeta`, data: pmeta('dav.file', { ct: file.contentType, cl: file.content.length, d: dead(path) }), deflate: true },
      // Small files stored, larger ones deflated, as a zip writer that deflates only what shrinks does.
      { name: `20_webdav/${below}/content`, data: file.content, deflate: file.content.length > 1000 },
    ];
  };
  const pjson: Record<string, string[]> = {
    '10_box.pjson': [
      hit('Box', boxIds.box1, { b: null, n: null, t: null, l: {}, s: { Name: 'box1', Schema: null }, h: {} }),
      hit('Box', boxIds.box2, { b: null, n: null, t: null, l: {}, s: { Name: 'box2', Schema: 'https://app.example/' }, h: {} }),
    ],
    '11_account.pjson': [
      hit('Account', accountId, {
        b: null, n: null, t: null, l: {},
        s: { Name: 'me', Type: 'basic', Cell: null, IPAddressRange: null, Status: 'active' },
        h: { HashedCredential: accountHash, HashAlgorithm: 'scrypt', HashAttributes: '{"keyLength":32}' },
      }),
    ],
    '20_role.pjson': [
      hit('Role', roleIds.owner, { b: null, n: null, t: null, l: {}, s: { Name: 'owner' }, h: {} }),
      hit('Role', roleIds.reader, { b: boxIds.box1, n: null, t: null, l: { Box: boxIds.box1 }, s: { Name: 'reader' }, h: {} }),
    ],
    '80_link.pjson': [
      JSON.stringify({ _index: index, _type: 'link', _id: id(), _source: { c: cellId, b: null, n: null, t1: 'Account', k1: accountId, t2: 'Role', k2: roleIds.owner, p: now, u: now } }),
    ],
  };
  const pjsonNames = ['10_box.pjson', '11_account.pjson', '12_extcell.pjson', '20_role.pjson', '21_rule.pjson', '22_relation.pjson',
    '23_sentmessage.pjson', '24_receivedmessage.pjson', '30_extrole.pjson', '40_entitytype.pjson', '41_complextype.pjson',
    '50_property.pjson', '51_complextypeproperty.pjson', '60_associationend.pjson', '70_userdata.pjson', '80_link.pjson'];
  const entries: ZipEntrySpec[] = [
    { name: '00_manifest.json', data: JSON.stringify({ export_version: 2, unit_url: 'https://unit1.example/', create_date: now }) },
    { name: '10_odata/' },
    { name: '10_odata/00_cell.json', data: JSON.stringify({ _index: index, _type: 'Cell', _id: cellId, _source: { s: { Name: 'pcell' }, h: { Owner: null }, p: now, u: now } }), deflate: true },
    ...pjsonNames.map((file) => ({ name: `10_odata/${file}`, data: (pjson[file] ?? []).map((line) => `${line}\n`).join(''), deflate: true })),
    { name: '20_webdav/' },
    { name: '20_webdav/.pmeta', data: pmeta('Cell', { i: cellId, a: rootAcl }), deflate: true },
    folder('__'),
    { name: '20_webdav/__/.pmeta', data: pmeta('col.box', { i: cellId }) },
    ...webdavFile('__/readme.txt', '__/readme.txt'),
    folder(boxIds.box1),
    { name: `20_webdav/${boxIds.box1}/.pmeta`, data: pmeta('col.box', { i: boxIds.box1, a: readerAcl }) },
    folder(`${boxIds.box1}/docs`),
    { name: `20_webdav/${boxIds.box1}/docs/.pmeta`, data: pmeta('col.webdav', { d: dead('box1/docs') }) },
    folder(`${boxIds.box1}/docs/2026`),
    { name: `20_webdav/${boxIds.box1}/docs/2026/.pmeta`, data: pmeta('col.webdav', { a: readerAcl }) },
    ...webdavFile(`${boxIds.box1}/docs/2026/note.txt`, 'box1/docs/2026/note.txt'),
    ...webdavFile(`${boxIds.box1}/photo.bin`, 'box1/photo.bin'),
    folder(`${boxIds.box1}/empty`),
    { name: `20_webdav/${boxIds.box1}/empty/.pmeta`, data: pmeta('col.webdav') },
    folder(boxIds.box2),
    { name: `20_webdav/${boxIds.box2}/.pmeta`, data: pmeta('col.box', { i: boxIds.box2 }) },
  ];
  return { zip: buildZip(entries), cellId, boxIds, roleIds, accountId, password, accountHash, files, properties };
}
