import { randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { errorBody } from '../core/errors.ts';
import { json, startUnit, type TestUnit } from './helpers/unit.ts';

async function cellWithArea(overrides = {}): Promise<{ unit: TestUnit; dir: string }> {
  const unit = await startUnit(overrides);
  await unit.createCell('cell1');
  const { store, contents } = unit.server.cellar;
  return { unit, dir: contents.snapshotDir(store.findCell('cell1')!.id) };
}

const put = (unit: TestUnit, name: string, payload: string | Buffer, headers: Record<string, string> = {}) =>
  unit.as({ method: 'PUT', url: `/cell1/__snapshot/${name}`, payload, headers });

test('a file is put (201), replaced (204), read back and listed with its properties', async (t) => {
  const { unit } = await cellWithArea();
  t.teardown(() => unit.stop());
  const first = await put(unit, 'backup.zip', 'one', { 'content-type': 'application/zip' });
  t.is(first.statusCode, 201);
  const etag = first.headers.etag as string;
  t.regex(etag, /^"[0-9a-f-]+"$/);
  const second = await put(unit, 'backup.zip', 'second', { 'content-type': 'application/zip' });
  t.is(second.statusCode, 204);
  t.not(second.headers.etag, etag, 'the ETag changes with the content');
  const get = await unit.as({ method: 'GET', url: '/cell1/__snapshot/backup.zip' });
  t.is(get.statusCode, 200);
  t.is(get.payload, 'second');
  t.is(get.headers['content-type'], 'application/zip');
  t.is(String(get.headers['content-length']), '6');
  t.is(get.headers['accept-ranges'], 'bytes');
  t.is(get.headers.etag, second.headers.etag);
  const head = await unit.as({ method: 'HEAD', url: '/cell1/__snapshot/backup.zip' });
  t.is(head.statusCode, 200);
  t.is(String(head.headers['content-length']), '6');
  t.is(head.payload, '');

  const list = await unit.as({ method: 'PROPFIND', url: '/cell1/__snapshot', headers: { depth: '1' } });
  t.is(list.statusCode, 207);
  t.is(list.headers['content-type'], 'application/xml; charset=utf-8');
  t.true(list.payload.includes('xmlns:p="urn:x-personium:xmlns"'));
  t.regex(list.payload, /<D:href>http:\/\/unit\.test\/cell1\/__snapshot\/<\/D:href><D:propstat><D:prop><D:resourcetype><D:collection\/><\/D:resourcetype><D:creationdate>[^<]+Z<\/D:creationdate><D:getlastmodified>[^<]+ GMT<\/D:getlastmodified><p:cellstatus>normal<\/p:cellstatus>/);
  t.is(list.payload.match(/<D:response>/g)?.length, 2, 'the root and the one file');
  t.regex(list.payload, /<D:href>http:\/\/unit\.test\/cell1\/__snapshot\/backup\.zip<\/D:href><D:propstat><D:prop><D:resourcetype\/><D:getcontentlength>6<\/D:getcontentlength><D:getcontenttype>application\/zip<\/D:getcontenttype><D:getlastmodified>[^<]+ GMT<\/D:getlastmodified><D:creationdate>[^<]+Z<\/D:creationdate><D:getetag>&quot;[0-9a-f-]+&quot;<\/D:getetag>/);
});

test('names are percent-encoded in hrefs and round-trip', async (t) => {
  const { unit } = await cellWithArea();
  t.teardown(() => unit.stop());
  const name = 'snap shot#1&ü.zip';
  t.is((await put(unit, encodeURIComponent(name), 'x')).statusCode, 201);
  const list = await unit.as({ method: 'PROPFIND', url: '/cell1/__snapshot/', headers: { depth: '1' } });
  t.true(list.payload.includes(`/cell1/__snapshot/${encodeURIComponent(name).replace(/&/g, '&amp;')}</D:href>`));
  t.is((await unit.as({ method: 'GET', url: `/cell1/__snapshot/${encodeURIComponent(name)}` })).payload, 'x');
});

test('If-None-Match answers 304, Range 206, and an unsatisfiable range 416 PR416-DV-0001', async (t) => {
  const { unit } = await cellWithArea();
  t.teardown(() => unit.stop());
  const content = randomBytes(1000);
  const { headers } = await put(unit, 'data.bin', content);
  const notModified = await unit.as({ method: 'GET', url: '/cell1/__snapshot/data.bin', headers: { 'if-none-match': headers.etag as string } });
  t.is(notModified.statusCode, 304);
  t.is(notModified.headers.etag, headers.etag);
  const part = await unit.as({ method: 'GET', url: '/cell1/__snapshot/data.bin', headers: { range: 'bytes=100-199' } });
  t.is(part.statusCode, 206);
  t.is(part.headers['content-range'], 'bytes 100-199/1000');
  t.deepEqual(part.rawPayload, content.subarray(100, 200));
  const tail = await unit.as({ method: 'GET', url: '/cell1/__snapshot/data.bin', headers: { range: 'bytes=-10' } });
  t.deepEqual(tail.rawPayload, content.subarray(990));
  const open = await unit.as({ method: 'GET', url: '/cell1/__snapshot/data.bin', headers: { range: 'bytes=990-' } });
  t.deepEqual(open.rawPayload, content.subarray(990));
  const stale = await unit.as({ method: 'GET', url: '/cell1/__snapshot/data.bin', headers: { range: 'bytes=0-9', 'if-range': '"old"' } });
  t.is(stale.statusCode, 200, 'If-Range with another ETag gets the whole file');
  const beyond = await unit.as({ method: 'GET', url: '/cell1/__snapshot/data.bin', headers: { range: 'bytes=5000-' } });
  t.is(beyond.statusCode, 416);
  t.is(beyond.headers['content-range'], 'bytes */1000');
  t.deepEqual(json(beyond), errorBody('PR416-DV-0001'));
});

test('If-Match guards PUT and DELETE with 412 PR412-DV-0001', async (t) => {
  const { unit } = await cellWithArea();
  t.teardown(() => unit.stop());
  const { headers } = await put(unit, 'a.zip', 'one');
  const wrongPut = await put(unit, 'a.zip', 'two', { 'if-match': '"other"' });
  t.is(wrongPut.statusCode, 412);
  t.deepEqual(json(wrongPut), errorBody('PR412-DV-0001'));
  t.is((await unit.as({ method: 'GET', url: '/cell1/__snapshot/a.zip' })).payload, 'one');
  t.is((await put(unit, 'a.zip', 'two', { 'if-match': headers.etag as string })).statusCode, 204);
  t.is((await put(unit, 'new.zip', 'x', { 'if-match': '*' })).statusCode, 412, 'If-Match: * needs an existing file');
  const wrongDelete = await unit.as({ method: 'DELETE', url: '/cell1/__snapshot/a.zip', headers: { 'if-match': '"other"' } });
  t.deepEqual(json(wrongDelete), errorBody('PR412-DV-0001'));
  t.is((await unit.as({ method: 'DELETE', url: '/cell1/__snapshot/a.zip', headers: { 'if-match': '*' } })).statusCode, 204);
});

test('DELETE answers 204, then 404 PR404-DV-0001', async (t) => {
  const { unit, dir } = await cellWithArea();
  t.teardown(() => unit.stop());
  await put(unit, 'gone.zip', 'x');
  t.is((await unit.as({ method: 'DELETE', url: '/cell1/__snapshot/gone.zip' })).statusCode, 204);
  t.false((await readdir(dir)).includes('gone.zip'));
  const again = await unit.as({ method: 'DELETE', url: '/cell1/__snapshot/gone.zip' });
  t.is(again.statusCode, 404);
  t.deepEqual(json(again), errorBody('PR404-DV-0001', ['http://unit.test/cell1/__snapshot/gone.zip']));
  t.deepEqual(json(await unit.as({ method: 'GET', url: '/cell1/__snapshot/gone.zip' })), errorBody('PR404-DV-0001', ['http://unit.test/cell1/__snapshot/gone.zip']));
  t.is((await unit.as({ method: 'PROPFIND', url: '/cell1/__snapshot/gone.zip', headers: { depth: '0' } })).statusCode, 404);
});

test('the area is flat: MKCOL 403 (405 on what exists), deeper paths 404 PR404-MC-0001, other methods 405 with Allow', async (t) => {
  const { unit, dir } = await cellWithArea();
  t.teardown(() => unit.stop());
  await put(unit, 'a.zip', 'x');
  // RFC 4918 §9.3.1: 405 where something is mapped, 403 where the server allows no collection.
  for (const url of ['/cell1/__snapshot/dir', '/cell1/__snapshot/dir/', '/cell1/__snapshot/a.zip/b']) {
    const mkcol = await unit.as({ method: 'MKCOL', url });
    t.is(mkcol.statusCode, 403, url);
    t.is(json(mkcol).code, 'PR403-DV-0002', url);
  }
  const onFile = await unit.as({ method: 'MKCOL', url: '/cell1/__snapshot/a.zip' });
  t.is(onFile.statusCode, 405);
  t.deepEqual(json(onFile), errorBody('PR405-MC-0001'));
  t.is(onFile.headers.allow, 'OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, MOVE');
  t.deepEqual((await readdir(dir)).filter((name) => !name.startsWith('.')), ['a.zip'], 'no folder was made');
  for (const method of ['GET', 'PUT', 'PROPFIND', 'DELETE']) {
    const deep = await unit.as({ method, url: '/cell1/__snapshot/a.zip/b', payload: method === 'PUT' ? 'x' : undefined, headers: { depth: '0' } });
    t.is(deep.statusCode, 404, method);
    t.deepEqual(json(deep), errorBody('PR404-MC-0001'));
  }
  for (const url of ['/cell1/__snapshot', '/cell1/__snapshot/']) {
    for (const method of ['GET', 'PUT', 'DELETE', 'POST', 'MKCOL', 'PROPPATCH']) {
      const onArea = await unit.as({ method, url, payload: method === 'PUT' || method === 'POST' ? 'x' : undefined });
      t.is(onArea.statusCode, 405, `${method} ${url}`);
      t.deepEqual(json(onArea), errorBody('PR405-MC-0001'));
      t.is(onArea.headers.allow, 'OPTIONS, PROPFIND');
    }
  }
  const areaOptions = await unit.as({ method: 'OPTIONS', url: '/cell1/__snapshot' });
  t.is(areaOptions.statusCode, 200);
  t.is(areaOptions.headers.allow, 'OPTIONS, PROPFIND');
  t.is(areaOptions.headers.dav, '1', 'davfs2 mounts only a server that says DAV');
  const fileOptions = await unit.as({ method: 'OPTIONS', url: '/cell1/__snapshot/a.zip' });
  t.is(fileOptions.headers.allow, 'OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, MOVE');
  t.is(fileOptions.headers.dav, '1');
  const post = await unit.as({ method: 'POST', url: '/cell1/__snapshot/a.zip', payload: 'not json' });
  t.deepEqual(json(post), errorBody('PR405-MC-0001'));
  const proppatch = await unit.as({ method: 'PROPPATCH', url: '/cell1/__snapshot/a.zip', payload: '<D:propertyupdate xmlns:D="DAV:"/>' });
  t.is(proppatch.statusCode, 405);
  t.deepEqual(json(proppatch), errorBody('PR405-MC-0001'));
  const missingOptions = await unit.as({ method: 'OPTIONS', url: '/cell1/__snapshot/none.zip' });
  t.is(missingOptions.statusCode, 200, 'OPTIONS says what a file URL answers, whether or not the file exists');
});

test('names that are not one plain segment are refused and nothing is written outside the area', async (t) => {
  const { unit, dir } = await cellWithArea();
  t.teardown(() => unit.stop());
  for (const name of ['a%2Fb', '..%5Cevil', '%00nul', '.hidden', '.meta.json', '..%2F..%2Funit.json']) {
    const res = await put(unit, name, 'evil');
    t.is(res.statusCode, 400, name);
    t.is(json(res).code, 'PR400-DV-0008');
  }
  // Dot segments are resolved before routing: they never reach the area.
  for (const name of ['..', '%2e%2e', '.%2E']) t.not((await put(unit, `${name}/unit.json`, 'evil')).statusCode, 201);
  const sibling = await unit.as({ method: 'PUT', url: '/cell1/__snapshot-evil/x', payload: 'evil' });
  t.is(sibling.statusCode, 404);
  // Double encoding is a plain (odd) name inside the area, not a way out of it.
  t.is((await put(unit, '%252e%252e%252funit.json', 'odd')).statusCode, 201);
  t.deepEqual((await readdir(dir)).filter((name) => !name.startsWith('.')), ['%2e%2e%2funit.json']);
  t.is(JSON.parse(await readFile(path.join(unit.dataDir, 'unit.json'), 'utf8')).cells.length, 1);
});

test('an upload shorter than its Content-Length gets 400 PR400-DV-0009 and replaces nothing', async (t) => {
  const { unit, dir } = await cellWithArea();
  t.teardown(() => unit.stop());
  await put(unit, 'keep.zip', 'original');
  const short = await put(unit, 'keep.zip', 'abc', { 'content-length': '10' });
  t.is(short.statusCode, 400);
  t.deepEqual(json(short), errorBody('PR400-DV-0009'));
  t.is((await unit.as({ method: 'GET', url: '/cell1/__snapshot/keep.zip' })).payload, 'original');
  t.deepEqual((await readdir(dir)).filter((name) => name.startsWith('.tmp-')), []);
});

test('more files than the configured maximum get 400 PR400-DV-0007; replacing one still works', async (t) => {
  const { unit } = await cellWithArea({ snapshot: { maxFiles: 2, maxFileBytes: 1024 } });
  t.teardown(() => unit.stop());
  t.is((await put(unit, 'a', '1')).statusCode, 201);
  t.is((await put(unit, 'b', '2')).statusCode, 201);
  const third = await put(unit, 'c', '3');
  t.is(third.statusCode, 400);
  t.deepEqual(json(third), errorBody('PR400-DV-0007'));
  t.is((await put(unit, 'a', 'again')).statusCode, 204);
  const tooBig = await put(unit, 'a', 'x'.repeat(2000));
  t.is(tooBig.statusCode, 413);
  t.is(json(tooBig).code, 'PR413-DV-0001');
  t.is((await unit.as({ method: 'GET', url: '/cell1/__snapshot/a' })).payload, 'again');
});

test('PROPFIND checks Depth and the body', async (t) => {
  const { unit } = await cellWithArea();
  t.teardown(() => unit.stop());
  await put(unit, 'a.zip', 'x');
  t.deepEqual(json(await unit.as({ method: 'PROPFIND', url: '/cell1/__snapshot' })), errorBody('PR400-DV-0003', ['null']));
  t.deepEqual(json(await unit.as({ method: 'PROPFIND', url: '/cell1/__snapshot', headers: { depth: '2' } })), errorBody('PR400-DV-0003', ['2']));
  t.deepEqual(json(await unit.as({ method: 'PROPFIND', url: '/cell1/__snapshot', headers: { depth: 'infinity' } })), errorBody('PR403-DV-0001'));
  t.deepEqual(json(await unit.as({ method: 'PROPFIND', url: '/cell1/__snapshot', headers: { depth: '1' }, payload: '<propfind' })), errorBody('PR400-DV-0001'));
  t.deepEqual(json(await unit.as({ method: 'PROPFIND', url: '/cell1/__snapshot', headers: { depth: '1' }, payload: '<x:other xmlns:x="urn:x"/>' })), errorBody('PR400-DV-0001'));
  const depth0 = await unit.as({ method: 'PROPFIND', url: '/cell1/__snapshot', headers: { depth: '0' } });
  t.false(depth0.payload.includes('a.zip'));
  const names = await unit.as({ method: 'PROPFIND', url: '/cell1/__snapshot/a.zip', headers: { depth: '0' }, payload: '<D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>' });
  t.regex(names.payload, /<D:getcontentlength\/>/);
  t.false(names.payload.includes('<D:getcontentlength>1'));
  const some = await unit.as({ method: 'PROPFIND', url: '/cell1/__snapshot/a.zip', headers: { depth: '0' }, payload: '<?xml version="1.0"?><propfind xmlns="DAV:"><prop><getcontentlength/><nothing/></prop></propfind>' });
  t.regex(some.payload, /<D:getcontentlength>1<\/D:getcontentlength><\/D:prop><D:status>HTTP\/1.1 200 OK/);
  t.regex(some.payload, /<D:nothing\/><\/D:prop><D:status>HTTP\/1.1 404 Not Found/);
});

test('files being written are never listed', async (t) => {
  const { unit, dir } = await cellWithArea();
  t.teardown(() => unit.stop());
  await writeFile(path.join(dir, '.tmp-export-x-123'), 'partial');
  await put(unit, 'done.zip', 'x');
  const list = await unit.as({ method: 'PROPFIND', url: '/cell1/__snapshot', headers: { depth: '1' } });
  t.false(list.payload.includes('.tmp-'));
  t.true(list.payload.includes('done.zip'));
});

test('concurrent uploads to one name never interleave: the file is one of them whole', async (t) => {
  const { unit, dir } = await cellWithArea();
  t.teardown(() => unit.stop());
  const bodies = [Buffer.alloc(300_000, 'a'), Buffer.alloc(200_000, 'b'), Buffer.alloc(100_000, 'c')];
  const results = await Promise.all(bodies.map((body) => put(unit, 'race.zip', body)));
  t.true(results.every((res) => [201, 204].includes(res.statusCode)));
  const stored = await readFile(path.join(dir, 'race.zip'));
  t.true(bodies.some((body) => body.equals(stored)));
});
