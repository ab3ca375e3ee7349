// Sends a byte range of an open file to a response with positioned reads into two buffers that
// take turns: one is read into while the other is on its way to the socket. Memory per download
// is two chunks whatever the file's size, and no buffer is allocated per chunk.
import type { FileHandle } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';

const chunkBytes = 1024 * 1024;

/** Writes bytes `start`..`end` (inclusive) of `handle` to `res`, ends it, and closes the file. */
export async function sendFileRange(handle: FileHandle, res: ServerResponse, start: number, end: number): Promise<void> {
  const size = Math.min(chunkBytes, end - start + 1);
  const buffers = [Buffer.allocUnsafe(size), Buffer.allocUnsafe(size)];
  let closed = false;
  const gone = new Promise<void>((resolve) => res.once('close', () => { closed = true; resolve(); }));
  let inFlight: Promise<void> = Promise.resolve();
  let position = start;
  let turn = 0;
  try {
    while (position <= end && !closed) {
      const buffer = buffers[turn]!;
      turn ^= 1;
      const { bytesRead } = await handle.read(buffer, 0, Math.min(size, end - position + 1), position);
      if (bytesRead === 0) break;
      await Promise.race([inFlight, gone]);
      if (closed) break;
      position += bytesRead;
      const chunk = bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
      inFlight = new Promise<void>((resolve) => { res.write(chunk, () => resolve()); });
    }
    await Promise.race([inFlight, gone]);
  } finally {
    await handle.close();
  }
  // A file that shrank under the reader cannot fill the promised Content-Length: cut the answer.
  if (position <= end) res.destroy();
  else if (!closed) res.end();
}
