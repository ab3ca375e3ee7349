// A seeded, bounded fuzz of the WebDAV request headers against every method on a real socket:
// every answer is a 2xx or 4xx (502 for a foreign Destination), and the unit stays up with its
// box intact.
import test from 'ava';
import { box, isAlive, lockBody, propfind, put, rawRequest, unitWithBox } from './helpers/box.ts';

const seed = 0x5eed_b0c5;
const requests = 480;
const methods = ['OPTIONS', 'GET', 'HEAD', 'PUT', 'DELETE', 'MKCOL', 'COPY', 'MOVE', 'PROPFIND', 'PROPPATCH', 'LOCK', 'UNLOCK', 'POST'];

/** mulberry32: small, fast, and the same sequence for the same seed. */
function random(seedValue: number): () => number {
  let state = seedValue >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const next = random(seed);
const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
const junk = () => Array.from({ length: 1 + Math.floor(next() * 12) }, () => String.fromCharCode(0x20 + Math.floor(next() * 95))).join('');
const compose = (parts: readonly string[], count = 1 + Math.floor(next() * 6)) => Array.from({ length: count }, () => (next() < 0.1 ? junk() : pick(parts))).join(pick(['', ' ', '  ', '\t']));

const ifParts = ['(', ')', '<', '>', 'Not', 'not', '[', ']', '"e"', 'W/"e"', '<urn:uuid:00000000-0000-0000-0000-000000000000>', '<opaquelocktoken:x>', '<DAV:no-lock>',
  '<http:>', '<http://[::1>', `<http://127.0.0.1${box}/a.txt>`, `<${box}/>`, '<%>', '(<DAV:no-lock>)', '(Not <DAV:no-lock>)', '(["e"])'];
const generators: Record<string, () => string> = {
  If: () => compose(ifParts),
  Depth: () => pick(['0', '1', 'infinity', 'Infinity', '', '-1', '2', '01', ' 1 ', junk()]),
  Destination: () => pick([`${box}/b.txt`, `http://127.0.0.1${box}/c`, `http://elsewhere${box}/x`, `${box}//`, `${box}/.`, `${box}/%2e`, `${box}/docs/..`,
    '/cell1/__/x', `${box}/%zz`, 'http://[::1', 'relative', '', `${box}/a.txt/inside`, `${box}/.pmeta`, `http://127.0.0.1${box}`, junk()]),
  Overwrite: () => pick(['T', 'F', 't', 'f', '', 'TF', 'yes', junk()]),
  Timeout: () => pick(['Second-1', 'Second-0', 'Infinite', 'Infinite, Second-5', 'Second-99999999999999999', 'Second--1', 'second-10', '', junk()]),
  'Lock-Token': () => pick(['<urn:uuid:00000000-0000-0000-0000-000000000000>', 'urn:uuid:x', '<>', '<<x>>', '<opaquelocktoken:x>', '', junk()]),
  Range: () => pick(['bytes=0-', 'bytes=-0', 'bytes=5-2', 'bytes=0-1,2-3', 'bytes=99999999999999999999999-', 'bytes=-', 'bytes=2-5', 'items=1-2', 'bytes=0-0,-1', junk()]),
};

function bodyFor(method: string): string {
  if (method === 'PUT' || method === 'POST') return 'fuzz body';
  if (method === 'LOCK') return next() < 0.7 ? lockBody(pick(['exclusive', 'shared'])) : '';
  if (method === 'PROPPATCH') return '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop><Z:p>1</Z:p></D:prop></D:set></D:propertyupdate>';
  return '';
}

test(`${requests} requests with generated If, Depth, Destination, Overwrite, Timeout, Lock-Token and Range values (seed ${seed.toString(16)}) get 2xx or 4xx and the unit stays up`, async (t) => {
  const unit = await unitWithBox(t, { logLevel: 'silent' });
  const base = await unit.listen();
  const targets = ['a.txt', 'docs', 'docs/b.txt', 'new.txt', 'docs/', ''];
  const seedBox = async () => {
    await unit.as({ method: 'MKCOL', url: `${box}/docs` });
    await put(unit, `${box}/a.txt`, 'a');
    await put(unit, `${box}/docs/b.txt`, 'b');
  };
  await seedBox();
  const unexpected: string[] = [];
  const statuses = new Map<number, number>();
  for (let i = 0; i < requests; i++) {
    const method = pick(methods);
    const names = Object.keys(generators).filter(() => next() < 0.4);
    if (names.length === 0) names.push(pick(Object.keys(generators)));
    const lines = names.map((name) => `${name}: ${generators[name]!()}`);
    if (next() < 0.15) lines.push(`X-Override: ${lines[0]}`);
    const target = `${box}/${pick(targets)}`;
    const answer = await rawRequest(base, `${method} ${target} HTTP/1.1`, lines, bodyFor(method));
    statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
    const allowed = (answer.status >= 200 && answer.status < 300) || (answer.status >= 400 && answer.status < 500) || (answer.status === 502 && names.includes('Destination'));
    if (!allowed) unexpected.push(`${answer.status} for ${method} ${target} with ${lines.join(' | ')}`);
    if (i % 60 === 59) {
      t.true(await isAlive(unit), `alive after request ${i + 1}`);
      await seedBox();
    }
  }
  t.log(`statuses: ${[...statuses].sort(([a], [b]) => a - b).map(([status, count]) => `${status}×${count}`).join(' ')}`);
  t.deepEqual(unexpected, []);
  t.true([...statuses.keys()].some((status) => status < 300) && [...statuses.keys()].some((status) => status >= 400), 'both successes and refusals were exercised');
  t.true(await isAlive(unit));
  t.is((await propfind(unit, `${box}/`, '1')).statusCode, 207, 'the box still lists');
});
