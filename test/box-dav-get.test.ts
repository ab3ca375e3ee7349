// Reading box files: validators on every file response, conditional requests (RFC 9110 §13),
// byte ranges (RFC 9110 §14), HEAD on a collection, PROPFIND Depth rules, no compression.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { json, masterToken } from './helpers/unit.ts';
import { box, boxDir, propfind, put, unitWithBox } from './helpers/box.ts';

const file = `${box}/digits.txt`;

async function withDigits(t: Parameters<typeof unitWithBox>[0]) {
  const unit = await unitWithBox(t);
  const created = await put(unit, file, '0123456789');
  return { unit, created };
}

test('GET, HEAD and PUT answers carry a quoted ETag and Last-Modified, and PROPFIND getetag is the same ETag', async (t) => {
  const { unit, created } = await withDigits(t);
  const etag = String(created.headers.etag);
  t.regex(etag, /^"[^"]+"$/);
  t.truthy(created.headers['last-modified']);
  const get = await unit.as({ method: 'GET', url: file });
  const head = await unit.as({ method: 'HEAD', url: file });
  for (const res of [get, head]) {
    t.is(res.headers.etag, etag);
    t.is(res.headers['last-modified'], created.headers['last-modified']);
  }
  const props = await propfind(unit, file, '0');
  t.regex(props.payload, new RegExp(`<D:getetag>${etag.replace(/"/g, '&quot;')}</D:getetag>`));
  const replaced = await put(unit, file, 'changed');
  t.not(replaced.headers.etag, etag, 'a new body has a new ETag');
});

const ranges: Array<[string, number, string, string | undefined]> = [
  ['bytes=2-5', 206, '2345', 'bytes 2-5/10'],
  ['bytes=-3', 206, '789', 'bytes 7-9/10'],
  ['bytes=7-', 206, '789', 'bytes 7-9/10'],
  ['bytes=8-100', 206, '89', 'bytes 8-9/10'],
  ['bytes=5-2', 200, '0123456789', undefined],
  ['bytes=abc', 200, '0123456789', undefined],
  ['bytes=', 200, '0123456789', undefined],
  ['items=0-3', 200, '0123456789', undefined],
  ['bytes=0-,0-', 200, '0123456789', undefined],
  ['bytes=0-1,5-6', 200, '0123456789', undefined],
];

for (const [range, status, body, contentRange] of ranges) {
  test(`Range: ${range} on a 10-byte file answers ${status}${contentRange ? ` with Content-Range ${contentRange}` : ' with the whole file once'}`, async (t) => {
    const { unit } = await withDigits(t);
    const res = await unit.as({ method: 'GET', url: file, headers: { range } });
    t.is(res.statusCode, status);
    t.is(res.payload, body);
    t.is(String(res.headers['content-length']), String(body.length));
    t.is(res.headers['content-range'], contentRange);
  });
}

test('a Range past the end of the file is 416 with Content-Range bytes */length', async (t) => {
  const { unit } = await withDigits(t);
  for (const range of ['bytes=20-30', 'bytes=10-', 'bytes=-0']) {
    const res = await unit.as({ method: 'GET', url: file, headers: { range } });
    t.is(res.statusCode, 416, range);
    t.is(res.headers['content-range'], 'bytes */10', range);
    t.is(json(res).code, 'PR416-DV-0001');
  }
});

test('If-Range with the current ETag honours the Range, with an old one sends the whole file', async (t) => {
  const { unit, created } = await withDigits(t);
  const current = await unit.as({ method: 'GET', url: file, headers: { range: 'bytes=0-1', 'if-range': String(created.headers.etag) } });
  t.is(current.statusCode, 206);
  t.is(current.payload, '01');
  const stale = await unit.as({ method: 'GET', url: file, headers: { range: 'bytes=0-1', 'if-range': '"old"' } });
  t.is(stale.statusCode, 200);
  t.is(stale.payload, '0123456789');
  t.is((await unit.as({ method: 'GET', url: file, headers: { range: 'bytes=0-1', 'if-range': 'yesterday' } })).statusCode, 400);
});

test('If-None-Match: * refuses to replace an existing file with 412 and still creates a new one', async (t) => {
  const { unit } = await withDigits(t);
  const refused = await put(unit, file, 'replaced?', { 'if-none-match': '*' });
  t.is(refused.statusCode, 412);
  t.is(json(refused).code, 'PR412-DV-0002');
  t.is((await unit.as({ method: 'GET', url: file })).payload, '0123456789');
  t.is((await put(unit, `${box}/fresh.txt`, 'new', { 'if-none-match': '*' })).statusCode, 201);
});

test('a stale If-Match stops a PUT and a DELETE with 412; the current one lets them through', async (t) => {
  const { unit, created } = await withDigits(t);
  t.is((await put(unit, file, 'replaced?', { 'if-match': '"stale"' })).statusCode, 412);
  t.is((await unit.as({ method: 'DELETE', url: file, headers: { 'if-match': '"stale"' } })).statusCode, 412);
  t.is((await unit.as({ method: 'GET', url: file })).payload, '0123456789');
  const replaced = await put(unit, file, 'replaced', { 'if-match': String(created.headers.etag) });
  t.is(replaced.statusCode, 204);
  t.is((await unit.as({ method: 'DELETE', url: file, headers: { 'if-match': String(replaced.headers.etag) } })).statusCode, 204);
  t.is((await put(unit, `${box}/none.txt`, 'x', { 'if-match': '*' })).statusCode, 412, 'If-Match: * needs an existing file');
});

test('If-None-Match with the ETag and If-Modified-Since after the change answer 304 to a GET', async (t) => {
  const { unit, created } = await withDigits(t);
  const byTag = await unit.as({ method: 'GET', url: file, headers: { 'if-none-match': String(created.headers.etag) } });
  t.is(byTag.statusCode, 304);
  t.is(byTag.headers.etag, created.headers.etag);
  const later = new Date(Date.now() + 60_000).toUTCString();
  t.is((await unit.as({ method: 'GET', url: file, headers: { 'if-modified-since': later } })).statusCode, 304);
  const earlier = new Date(Date.now() - 3600_000).toUTCString();
  t.is((await unit.as({ method: 'GET', url: file, headers: { 'if-modified-since': earlier } })).statusCode, 200);
  t.is((await put(unit, file, 'x', { 'if-unmodified-since': earlier })).statusCode, 412);
});

test('a malformed If-Match or If-None-Match is 400 and changes nothing', async (t) => {
  const { unit } = await withDigits(t);
  for (const headers of [{ 'if-match': 'no-quotes' }, { 'if-none-match': '"a", b' }, { 'if-match': '' }] as Array<Record<string, string>>) {
    const res = await put(unit, file, 'x', headers);
    t.is(res.statusCode, 400, JSON.stringify(headers));
    t.is(json(res).code, 'PR400-EV-0002');
  }
  t.is((await unit.as({ method: 'GET', url: file })).payload, '0123456789');
});

test('HEAD on a collection answers 200, and on the box root too', async (t) => {
  const unit = await unitWithBox(t);
  await unit.as({ method: 'MKCOL', url: `${box}/dir` });
  t.is((await unit.as({ method: 'HEAD', url: `${box}/dir` })).statusCode, 200);
  t.is((await unit.as({ method: 'HEAD', url: `${box}/dir/` })).statusCode, 200);
  t.is((await unit.as({ method: 'HEAD', url: `${box}/` })).statusCode, 200);
  t.is((await unit.as({ method: 'HEAD', url: `${box}/missing` })).statusCode, 404);
});

test('PROPFIND without Depth or with Depth: infinity is 403 DAV:propfind-finite-depth; another Depth is 400', async (t) => {
  const unit = await unitWithBox(t);
  for (const headers of [{}, { depth: 'infinity' }, { depth: 'Infinity' }]) {
    const res = await unit.as({ method: 'PROPFIND', url: `${box}/`, headers });
    t.is(res.statusCode, 403, JSON.stringify(headers));
    t.regex(res.payload, /<D:propfind-finite-depth\/>/);
  }
  const bad = await unit.as({ method: 'PROPFIND', url: `${box}/`, headers: { depth: '2' } });
  t.is(bad.statusCode, 400);
  t.is(json(bad).code, 'PR400-DV-0003');
});

test('box files are never compressed on the fly, whatever Accept-Encoding says', async (t) => {
  const unit = await unitWithBox(t);
  const text = 'compressible text '.repeat(10_000);
  await put(unit, `${box}/big.txt`, text);
  const res = await unit.as({ method: 'GET', url: `${box}/big.txt`, headers: { 'accept-encoding': 'gzip, deflate, br' } });
  t.is(res.statusCode, 200);
  t.is(res.headers['content-encoding'], undefined);
  t.is(res.payload, text);
  const listing = await unit.as({ method: 'PROPFIND', url: `${box}/`, headers: { depth: '1', 'accept-encoding': 'gzip' } });
  t.is(listing.headers['content-encoding'], undefined);
});

test('a file of several read chunks comes back byte-identical over a socket, whole and in a range across chunks', async (t) => {
  const unit = await unitWithBox(t);
  const base = await unit.listen();
  const content = randomBytes(3 * 1024 * 1024 + 12_345);
  t.is((await put(unit, `${box}/big.bin`, content, { 'content-type': 'application/octet-stream' })).statusCode, 201);
  const headers = { authorization: `Bearer ${masterToken}` };
  const whole = await fetch(`${base}${box}/big.bin`, { headers });
  t.is(whole.status, 200);
  t.true(Buffer.from(await whole.arrayBuffer()).equals(content));
  const start = 1024 * 1024 - 10;
  const end = 2 * 1024 * 1024 + 10;
  const part = await fetch(`${base}${box}/big.bin`, { headers: { ...headers, range: `bytes=${start}-${end}` } });
  t.is(part.status, 206);
  t.is(part.headers.get('content-range'), `bytes ${start}-${end}/${content.length}`);
  t.true(Buffer.from(await part.arrayBuffer()).equals(content.subarray(start, end + 1)));
});

test('a client that leaves in the middle of a download does not disturb the unit', async (t) => {
  const unit = await unitWithBox(t);
  const base = await unit.listen();
  await put(unit, `${box}/big.bin`, randomBytes(8 * 1024 * 1024), { 'content-type': 'application/octet-stream' });
  for (let i = 0; i < 5; i++) {
    const controller = new AbortController();
    const res = await fetch(`${base}${box}/big.bin`, { headers: { authorization: `Bearer ${masterToken}` }, signal: controller.signal });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
  }
  const after = await unit.as({ method: 'GET', url: `${box}/big.bin`, headers: { range: 'bytes=0-3' } });
  t.is(after.statusCode, 206);
  t.is(after.rawPayload.length, 4);
});

test('an If header is evaluated on reads too: a list that does not hold is 412 for GET and PROPFIND', async (t) => {
  const { unit } = await withDigits(t);
  for (const method of ['GET', 'PROPFIND']) {
    const refused = await unit.as({ method, url: file, headers: { if: '(<urn:uuid:00000000-0000-0000-0000-000000000000>)', depth: '0' } });
    t.is(refused.statusCode, 412, method);
    const passed = await unit.as({ method, url: file, headers: { if: '(Not <DAV:no-lock>)', depth: '0' } });
    t.is(passed.statusCode, method === 'GET' ? 200 : 207, method);
  }
});

test('a file whose .pmeta lacks timestamps and version (as an import may bring) is listed and served with validators', async (t) => {
  const { unit } = await withDigits(t);
  const folder = path.join(await boxDir(unit), 'digits.txt');
  await writeFile(path.join(folder, '.pmeta'), JSON.stringify({ i: 'imported', t: 'dav.file', a: null, ct: 'text/plain', cl: 10 }));
  const get = await unit.as({ method: 'GET', url: file });
  t.is(get.statusCode, 200);
  t.regex(String(get.headers.etag), /^"[^"]+"$/);
  t.truthy(get.headers['last-modified']);
  t.regex((await propfind(unit, `${box}/`, '1')).payload, /digits\.txt/);
});
