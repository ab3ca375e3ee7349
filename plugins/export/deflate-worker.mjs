// The deflating thread of deflate-thread.ts. It takes commands from a queue in shared memory, in
// order, each a small entry in the shared ring: it stores what looks random or does not shrink,
// deflates the rest, writing the deflated bytes over the entry's own (they are shorter), and
// writes the method and size into the shared results. Counters, not messages, tell the export
// thread how far it got (a message each cost more than deflating a small file). Plain
// JavaScript, so that it starts without a loader. Whenever no entry waits, it measures the tree
// each export asks for (a root in shared memory, and the measures counter moved), a millisecond at
// a time, and posts the totals once it has them: a message, the only one of an export.
import { parentPort, workerData } from 'node:worker_threads';
import { deflateRawSync } from 'node:zlib';
import { measureSteps } from './cell-tree.mjs';
import { looksRandom } from './looks-random.mjs';

const { slots, counter, fields, level, memLevel, incompressibleRatio, methods } = workerData.layout;
const ring = Buffer.from(workerData.ring);
const control = new Int32Array(workerData.control);
const commands = new Int32Array(workerData.commands);
const results = new Int32Array(workerData.results);
/** How long the thread looks for more work before it sleeps (a wake costs a system call and a switch). */
const spinMs = 0.2;
let done = 0;

function deflateEntry(at) {
  const offset = commands[at + fields.offset];
  const length = commands[at + fields.length];
  const bytes = ring.subarray(offset, offset + length);
  if (looksRandom(bytes)) return [methods.stored, length];
  // An output chunk the size of the entry (at most 16 KiB, zlib's default): a deflate worth keeping
  // fits it, and the garbage of 10,000s of entries of a few KiB is a sixth of the size.
  const deflated = deflateRawSync(bytes, { level, memLevel, windowBits: commands[at + fields.windowBits], chunkSize: Math.max(1024, length) });
  if (deflated.length > length * incompressibleRatio) return [methods.stored, length];
  deflated.copy(ring, offset);
  return [methods.deflated, deflated.length];
}

const root = Buffer.from(workerData.root);
/** The measures counter as of the last root taken (twice the measures asked for). */
let measuresTaken = 0;
/** The measure under way: its steps and its id. */
let measuring;
let measuringId = 0;
/** Time the measure runs before the thread looks for entries again. */
const measureSliceMs = 1;

/** Takes the root the export thread wrote last, once it is whole (the counter even, and the same after the read). */
function takeMeasure() {
  const asked = Atomics.load(control, counter.measures);
  if (asked === measuresTaken || asked % 2 !== 0) return;
  const path = root.toString('utf8', 0, Atomics.load(control, counter.rootBytes));
  if (Atomics.load(control, counter.measures) !== asked) return;
  measuresTaken = asked;
  measuring = measureSteps(path);
  measuringId = asked;
}

function measureSome() {
  const until = performance.now() + measureSliceMs;
  try {
    for (let step = 0; ; step += 1) {
      const next = measuring.next();
      if (next.done) {
        parentPort.postMessage({ measured: measuringId, totals: next.value });
        measuring = undefined;
        return;
      }
      if (step % 16 === 15 && performance.now() > until) return;
    }
  } catch (error) {
    parentPort.postMessage({ measured: measuringId, failed: error.message });
    measuring = undefined;
  }
}

/** Whether nothing waits: no entry, no root to measure. */
function idle() {
  return Atomics.load(control, counter.posted) === done && Atomics.load(control, counter.measures) === measuresTaken;
}

for (;;) {
  takeMeasure();
  if (measuring && Atomics.load(control, counter.posted) === done) {
    measureSome();
    continue;
  }
  if (idle()) {
    const until = performance.now() + spinMs;
    while (idle() && performance.now() < until);
  }
  // Says it sleeps, so that the export thread rings the bell, then looks once more and waits on
  // the bell; with a timeout, so that a terminated thread never sleeps on.
  Atomics.store(control, counter.sleeping, 1);
  const bell = Atomics.load(control, counter.bell);
  if (idle()) Atomics.wait(control, counter.bell, bell, 1000);
  Atomics.store(control, counter.sleeping, 0);
  while (Atomics.load(control, counter.posted) !== done) {
    const slot = (done >>> 0) % slots;
    const [method, size] = deflateEntry(slot * fields.count);
    results[slot * 2] = method;
    results[slot * 2 + 1] = size;
    done = (done + 1) | 0;
    Atomics.store(control, counter.done, done);
    Atomics.notify(control, counter.done);
  }
}
