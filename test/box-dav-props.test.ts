// Dead properties: exact names with their namespaces, values kept as XML, PROPPATCH applying
// every instruction in order, all or nothing, with one `.pmeta` write before it answers.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { pmetaWrites } from '../plugins/box-dav/box-store.ts';
import { box, boxDir, propfind, proppatchBody, put, unitWithBox } from './helpers/box.ts';

const askFor = (props: string) => `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>${props}</D:prop></D:propfind>`;

test('property names keep their namespace exactly: {http://example.com/neon/litmus/}prop0 and {urn:x}size round-trip', async (t) => {
  const unit = await unitWithBox(t);
  await put(unit, `${box}/a.txt`, 'x');
  const body = '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>'
    + '<L:prop0 xmlns:L="http://example.com/neon/litmus/">value0</L:prop0><S:size xmlns:S="urn:x">42</S:size>'
    + '</D:prop></D:set></D:propertyupdate>';
  t.is((await unit.as({ method: 'PROPPATCH', url: `${box}/a.txt`, payload: body })).statusCode, 207);
  const pmeta = JSON.parse(await readFile(path.join(await boxDir(unit), 'a.txt', '.pmeta'), 'utf8'));
  t.deepEqual(Object.keys(pmeta.d).sort(), ['{http://example.com/neon/litmus/}prop0', '{urn:x}size']);

  const res = await propfind(unit, `${box}/a.txt`, '0', askFor('<L:prop0 xmlns:L="http://example.com/neon/litmus/"/><Q:size xmlns:Q="urn:x"/><Q:xsize xmlns:Q="urn:"/>'));
  t.is(res.statusCode, 207);
  t.regex(res.payload, /<z:prop0 xmlns:z="http:\/\/example\.com\/neon\/litmus\/">value0<\/z:prop0>/);
  t.regex(res.payload, /<z:size xmlns:z="urn:x">42<\/z:size>/);
  t.regex(res.payload, /<D:propstat><D:prop><z:xsize xmlns:z="urn:"\/><\/D:prop><D:status>HTTP\/1\.1 404 Not Found/, 'a different name is not found');
});

test('a property value with elements and entities comes back meaning the same', async (t) => {
  const unit = await unitWithBox(t);
  await put(unit, `${box}/a.txt`, 'x');
  const value = '<Z:name xmlns:Z="http://example.com/ns/" lang="en">a &amp; b <Z:inner>&lt;deep&gt;</Z:inner></Z:name>';
  const set = await unit.as({ method: 'PROPPATCH', url: `${box}/a.txt`, payload: proppatchBody(`<Z:rich>${value}</Z:rich>`) });
  t.is(set.statusCode, 207);
  const res = await propfind(unit, `${box}/a.txt`, '0', askFor('<Z:rich xmlns:Z="http://example.com/ns/"/>'));
  t.regex(res.payload, /<z:rich xmlns:z="http:\/\/example\.com\/ns\/"><Z:name xmlns:D="DAV:" xmlns:Z="http:\/\/example\.com\/ns\/" lang="en">a &amp; b <Z:inner>&lt;deep&gt;<\/Z:inner><\/Z:name><\/z:rich>/);
});

test('PROPPATCH applies set and remove in document order: a later remove wins over an earlier set', async (t) => {
  const unit = await unitWithBox(t);
  await put(unit, `${box}/a.txt`, 'x');
  const body = '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z">'
    + '<D:set><D:prop><Z:a>1</Z:a><Z:b>1</Z:b></D:prop></D:set><D:remove><D:prop><Z:a/></D:prop></D:remove>'
    + '<D:set><D:prop><Z:b>2</Z:b></D:prop></D:set></D:propertyupdate>';
  t.is((await unit.as({ method: 'PROPPATCH', url: `${box}/a.txt`, payload: body })).statusCode, 207);
  const pmeta = JSON.parse(await readFile(path.join(await boxDir(unit), 'a.txt', '.pmeta'), 'utf8'));
  t.deepEqual(pmeta.d, { '{urn:z}b': '2' });
});

test('PROPPATCH that touches a live property changes nothing: 403 for it, 424 for the others', async (t) => {
  const unit = await unitWithBox(t);
  await put(unit, `${box}/a.txt`, 'x');
  const body = '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z">'
    + '<D:set><D:prop><Z:a>1</Z:a><D:getetag>"forged"</D:getetag></D:prop></D:set></D:propertyupdate>';
  const res = await unit.as({ method: 'PROPPATCH', url: `${box}/a.txt`, payload: body });
  t.is(res.statusCode, 207);
  t.regex(res.payload, /<D:getetag\/><\/D:prop><D:status>HTTP\/1\.1 403 Forbidden/);
  t.regex(res.payload, /<z:a xmlns:z="urn:z"\/><\/D:prop><D:status>HTTP\/1\.1 424 Failed Dependency/);
  const pmeta = JSON.parse(await readFile(path.join(await boxDir(unit), 'a.txt', '.pmeta'), 'utf8'));
  t.deepEqual(pmeta.d, {});
});

test.serial('a PROPPATCH of 8,000 properties writes .pmeta once and answers with every property 200', async (t) => {
  const unit = await unitWithBox(t);
  await put(unit, `${box}/a.txt`, 'x');
  const props = Array.from({ length: 8000 }, (_, i) => `<Z:p${i}>value number ${i} with some padding to make it longer</Z:p${i}>`).join('');
  const writesBefore = pmetaWrites.count;
  const res = await unit.as({ method: 'PROPPATCH', url: `${box}/a.txt`, payload: proppatchBody(props) });
  t.is(pmetaWrites.count - writesBefore, 1, 'one .pmeta write for the whole request');
  t.is(res.statusCode, 207);
  t.is([...res.payload.matchAll(/HTTP\/1\.1 200 OK/g)].length, 8000);
  const pmeta = JSON.parse(await readFile(path.join(await boxDir(unit), 'a.txt', '.pmeta'), 'utf8'));
  t.is(Object.keys(pmeta.d).length, 8000);
  t.is(pmeta.d['{http://example.com/ns/}p7999'], 'value number 7999 with some padding to make it longer');
});

test('a malformed PROPPATCH body is 400 PR400-DV-0001 and changes nothing', async (t) => {
  const unit = await unitWithBox(t);
  await put(unit, `${box}/a.txt`, 'x');
  for (const body of ['', '<D:propertyupdate xmlns:D="DAV:"><D:set>', '<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><U:x>1</U:x></D:prop></D:set></D:propertyupdate>', '<other/>']) {
    const res = await unit.as({ method: 'PROPPATCH', url: `${box}/a.txt`, payload: body });
    t.is(res.statusCode, 400, body);
  }
  const pmeta = JSON.parse(await readFile(path.join(await boxDir(unit), 'a.txt', '.pmeta'), 'utf8'));
  t.deepEqual(pmeta.d, {});
});

test('PROPFIND propname lists live and dead property names without values', async (t) => {
  const unit = await unitWithBox(t);
  await put(unit, `${box}/a.txt`, 'x');
  await unit.as({ method: 'PROPPATCH', url: `${box}/a.txt`, payload: proppatchBody('<Z:colour>red</Z:colour>') });
  const res = await propfind(unit, `${box}/a.txt`, '0', '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>');
  t.regex(res.payload, /<D:getetag\/>/);
  t.regex(res.payload, /<z:colour xmlns:z="http:\/\/example\.com\/ns\/"\/>/);
  t.notRegex(res.payload, /red/);
});

test('dead properties stored by the earlier WebDAV library are listed, and a PROPPATCH rewrites them under Clark names', async (t) => {
  const unit = await unitWithBox(t);
  await put(unit, `${box}/a.txt`, 'x');
  const file = path.join(await boxDir(unit), 'a.txt', '.pmeta');
  const pmeta = JSON.parse(await readFile(file, 'utf8'));
  pmeta.d = { 'urn:zcolor': { value: [{ type: 'text', text: 'red & blue' }], attributes: {} } };
  await writeFile(file, JSON.stringify(pmeta));
  const listed = await propfind(unit, `${box}/a.txt`, '0');
  t.regex(listed.payload, /<z:zcolor xmlns:z="urn:">red &amp; blue<\/z:zcolor>/);
  t.is((await unit.as({ method: 'PROPPATCH', url: `${box}/a.txt`, payload: proppatchBody('<Z:size>1</Z:size>', 'urn:x') })).statusCode, 207);
  t.deepEqual(JSON.parse(await readFile(file, 'utf8')).d, { '{urn:}zcolor': 'red &amp; blue', '{urn:x}size': '1' });
});

test('a DAV: property that is not a live one (displayname) is kept as a dead property', async (t) => {
  const unit = await unitWithBox(t);
  await put(unit, `${box}/a.txt`, 'x');
  const body = '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>Notes</D:displayname></D:prop></D:set></D:propertyupdate>';
  const res = await unit.as({ method: 'PROPPATCH', url: `${box}/a.txt`, payload: body });
  t.regex(res.payload, /HTTP\/1\.1 200 OK/);
  t.regex((await propfind(unit, `${box}/a.txt`, '0', askFor('<D:displayname/>'))).payload, /<D:displayname>Notes<\/D:displayname>/);
});
