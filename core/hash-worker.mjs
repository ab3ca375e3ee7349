// The hashing thread of hash-thread.ts. It takes commands from a queue in shared memory, in
// order: a range of the shared ring to hash, or the end of a stream, whose SHA-256 it writes into
// the shared results. Shared counters tell the main thread how far it got (bytes hashed, commands
// done, digests written) without a message each: at one message per small file, messages cost
// more than the hashing. It wakes a main thread waiting for room; digests are looked for. Plain JavaScript, so that it starts without a loader.
import { createHash } from 'node:crypto';
import { workerData } from 'node:worker_threads';

const { slots, counter } = workerData.layout;
const ring = Buffer.from(workerData.ring);
const control = new Int32Array(workerData.control);
const commands = new Int32Array(workerData.commands);
const results = Buffer.from(workerData.results);
let hash = createHash('sha256');
let done = 0;
let digests = 0;

for (;;) {
  // Says it sleeps, so that the main thread wakes it (a wake costs a system call, and is skipped
  // while this thread is busy); waits with a timeout so that a terminated thread never sleeps on.
  Atomics.store(control, counter.sleeping, 1);
  if (Atomics.load(control, counter.posted) === done) Atomics.wait(control, counter.posted, done, 1000);
  Atomics.store(control, counter.sleeping, 0);
  while (Atomics.load(control, counter.posted) !== done) {
    const at = (done % slots) * 2;
    const offset = commands[at];
    const length = commands[at + 1];
    if (length < 0) {
      hash.digest().copy(results, (digests % slots) * 32);
      hash = createHash('sha256');
      digests = (digests + 1) | 0;
      Atomics.store(control, counter.digests, digests);
    } else {
      hash.update(ring.subarray(offset, offset + length));
      Atomics.add(control, counter.hashed, length);
      Atomics.notify(control, counter.hashed);
    }
    done = (done + 1) | 0;
    Atomics.store(control, counter.done, done);
    Atomics.notify(control, counter.done);
  }
}
