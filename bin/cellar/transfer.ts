// Streamed file transfers: a download appended to or written over a local file, an upload read
// from disk, each through a Transform that counts bytes for the progress display. Nothing is
// held in memory beyond the streams' own buffers.
import { createReadStream, createWriteStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';

export function countingStream(onBytes: (total: number) => void, start = 0): Transform {
  let total = start;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      total += chunk.length;
      onBytes(total);
      callback(null, chunk);
    },
  });
}

/** Writes a response body to `file`: appended when `append`, else over whatever was there. */
export async function saveBody(response: Response, file: string, options: { append: boolean; start: number; onBytes: (total: number) => void }): Promise<void> {
  if (!response.body) throw new Error('the unit sent no body');
  const body = Readable.fromWeb(response.body as unknown as WebReadableStream<Uint8Array>);
  await pipeline(body, countingStream(options.onBytes, options.start), createWriteStream(file, { flags: options.append ? 'a' : 'w' }));
}

/** A file as a web stream for `fetch`, counting what has been read. */
export function uploadBody(file: string, onBytes: (total: number) => void): ReadableStream<Uint8Array> {
  const counted = createReadStream(file).pipe(countingStream(onBytes));
  return Readable.toWeb(counted) as unknown as ReadableStream<Uint8Array>;
}
