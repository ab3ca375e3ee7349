// Counts the bytes of an upload as they pass and stops it past the limit with 413 PR413-DV-0001:
// the limit for bodies sent without Content-Length (chunked), which hapi cannot check up front.
import { Transform } from 'node:stream';
import { personiumError } from './errors.ts';

export function byteCounter(limit: number): Transform & { bytes: number } {
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      counter.bytes += chunk.length;
      if (counter.bytes > limit) return done(personiumError('PR413-DV-0001', limit));
      done(null, chunk);
    },
  }) as Transform & { bytes: number };
  counter.bytes = 0;
  return counter;
}
