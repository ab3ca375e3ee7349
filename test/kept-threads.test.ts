import test from 'ava';
import { KeptThreads, type Restable } from '../core/kept-threads.ts';

/** A set of threads as KeptThreads sees one: its state, and what was done to it. */
class FakeSet implements Restable {
  failed = false;
  readonly calls: string[] = [];
  constructor(readonly id: number) {}
  rest(): void { this.calls.push('rest'); }
  wake(): void { this.calls.push('wake'); }
  async close(): Promise<void> {
    this.calls.push('close');
    this.failed = true;
  }
}

function keeper(idleMs = 60_000) {
  let made = 0;
  const sets: FakeSet[] = [];
  const kept = new KeptThreads(() => { const set = new FakeSet(++made); sets.push(set); return set; }, idleMs);
  return { kept, sets };
}

test('the set given back is the next one taken; a second set given back meanwhile is closed', async (t) => {
  const { kept, sets } = keeper();
  t.teardown(() => kept.close());
  const first = kept.take();
  const second = kept.take();
  t.not(first, second);
  await kept.give(first);
  await kept.give(second);
  t.deepEqual(first.calls, ['rest']);
  t.deepEqual(second.calls, ['close']);
  t.is(kept.take(), first);
  t.deepEqual(first.calls, ['rest', 'wake']);
  t.is(sets.length, 2);
});

test('a set that failed while it was kept is closed, never handed out, and a new one is made', async (t) => {
  const { kept, sets } = keeper();
  t.teardown(() => kept.close());
  const first = kept.take();
  await kept.give(first);
  // A thread of the resting set ended (it crashed, or was terminated).
  first.failed = true;
  const next = kept.take();
  t.not(next, first);
  t.deepEqual(first.calls, ['rest', 'close']);
  t.is(sets.length, 2);
});

test('a set that failed in its job is closed when given back; after close nothing is kept', async (t) => {
  const { kept } = keeper();
  const broken = kept.take();
  broken.failed = true;
  await kept.give(broken);
  t.deepEqual(broken.calls, ['close']);
  const sound = kept.take();
  await kept.close();
  await kept.give(sound);
  t.deepEqual(sound.calls, ['close']);
  t.not(kept.take(), sound);
});

test('a kept set is closed once it has rested for the idle time', async (t) => {
  const { kept } = keeper(30);
  t.teardown(() => kept.close());
  const set = kept.take();
  await kept.give(set);
  for (let wait = 0; !set.calls.includes('close') && wait < 100; wait++) await new Promise((resolve) => setTimeout(resolve, 10));
  t.deepEqual(set.calls, ['rest', 'close']);
  t.not(kept.take(), set);
});
