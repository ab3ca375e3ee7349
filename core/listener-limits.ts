// What one client may hold of the unit: a connection cap that leaves descriptors for the jobs, a
// header timeout checked every second (node checks every 30 s by default), an idle timeout while
// a request body arrives (a stalled upload is ended, a slow but moving one goes on), and a cap on
// the number of request headers (node silently drops those past its count, Authorization with them).
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { Plugin } from '@hapi/hapi';
import { personiumError } from './errors.ts';
import { cellarVersion } from './version.ts';

export interface HttpLimits {
  /** Connections at once; 0: derived from the descriptor limit (see `connectionCap`). */
  maxConnections: number;
  headersTimeoutMs: number;
  /** A request body that sends nothing for this long is ended. */
  bodyIdleTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxHeaders: number;
}

/** Descriptors kept for everything but client connections: the store, logs, and each job's files. */
export const descriptorsPerJob = 64;
export const descriptorsForTheUnit = 64;
/** The derived cap never goes above this: idle connections cost memory too. */
export const derivedConnectionCeiling = 1024;

/** The soft limit of open files (RLIMIT_NOFILE) from /proc, or undefined where there is none. */
export function descriptorLimit(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((text) => text.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    return soft && /^\d+$/.test(soft) ? Number(soft) : undefined;
  } catch {
    return undefined;
  }
}

export function connectionCap(configured: number, jobsConcurrency: number, limit = descriptorLimit()): number {
  if (configured > 0) return configured;
  const headroom = descriptorsForTheUnit + descriptorsPerJob * jobsConcurrency;
  if (limit === undefined) return derivedConnectionCeiling;
  return Math.max(16, Math.min(derivedConnectionCeiling, limit - headroom));
}

/** The node HTTP server hapi listens with, with these limits. */
export function createListener(limits: HttpLimits, jobsConcurrency: number): http.Server {
  const listener = http.createServer({
    headersTimeout: limits.headersTimeoutMs,
    // Big uploads and downloads take as long as they take; the body idle timeout ends stalled ones.
    requestTimeout: 0,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(limits.headersTimeoutMs / 2))),
  });
  listener.maxConnections = connectionCap(limits.maxConnections, jobsConcurrency);
  // One more than allowed is kept, so that too many can be told from exactly enough.
  listener.maxHeadersCount = limits.maxHeaders + 1;
  return listener;
}

/** The per-request halves: the header count (431) and the body idle timeout. */
export const requestLimitsPlugin: Plugin<Pick<HttpLimits, 'maxHeaders' | 'bodyIdleTimeoutMs'>> = {
  name: 'cellar-request-limits',
  version: cellarVersion,
  register(server, { maxHeaders, bodyIdleTimeoutMs }) {
    server.ext('onRequest', (request, h) => {
      const raw = request.raw.req.rawHeaders;
      if (raw && raw.length / 2 > maxHeaders) {
        const error = personiumError('PR431-CM-0001', maxHeaders);
        error.output.headers.Connection = 'close';
        throw error;
      }
      return h.continue;
    });
    // After hapi set the route's socket timeout, so this one holds while the body arrives.
    server.ext('onPreAuth', (request, h) => {
      const { req } = request.raw;
      const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
      if (!hasBody || req.complete || !req.socket) return h.continue;
      const socket = req.socket;
      socket.setTimeout(bodyIdleTimeoutMs);
      // Once the answer is out, node has set the keep-alive timeout on the socket: it stays.
      const clear = () => { if (!socket.destroyed && !request.raw.res.writableFinished) socket.setTimeout(0); };
      req.once('end', clear);
      req.once('close', clear);
      return h.continue;
    });
  },
};
