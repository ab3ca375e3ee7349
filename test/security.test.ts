// Paths that try to leave their root, after hapi's inert (test/security.js): dot-dot, NUL,
// encoded and double-encoded slashes and dots, backslashes, absolute paths and sibling-prefix
// roots, sent raw over a socket to box WebDAV, the snapshot area and __import. Canary files sit
// where each escape would land (beside the box, beside the snapshot area, in the data directory
// and above it), in the shape the server would serve, so a request that escaped would read,
// change or remove one of them.
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { newPmeta, writePmeta } from '../core/cell-content.ts';
import { auth, startUnit, type TestUnit } from './helpers/unit.ts';

const secret = 'CANARY-SECRET-7f3a';
const marker = 'ESCAPED-WRITE-91c2';

interface Sent {
  status: number;
  body: string;
}

/** One request with the path exactly as given (no client-side normalisation). */
function send(url: string, method: string, rawPath: string, headers: Record<string, string> = {}, body?: string): Promise<Sent> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const request = http.request({ hostname, port, method, path: rawPath, headers: { ...auth, ...headers, ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }) } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(body);
  });
}

/** A resource folder in the box layout (`.pmeta` + `content`) holding the secret. */
async function boxCanary(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'content'), secret);
  await writePmeta(dir, newPmeta('dav.file', { ct: 'text/plain', cl: secret.length }));
}

interface Fixture {
  unit: TestUnit;
  root: string;
  boxDir: string;
  areaDir: string;
  canaries: string[];
}

/** A unit in `{root}/data` with cell1/box1 holding `inside.txt`, and canaries all around it. */
async function fixture(t: { teardown(fn: () => Promise<void>): void }): Promise<Fixture> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'cellar-security-'));
  const unit = await startUnit({}, { dataDir: path.join(root, 'data') });
  t.teardown(async () => { await unit.stop(); await rm(root, { recursive: true, force: true }); });
  await unit.listen();
  await unit.createCell('cell1');
  await unit.createBox('cell1', 'box1');
  const put = await send(unit.url, 'PUT', '/cell1/box1/inside.txt', { 'content-type': 'text/plain' }, 'inside');
  if (put.status !== 201) throw new Error(`PUT inside.txt: ${put.status}`);
  const { store, contents, snapshots } = unit.server.cellar;
  const cell = store.findCell('cell1')!;
  const boxDir = contents.boxDir(cell, (await contents.odata(cell)).data.boxes[0]!._id);
  const areaDir = snapshots.of(cell.id).dir;
  await mkdir(areaDir, { recursive: true });
  await writeFile(path.join(areaDir, 'inside.zip'), 'inside');
  const canaries = [
    path.join(`${boxDir}x`, 'canary'), // a sibling whose name starts with the box folder's
    path.join(path.dirname(boxDir), 'canary'), // the cell's dav root, beside the boxes
    path.join(root, 'data', 'canary'),
    path.join(root, 'canary'),
  ];
  for (const dir of canaries) await boxCanary(dir);
  for (const dir of [`${areaDir}x`, path.dirname(areaDir), path.join(root, 'data'), root]) {
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'canary.zip'), secret);
    canaries.push(path.join(dir, 'canary.zip'));
  }
  return { unit, root, boxDir, areaDir, canaries };
}

/** `..` written every way a server might decode into one, with the separator between segments. */
const dotDots: Array<[string, string, string]> = [
  ['plain', '..', '/'],
  ['percent-encoded dots', '%2e%2e', '/'],
  ['encoded slash', '..', '%2f'],
  ['encoded dots and slash', '%2e%2e', '%2F'],
  ['double-encoded', '%252e%252e', '%252f'],
  ['backslash', '..', '\\'],
  ['encoded backslash', '..', '%5c'],
  ['overlong UTF-8 slash', '..', '%c0%af'],
];

/** Paths below a root that aim at a canary `up` levels above it, or at an absolute one. */
function escapes(up: number, target: string): Array<[string, string]> {
  const paths: Array<[string, string]> = dotDots.map(([name, dots, separator]) => [name, `${`${dots}${separator}`.repeat(up)}${target}`]);
  paths.push(['NUL before the name', `x%00${'/..'.repeat(up)}/${target}`]);
  paths.push(['NUL in the name', `${target}%00.txt`]);
  paths.push(['an absolute path', `/${target}`]);
  paths.push(['an encoded absolute path', `%2f${target}`]);
  return paths;
}

/** Every file's path under `dir` whose content is `text`. */
async function filesHolding(dir: string, text: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    if ((await readFile(file, 'utf8').catch(() => '')).includes(text)) found.push(file);
  }
  return found;
}

async function assertCanariesIntact(t: import('ava').ExecutionContext, canaries: string[]): Promise<void> {
  for (const canary of canaries) {
    const file = canary.endsWith('.zip') ? canary : path.join(canary, 'content');
    t.is(await readFile(file, 'utf8'), secret, `${file} is untouched`);
  }
}

test('box WebDAV: no traversal path reads, writes or removes anything outside the box', async (t) => {
  const { unit, root, boxDir, canaries } = await fixture(t);
  const targets = [`../${path.basename(boxDir)}x/canary`, 'canary', '../../../../../canary', '../../../../../../canary'];
  let tried = 0;
  for (const target of targets) {
    const up = target.split('/').filter((segment) => segment === '..').length;
    for (const [way, below] of escapes(Math.max(up, 1), target.split('/').filter((segment) => segment !== '..').join('/'))) {
      const url = `/cell1/box1/${below}`;
      for (const method of ['GET', 'HEAD', 'PROPFIND', 'PROPPATCH', 'DELETE', 'MKCOL', 'LOCK']) {
        const headers: Record<string, string> = method === 'PROPFIND' ? { depth: '1' } : {};
        const answer = await send(unit.url, method, url, headers);
        tried += 1;
        t.false(answer.body.includes(secret), `${method} ${url} (${way}) never serves a canary`);
        t.true(answer.status < 500, `${method} ${url} (${way}): ${answer.status}`);
      }
      await send(unit.url, 'PUT', url, { 'content-type': 'text/plain' }, marker);
      for (const method of ['COPY', 'MOVE']) {
        await send(unit.url, method, '/cell1/box1/inside.txt', { destination: `${unit.url}${url}`, overwrite: 'T' });
        await send(unit.url, 'PUT', '/cell1/box1/inside.txt', { 'content-type': 'text/plain' }, 'inside');
      }
      tried += 3;
    }
  }
  t.log(`${tried} requests`);
  await assertCanariesIntact(t, canaries);
  for (const file of await filesHolding(root, marker)) {
    t.true(file.startsWith(boxDir + path.sep), `a write landed inside the box only: ${path.relative(root, file)}`);
  }
  t.is((await send(unit.url, 'GET', '/__health', {})).status, 200, 'the unit is still up');
});

test('snapshot area: no traversal path reads, writes or removes anything outside the area', async (t) => {
  const { unit, root, areaDir, canaries } = await fixture(t);
  const targets = [`../${path.basename(areaDir)}x/canary.zip`, '../canary.zip', '../../canary.zip', '../../../canary.zip'];
  for (const target of targets) {
    const up = target.split('/').filter((segment) => segment === '..').length;
    for (const [way, below] of escapes(up, target.split('/').filter((segment) => segment !== '..').join('/'))) {
      const url = `/cell1/__snapshot/${below}`;
      for (const method of ['GET', 'HEAD', 'PROPFIND', 'DELETE', 'OPTIONS']) {
        const answer = await send(unit.url, method, url, method === 'PROPFIND' ? { depth: '0' } : {});
        t.false(answer.body.includes(secret), `${method} ${url} (${way}) never serves a canary`);
        // OPTIONS may answer for whatever URL the path turns out to be (a `..` is removed before
        // routing, RFC 3986 §5.2.4): it says which methods exist and shows nothing.
        if (method !== 'OPTIONS') t.true(answer.status >= 400 && answer.status < 500, `${method} ${url} (${way}): ${answer.status}`);
      }
      // A path that is a plain name once decoded (`%252e` is `%2e` as text, `x%00/..` is no
      // segment at all) may be stored, in the area: the check below says where everything went.
      const put = await send(unit.url, 'PUT', url, {}, marker);
      t.true(put.status < 500, `PUT ${url} (${way}): ${put.status}`);
    }
  }
  await assertCanariesIntact(t, canaries);
  for (const file of await filesHolding(root, marker)) {
    t.is(path.dirname(file), areaDir, `an upload landed in the area only: ${path.relative(root, file)}`);
  }
  t.is((await stat(path.join(areaDir, 'inside.zip'))).size, 'inside'.length);
});

test('__import: a Name that tries to leave the snapshot area is refused with 400 and nothing is read', async (t) => {
  const { unit, canaries } = await fixture(t);
  const names = ['../canary', '..%2fcanary', '%2e%2e/canary', '..\\canary', '/etc/passwd', 'canary\u0000', '../../../canary', 'inside.zip/../../canary'];
  for (const name of names) {
    const answer = await send(unit.url, 'POST', '/cell1/__import', { 'content-type': 'application/json' }, JSON.stringify({ Name: name }));
    t.is(answer.status, 400, `Name ${JSON.stringify(name)}`);
    t.is(JSON.parse(answer.body).code, 'PR400-CM-0002', `Name ${JSON.stringify(name)}`);
  }
  await assertCanariesIntact(t, canaries);
  t.is(JSON.parse((await send(unit.url, 'GET', '/cell1/__import')).body).status, 'ready', 'no import was started');
});
