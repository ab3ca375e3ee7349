// Streamed file transfers: a download appended to or written over a local file, an upload read
// from disk, each through a Transform that counts bytes for the progress display. Nothing is
// held in memory beyond the streams' own buffers.
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
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

/**
 * PUTs a file with node:http rather than fetch: undici's fetch keeps every chunk of a streamed
 * request body in memory until the request ends (nodejs/undici#4058), which a multi-GB snapshot
 * cannot afford. Here the file is piped into the socket with backpressure. The answer comes back
 * as a web Response so callers treat it like any other.
 */
export async function putFile(url: string, headers: Record<string, string>, file: string, onBytes: (total: number) => void): Promise<Response> {
  const target = new URL(url);
  const send = target.protocol === 'https:' ? https.request : http.request;
  const size = (await stat(file)).size;
  const request = send(target, { method: 'PUT', headers: { ...headers, 'content-length': String(size) } });
  // A failure to read the file is reported as such, not as a network error.
  let readError: Error | undefined;
  const source = createReadStream(file).once('error', (error) => { readError = error; });
  const answered = new Promise<http.IncomingMessage>((resolve, reject) => {
    request.once('response', resolve);
    request.once('error', (error) => reject(readError ?? error));
  });
  // The unit may answer (e.g. 409) before taking the whole body; the answer is what counts then.
  void pipeline(source, countingStream(onBytes), request).catch(() => undefined);
  const response = await answered;
  const status = response.statusCode ?? 0;
  const body = status === 204 || status === 304 ? null : (Readable.toWeb(response) as unknown as ReadableStream<Uint8Array>);
  if (body === null) response.resume();
  const responseHeaders = new Headers();
  for (const [name, value] of Object.entries(response.headers)) {
    if (typeof value === 'string') responseHeaders.set(name, value);
  }
  return new Response(body, { status, statusText: response.statusMessage, headers: responseHeaders });
}
