// The answer to a request whose body is refused before its end (an upload past its limit, a PUT
// that failed half-way): the connection closes after the answer, but lingers first. A client still
// sending when the server closes gets a reset from the server's kernel, and a reset can drop the
// answer before the client has read it (a chunked upload past the limit lost its 413 so in about
// one test run of twenty). So, as Apache and nginx do, what the client still sends after the
// answer is read and dropped, until it closes its side or for `lingerMs` at most.
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Boom } from '@hapi/boom';

/** How long a refused body's connection is read after its answer, at most. */
export const lingerMs = 2000;

/** Marks `error`'s answer `Connection: close`, and has the connection of `req` linger after it. */
export function closeAfterAnswer(error: Boom, req: IncomingMessage): void {
  error.output.headers.Connection = 'close';
  const socket = req.socket as Socket & { destroySoon?: () => void };
  // Node's HTTP server ends the socket of a `Connection: close` answer with destroySoon, which
  // destroys it as soon as the answer is written; this socket ends its side and reads on instead.
  if (typeof socket.destroySoon !== 'function') return;
  socket.destroySoon = () => {
    socket.end();
    req.resume();
    socket.resume();
    const timer = setTimeout(() => socket.destroy(), lingerMs);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  };
}
