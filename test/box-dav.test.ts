// Box content over WebDAV (`{CellURL}__/...`, `{CellURL}{box}/...`): what a client sees on the
// wire and what lands on disk in the Personium layout (a folder per resource with `.pmeta` and
// `content`), plus two requests that once crashed the unit.
import { readdir, readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import test, { type ExecutionContext } from 'ava';
import { errorBody } from '../core/errors.ts';
import { json, startUnit, type TestUnit } from './helpers/unit.ts';

const box = '/cell1/box1';

async function unitWithBox(t: ExecutionContext, options: { dataDir?: string; keep?: boolean } = {}): Promise<TestUnit> {
  const unit = await startUnit({}, options.dataDir ? { dataDir: options.dataDir } : {});
  if (!options.keep) t.teardown(() => unit.stop());
  if (!options.dataDir) {
    await unit.createCell('cell1');
    await unit.createBox('cell1', 'box1');
  }
  return unit;
}

/** The folder of box1 on disk. */
async function boxDir(unit: TestUnit, name = 'box1'): Promise<string> {
  const { contents, store } = unit.server.cellar;
  const cell = store.findCell('cell1')!;
  const record = (await contents.odata(cell)).data.boxes.find((candidate) => candidate.Name === name)!;
  return contents.boxDir(cell, record._id);
}

function put(unit: TestUnit, url: string, payload: string, contentType = 'text/plain') {
  return unit.as({ method: 'PUT', url, payload, headers: { 'content-type': contentType } });
}

function propfind(unit: TestUnit, url: string, depth: '0' | '1', body = '') {
  return unit.as({ method: 'PROPFIND', url, payload: body, headers: { depth, 'content-type': 'application/xml' } });
}

function hrefsOf(multistatus: string): string[] {
  return [...multistatus.matchAll(/<D:href>([^<]*)<\/D:href>/g)].map((match) => match[1]!).sort();
}

const proppatchSet = (name: string, value: string) => `<?xml version="1.0" encoding="utf-8"?>
<D:propertyupdate xmlns:D="DAV:" xmlns:Z="http://example.com/ns/"><D:set><D:prop><Z:${name}>${value}</Z:${name}></D:prop></D:set></D:propertyupdate>`;

const proppatchRemove = (name: string) => `<?xml version="1.0" encoding="utf-8"?>
<D:propertyupdate xmlns:D="DAV:" xmlns:Z="http://example.com/ns/"><D:remove><D:prop><Z:${name}/></D:prop></D:remove></D:propertyupdate>`;

/** One request over a raw socket, so the server's real HTTP parser and error paths are exercised. */
function rawRequest(baseUrl: string, head: string, body = ''): Promise<string> {
  const { port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1');
    let answer = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => { answer += chunk; });
    socket.on('error', reject);
    socket.on('end', () => resolve(answer));
    socket.write(`${head}\r\nConnection: close\r\n\r\n${body}`);
  });
}

async function until(condition: () => Promise<boolean>, attempts = 50): Promise<boolean> {
  for (let attempt = 0; attempt < attempts; attempt += 1) {
    if (await condition()) return true;
    await sleep(20);
  }
  return false;
}

test('MKCOL makes a collection and PUT a file in it: 201 when new, 204 when replaced, both on disk', async (t) => {
  const unit = await unitWithBox(t);
  const mkcol = await unit.as({ method: 'MKCOL', url: `${box}/dir1` });
  t.is(mkcol.statusCode, 201);
  t.is((await unit.as({ method: 'MKCOL', url: `${box}/dir1` })).statusCode, 405, 'a second MKCOL on the same name is refused');
  t.is((await put(unit, `${box}/dir1/a.txt`, 'first version')).statusCode, 201);
  t.is((await put(unit, `${box}/dir1/a.txt`, 'second version', 'text/markdown')).statusCode, 204);

  const folder = path.join(await boxDir(unit), 'dir1', 'a.txt');
  t.deepEqual((await readdir(folder)).sort(), ['.pmeta', 'content']);
  t.is(await readFile(path.join(folder, 'content'), 'utf8'), 'second version');
  const pmeta = JSON.parse(await readFile(path.join(folder, '.pmeta'), 'utf8'));
  t.like(pmeta, { t: 'dav.file', cl: 'second version'.length, ct: 'text/markdown' });
  t.like(JSON.parse(await readFile(path.join(await boxDir(unit), 'dir1', '.pmeta'), 'utf8')), { t: 'col.webdav' });
});

test('GET returns the body with the Content-Type sent on PUT, HEAD the headers only, a Range 206', async (t) => {
  const unit = await unitWithBox(t);
  await put(unit, `${box}/page.html`, '0123456789abcdef', 'application/x-custom; charset=utf-8');
  const get = await unit.as({ method: 'GET', url: `${box}/page.html` });
  t.is(get.statusCode, 200);
  t.is(get.payload, '0123456789abcdef');
  t.is(get.headers['content-type'], 'application/x-custom; charset=utf-8');
  t.is(String(get.headers['content-length']), '16');

  const head = await unit.as({ method: 'HEAD', url: `${box}/page.html` });
  t.is(head.statusCode, 200);
  t.is(head.payload, '');
  t.is(head.headers['content-type'], 'application/x-custom; charset=utf-8');
  t.is(String(head.headers['content-length']), '16');

  const range = await unit.as({ method: 'GET', url: `${box}/page.html`, headers: { range: 'bytes=2-5' } });
  t.is(range.statusCode, 206);
  t.is(range.payload, '2345');
  t.is(range.headers['content-range'], 'bytes 2-5/16');

  const missing = await unit.as({ method: 'GET', url: `${box}/nothing.txt` });
  t.is(missing.statusCode, 404);
  t.is(json(missing).code, 'PR404-DV-0001');
});

test('PROPPATCH sets and removes a dead property; PROPFIND Depth 0 and 1 answer with path-only hrefs', async (t) => {
  const unit = await unitWithBox(t);
  await unit.as({ method: 'MKCOL', url: `${box}/dir1` });
  await put(unit, `${box}/dir1/a b.txt`, 'hello');

  const set = await unit.as({ method: 'PROPPATCH', url: `${box}/dir1/a%20b.txt`, payload: proppatchSet('colour', 'green') });
  t.is(set.statusCode, 207);
  t.regex(set.payload, /HTTP\/1\.1 200 OK/);

  const depth0 = await propfind(unit, `${box}/dir1/a%20b.txt`, '0');
  t.is(depth0.statusCode, 207);
  t.deepEqual(hrefsOf(depth0.payload), ['/cell1/box1/dir1/a%20b.txt']);
  t.regex(depth0.payload, /<D:getcontentlength>5<\/D:getcontentlength>/);
  t.regex(depth0.payload, /<D:getcontenttype>text\/plain<\/D:getcontenttype>/);
  t.regex(depth0.payload, /colour[^>]*>green</);
  t.notRegex(depth0.payload, /unit\.test|127\.0\.0\.1/, 'no host in hrefs');
  const onDisk = JSON.parse(await readFile(path.join(await boxDir(unit), 'dir1', 'a b.txt', '.pmeta'), 'utf8'));
  t.true(Object.keys(onDisk.d).some((name) => name.includes('colour')), 'the property is kept in .pmeta');

  const depth1 = await propfind(unit, `${box}/dir1`, '1');
  t.is(depth1.statusCode, 207);
  t.deepEqual(hrefsOf(depth1.payload), ['/cell1/box1/dir1/', '/cell1/box1/dir1/a%20b.txt']);
  t.regex(depth1.payload, /<D:collection\/>/);

  const remove = await unit.as({ method: 'PROPPATCH', url: `${box}/dir1/a%20b.txt`, payload: proppatchRemove('colour') });
  t.is(remove.statusCode, 207);
  t.notRegex((await propfind(unit, `${box}/dir1/a%20b.txt`, '0')).payload, /green/);
});

test('PROPFIND asks for named properties; a malformed body or an emptied namespace prefix is 400 PR400-DV-0001', async (t) => {
  const unit = await unitWithBox(t);
  await put(unit, `${box}/a.txt`, 'hello');
  await unit.as({ method: 'PROPPATCH', url: `${box}/a.txt`, payload: proppatchSet('colour', 'green') });
  const named = await propfind(unit, `${box}/a.txt`, '0', '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getcontentlength/></D:prop></D:propfind>');
  t.is(named.statusCode, 207);
  t.regex(named.payload, /<D:getcontentlength>5<\/D:getcontentlength>/);
  t.notRegex(named.payload, /green/, 'only the named property');

  for (const body of ['<D:propfind xmlns:D="DAV:"><D:prop>', '<D:propfind xmlns:D="DAV:"><D:prop><bar:foo xmlns:bar=""/></D:prop></D:propfind>', '<other/>']) {
    const res = await propfind(unit, `${box}/a.txt`, '0', body);
    t.is(res.statusCode, 400, body);
    t.deepEqual(json(res), errorBody('PR400-DV-0001'));
  }
});

test('DELETE removes a file and a collection with its content, from the wire and from disk', async (t) => {
  const unit = await unitWithBox(t);
  await unit.as({ method: 'MKCOL', url: `${box}/dir1` });
  await put(unit, `${box}/dir1/a.txt`, 'x');
  await put(unit, `${box}/b.txt`, 'y');
  const deleted = await unit.as({ method: 'DELETE', url: `${box}/b.txt` });
  t.is(deleted.statusCode, 204);
  t.is(deleted.payload, '');
  t.is((await unit.as({ method: 'GET', url: `${box}/b.txt` })).statusCode, 404);
  t.is((await unit.as({ method: 'DELETE', url: `${box}/dir1` })).statusCode, 204);
  t.is((await unit.as({ method: 'GET', url: `${box}/dir1/a.txt` })).statusCode, 404);
  t.deepEqual((await readdir(await boxDir(unit))).sort(), ['.pmeta']);
  const again = await unit.as({ method: 'DELETE', url: `${box}/b.txt` });
  t.is(again.statusCode, 404);
  t.is(json(again).code, 'PR404-DV-0001');
});

test('COPY and MOVE within a box carry content and dead properties; Overwrite: F onto an existing file is 412', async (t) => {
  const unit = await unitWithBox(t);
  await unit.as({ method: 'MKCOL', url: `${box}/dir1` });
  await put(unit, `${box}/dir1/a.txt`, 'original');
  await unit.as({ method: 'PROPPATCH', url: `${box}/dir1/a.txt`, payload: proppatchSet('colour', 'blue') });

  const copy = await unit.as({ method: 'COPY', url: `${box}/dir1/a.txt`, headers: { destination: `http://unit.test${box}/copy.txt` } });
  t.is(copy.statusCode, 201);
  t.is((await unit.as({ method: 'GET', url: `${box}/copy.txt` })).payload, 'original');
  t.regex((await propfind(unit, `${box}/copy.txt`, '0')).payload, /colour[^>]*>blue</);

  await put(unit, `${box}/other.txt`, 'keep me');
  const refused = await unit.as({ method: 'COPY', url: `${box}/copy.txt`, headers: { destination: `${box}/other.txt`, overwrite: 'F' } });
  t.is(refused.statusCode, 412);
  t.is((await unit.as({ method: 'GET', url: `${box}/other.txt` })).payload, 'keep me', 'the existing file is untouched');
  const overwritten = await unit.as({ method: 'COPY', url: `${box}/copy.txt`, headers: { destination: `${box}/other.txt`, overwrite: 'T' } });
  t.is(overwritten.statusCode, 204);
  t.is((await unit.as({ method: 'GET', url: `${box}/other.txt` })).payload, 'original');

  const move = await unit.as({ method: 'MOVE', url: `${box}/dir1`, headers: { destination: `${box}/moved` } });
  t.is(move.statusCode, 201);
  t.is((await unit.as({ method: 'GET', url: `${box}/dir1/a.txt` })).statusCode, 404);
  t.is((await unit.as({ method: 'GET', url: `${box}/moved/a.txt` })).payload, 'original');
  const dir = await boxDir(unit);
  t.deepEqual((await readdir(dir)).sort(), ['.pmeta', 'copy.txt', 'moved', 'other.txt']);
  t.is(await readFile(path.join(dir, 'moved', 'a.txt', 'content'), 'utf8'), 'original');

  const moveRefused = await unit.as({ method: 'MOVE', url: `${box}/copy.txt`, headers: { destination: `${box}/other.txt`, overwrite: 'F' } });
  t.is(moveRefused.statusCode, 412);
  t.is((await unit.as({ method: 'GET', url: `${box}/copy.txt` })).statusCode, 200, 'the source stays after a refused MOVE');
});

test('a Destination in another cell or another box is refused with 502 and a Personium body', async (t) => {
  const unit = await unitWithBox(t);
  await unit.createCell('cell2');
  await unit.createBox('cell2', 'box1');
  await unit.createBox('cell1', 'box2');
  await put(unit, `${box}/a.txt`, 'x');
  for (const destination of ['http://unit.test/cell2/box1/a.txt', '/cell1/box2/a.txt', '/cell1/__/a.txt', 'http://unit.test/cell1/box1', '/cell1/box1x/a.txt']) {
    for (const method of ['COPY', 'MOVE']) {
      const res = await unit.as({ method, url: `${box}/a.txt`, headers: { destination } });
      t.is(res.statusCode, 502, `${method} to ${destination}`);
      t.is(res.headers['content-type'], 'application/json; charset=utf-8');
      t.deepEqual(json(res), errorBody('PR502-DV-0001', [destination]));
    }
  }
  t.is((await unit.as({ method: 'GET', url: `${box}/a.txt` })).payload, 'x');
  t.is((await unit.as({ method: 'GET', url: '/cell1/box2/a.txt' })).statusCode, 404);
});

test('names the storage layout uses (.pmeta, .content.tmp-*) are refused with 403', async (t) => {
  const unit = await unitWithBox(t);
  await put(unit, `${box}/a.txt`, 'x');
  const refused = [
    await put(unit, `${box}/.pmeta`, '{}'),
    await unit.as({ method: 'MKCOL', url: `${box}/.pmeta` }),
    await unit.as({ method: 'GET', url: `${box}/a.txt/.pmeta` }),
    await unit.as({ method: 'GET', url: `${box}/a.txt/%2Epmeta` }),
    await put(unit, `${box}/a.txt/.content.tmp-abc`, 'x'),
    await unit.as({ method: 'COPY', url: `${box}/a.txt`, headers: { destination: `${box}/.pmeta` } }),
    await unit.as({ method: 'MOVE', url: `${box}/a.txt`, headers: { destination: `${box}/sub/.pmeta` } }),
  ];
  for (const res of refused) {
    t.is(res.statusCode, 403, `${res.raw.req.method} ${res.raw.req.url}`);
    t.is(json(res).code, 'PR403-DV-0002');
  }
  t.deepEqual((await readdir(await boxDir(unit))).sort(), ['.pmeta', 'a.txt']);
});

test('the box root cannot be deleted or moved (405); an unknown box is 404 PR404-DV-0001', async (t) => {
  const unit = await unitWithBox(t);
  for (const url of [box, `${box}/`]) {
    const deleted = await unit.as({ method: 'DELETE', url });
    t.is(deleted.statusCode, 405);
    t.deepEqual(json(deleted), errorBody('PR405-MC-0001'));
    const moved = await unit.as({ method: 'MOVE', url, headers: { destination: `${box}/x` } });
    t.is(moved.statusCode, 405);
  }
  t.is((await propfind(unit, `${box}/`, '0')).statusCode, 207, 'the box is still there');

  for (const method of ['GET', 'PROPFIND', 'PUT']) {
    const res = await unit.as({ method, url: '/cell1/nobox/a.txt', headers: { depth: '0' }, payload: method === 'PUT' ? 'x' : undefined });
    t.is(res.statusCode, 404, method);
    t.deepEqual(json(res), errorBody('PR404-DV-0001', ['http://unit.test/cell1/nobox']));
  }
});

test('the main box __ is served at {CellURL}__/ from its own folder', async (t) => {
  const unit = await unitWithBox(t);
  t.is((await put(unit, '/cell1/__/main.txt', 'in the main box')).statusCode, 201);
  t.is((await unit.as({ method: 'GET', url: '/cell1/__/main.txt' })).payload, 'in the main box');
  t.is((await unit.as({ method: 'GET', url: `${box}/main.txt` })).statusCode, 404);
  t.deepEqual(hrefsOf((await propfind(unit, '/cell1/__/', '1')).payload), ['/cell1/__/', '/cell1/__/main.txt']);
});

test('anonymous WebDAV requests get 401 with a Bearer challenge for the cell; OPTIONS needs no token', async (t) => {
  const unit = await unitWithBox(t);
  await put(unit, `${box}/a.txt`, 'secret');
  for (const method of ['GET', 'PROPFIND', 'PUT', 'DELETE']) {
    const res = await unit.inject({ method, url: `${box}/a.txt`, headers: { depth: '0' } });
    t.is(res.statusCode, 401, method);
    t.is(res.headers['www-authenticate'], 'Bearer realm="http://unit.test/cell1/"');
    t.is(json(res).code, 'PR401-AU-0001');
  }
  t.is((await unit.as({ method: 'GET', url: `${box}/a.txt` })).payload, 'secret', 'nothing changed');
  const options = await unit.inject({ method: 'OPTIONS', url: `${box}/a.txt` });
  t.is(options.statusCode, 200);
  t.regex(String(options.headers.allow), /PROPFIND/);
  t.regex(String(options.headers.dav), /1/);
});

test('WebDAV responses carry the Personium headers and none of the library\'s own', async (t) => {
  const unit = await unitWithBox(t);
  const responses: Array<[string, Awaited<ReturnType<TestUnit['as']>>]> = [
    ['MKCOL', await unit.as({ method: 'MKCOL', url: `${box}/dir1` })],
    ['PUT', await put(unit, `${box}/dir1/a.txt`, 'x')],
    ['GET', await unit.as({ method: 'GET', url: `${box}/dir1/a.txt` })],
    ['HEAD', await unit.as({ method: 'HEAD', url: `${box}/dir1/a.txt` })],
    ['PROPFIND', await propfind(unit, `${box}/dir1`, '1')],
    ['PROPPATCH', await unit.as({ method: 'PROPPATCH', url: `${box}/dir1/a.txt`, payload: proppatchSet('p', 'v') })],
    ['COPY', await unit.as({ method: 'COPY', url: `${box}/dir1/a.txt`, headers: { destination: `${box}/b.txt` } })],
    ['GET missing', await unit.as({ method: 'GET', url: `${box}/missing` })],
    ['DELETE', await unit.as({ method: 'DELETE', url: `${box}/b.txt` })],
  ];
  for (const [label, res] of responses) {
    const what = `${label} → ${res.statusCode}`;
    t.true(res.statusCode < 500, what);
    t.is(res.headers['x-personium-version'] !== undefined, true, what);
    t.is(res.headers['access-control-allow-origin'], '*', what);
    t.is(res.headers['www-authenticate'], undefined, what);
    t.is(res.headers['access-control-allow-credentials'], undefined, what);
    t.notRegex(String(res.headers.server ?? ''), /webdav-server/, what);
  }
});

test('files and dead properties survive a restart of the unit', async (t) => {
  const first = await unitWithBox(t, { keep: true });
  const { dataDir } = first;
  t.teardown(async () => { const { rm } = await import('node:fs/promises'); await rm(dataDir, { recursive: true, force: true }); });
  await first.as({ method: 'MKCOL', url: `${box}/dir1` });
  await put(first, `${box}/dir1/kept.txt`, 'still here', 'text/csv');
  await first.as({ method: 'PROPPATCH', url: `${box}/dir1/kept.txt`, payload: proppatchSet('author', 'Ada') });
  await first.server.stop();

  const second = await unitWithBox(t, { dataDir });
  const get = await second.as({ method: 'GET', url: `${box}/dir1/kept.txt` });
  t.is(get.statusCode, 200);
  t.is(get.payload, 'still here');
  t.is(get.headers['content-type'], 'text/csv');
  const props = await propfind(second, `${box}/dir1/kept.txt`, '0');
  t.regex(props.payload, /author[^>]*>Ada</);
});

test('a PROPPATCH with two set blocks and a PUT with an unknown lock token are answered over a socket and the server keeps serving', async (t) => {
  const unit = await unitWithBox(t);
  const base = await unit.listen();
  await put(unit, `${box}/a.txt`, 'alive');
  const token = `Authorization: Bearer ${unit.config.masterToken}`;

  const twoSets = '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="http://example.com/ns/">'
    + '<D:set><D:prop><Z:one>1</Z:one></D:prop></D:set><D:set><D:prop><Z:two>2</Z:two></D:prop></D:set></D:propertyupdate>';
  const proppatch = await rawRequest(base, `PROPPATCH ${box}/a.txt HTTP/1.1\r\nHost: x\r\n${token}\r\nContent-Type: application/xml\r\nContent-Length: ${Buffer.byteLength(twoSets)}`, twoSets);
  t.regex(proppatch, /^HTTP\/1\.1 207 /);

  const untaggedIf = await rawRequest(base, `PUT ${box}/a.txt HTTP/1.1\r\nHost: x\r\n${token}\r\nIf: (<opaquelocktoken:1234>)\r\nContent-Length: 3`, 'bad');
  t.regex(untaggedIf, /^HTTP\/1\.1 4\d\d /, 'a lock token nobody holds is a failed precondition, not a crash');

  const after = await fetch(`${base}${box}/a.txt`, { headers: { authorization: `Bearer ${unit.config.masterToken}` } });
  t.is(after.status, 200);
  t.is(await after.text(), 'alive');
  const props = await propfind(unit, `${box}/a.txt`, '0');
  t.regex(props.payload, /one[^>]*>1</);
  t.regex(props.payload, /two[^>]*>2</);
});

test('an aborted PUT over an existing file leaves the old content and no temporary file', async (t) => {
  const unit = await unitWithBox(t);
  const base = await unit.listen();
  await put(unit, `${box}/a.txt`, 'the old content');
  const folder = path.join(await boxDir(unit), 'a.txt');

  const { port } = new URL(base);
  const socket = net.connect(Number(port), '127.0.0.1');
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
  socket.write(`PUT ${box}/a.txt HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${unit.config.masterToken}\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n0123456789`);
  const sawTemp = await until(async () => (await readdir(folder)).some((name) => name.startsWith('.content.tmp-')), 25);
  socket.destroy();

  t.true(await until(async () => (await readdir(folder)).every((name) => !name.startsWith('.content.tmp-'))), `temporary file removed (seen during upload: ${sawTemp})`);
  t.deepEqual((await readdir(folder)).sort(), ['.pmeta', 'content']);
  t.is(await readFile(path.join(folder, 'content'), 'utf8'), 'the old content');
  const get = await unit.as({ method: 'GET', url: `${box}/a.txt` });
  t.is(get.payload, 'the old content');
  t.is(String(get.headers['content-length']), String('the old content'.length));
});

test('while the cell exports, WebDAV writes get 409 PR409-CM-0002 and reads still work', async (t) => {
  const unit = await unitWithBox(t);
  await put(unit, `${box}/a.txt`, 'before');
  const { status, store } = unit.server.cellar;
  await status.accept(store.findCell('cell1')!.id, 'export', 'x');

  const writes = [
    await put(unit, `${box}/a.txt`, 'during'),
    await put(unit, `${box}/new.txt`, 'during'),
    await unit.as({ method: 'MKCOL', url: `${box}/dir1` }),
    await unit.as({ method: 'DELETE', url: `${box}/a.txt` }),
    await unit.as({ method: 'PROPPATCH', url: `${box}/a.txt`, payload: proppatchSet('p', 'v') }),
    await unit.as({ method: 'COPY', url: `${box}/a.txt`, headers: { destination: `${box}/b.txt` } }),
    await unit.as({ method: 'MOVE', url: `${box}/a.txt`, headers: { destination: `${box}/b.txt` } }),
  ];
  for (const res of writes) {
    t.is(res.statusCode, 409, res.raw.req.method);
    t.deepEqual(json(res), errorBody('PR409-CM-0002', ['cell export']));
  }
  t.is((await unit.as({ method: 'GET', url: `${box}/a.txt` })).payload, 'before');
  t.is((await unit.as({ method: 'HEAD', url: `${box}/a.txt` })).statusCode, 200);
  t.deepEqual(hrefsOf((await propfind(unit, `${box}/`, '1')).payload), ['/cell1/box1/', '/cell1/box1/a.txt']);
});

test('while the cell is import failed, WebDAV reads get 409 PR409-CM-0001 as well as writes', async (t) => {
  const unit = await unitWithBox(t);
  await put(unit, `${box}/a.txt`, 'before');
  const { status, store } = unit.server.cellar;
  const cellId = store.findCell('cell1')!.id;
  await status.accept(cellId, 'import', 'x');
  await status.importFailed(cellId, errorBody('PR400-SN-0006', ['test']));

  for (const res of [
    await unit.as({ method: 'GET', url: `${box}/a.txt` }),
    await propfind(unit, `${box}/`, '1'),
    await put(unit, `${box}/a.txt`, 'after'),
  ]) {
    t.is(res.statusCode, 409, res.raw.req.method);
    t.deepEqual(json(res), errorBody('PR409-CM-0001'));
  }
});
