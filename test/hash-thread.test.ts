import { createHash, randomBytes } from 'node:crypto';
import test from 'ava';
import { HashThread, ringBytes } from '../core/hash-thread.ts';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** Copies `data` into views of the ring and hands them to be hashed. */
async function update(hasher: HashThread, data: Buffer): Promise<void> {
  for (let at = 0; at < data.length;) {
    const view = await hasher.claim(data.length - at);
    data.copy(view, 0, at, at + view.length);
    hasher.hash(view);
    at += view.length;
  }
}

test('streams handed over in pieces get the SHA-256 node computes, whatever the sizes of their pieces', async (t) => {
  const hasher = new HashThread();
  t.teardown(() => hasher.close());
  const streams = [Buffer.alloc(0), randomBytes(1), randomBytes(300_000), randomBytes(20 * 1024 * 1024 + 7), randomBytes(65_536)];
  const digests: Array<Promise<string>> = [];
  for (const data of streams) {
    for (let at = 0; at < data.length;) {
      const length = Math.min(data.length - at, 1 + Math.floor(Math.random() * 3_000_000));
      await update(hasher, data.subarray(at, at + length));
      at += length;
    }
    digests.push(hasher.digest());
  }
  t.deepEqual(await Promise.all(digests), streams.map(sha256));
});

test('more streams than the queue holds, none awaited on the way, all get their digests in order', async (t) => {
  const hasher = new HashThread();
  t.teardown(() => hasher.close());
  const streams = Array.from({ length: 40_000 }, (_, index) => (index % 3 === 0 ? Buffer.alloc(0) : randomBytes(index % 500)));
  const digests: Array<Promise<string>> = [];
  for (const data of streams) {
    await update(hasher, data);
    digests.push(hasher.digest());
  }
  t.deepEqual(await Promise.all(digests), streams.map(sha256));
});

test('a held ring gives a claim no room until the sender releases the bytes it sent', async (t) => {
  const hasher = new HashThread({ held: true });
  t.teardown(() => hasher.close());
  const views: Buffer[] = [];
  for (let claimed = 0; claimed < ringBytes;) {
    const view = await hasher.claim(1024 * 1024);
    view.fill(claimed % 251);
    hasher.hash(view);
    views.push(view);
    claimed += view.length;
  }
  let next = false;
  const waiting = hasher.claim(1024).then((view) => { next = true; return view; });
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.false(next);
  hasher.release(views[0]!.length);
  const view = await waiting;
  t.true(hasher.holds(view));
  t.is(view.byteOffset, 0);
  t.is(await hasher.digest(), sha256(Buffer.concat(views)));
});

test('a closed thread fails the claims and digests asked of it afterwards', async (t) => {
  const hasher = new HashThread();
  await hasher.close();
  await t.throwsAsync(hasher.claim(10), { message: 'the hashing thread was closed' });
  await t.throwsAsync(hasher.digest(), { message: 'the hashing thread was closed' });
});

test('a thread is fit for another job only once each stream has its digest and each held byte is given back', async (t) => {
  const hasher = new HashThread({ held: true });
  t.teardown(() => hasher.close());
  t.false(hasher.failed);
  const first = randomBytes(3000);
  const view = await hasher.claim(first.length);
  t.true(hasher.failed, 'bytes claimed and not hashed');
  first.copy(view);
  hasher.hash(view);
  t.true(hasher.failed, 'a stream without its digest');
  t.is(await hasher.digest(), sha256(first));
  t.true(hasher.failed, 'held bytes not given back');
  hasher.release(view.length);
  t.false(hasher.failed);

  // Kept for the next job: its stream is hashed on its own.
  hasher.rest();
  hasher.wake();
  const second = randomBytes(ringBytes + 5);
  for (let at = 0; at < second.length;) {
    const piece = await hasher.claim(second.length - at);
    second.copy(piece, 0, at, at + piece.length);
    hasher.hash(piece);
    hasher.release(piece.length);
    at += piece.length;
  }
  t.is(await hasher.digest(), sha256(second));
  t.false(hasher.failed);
  await hasher.close();
  t.true(hasher.failed);
});
