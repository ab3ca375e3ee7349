// Guards around webdav-server 2.6.3, which is unmaintained and has crash bugs a single request
// can trigger (see the stack notes): a start-up check that the IfParser patch is applied, and
// a response guard that makes late writes harmless, drops the library's own auth challenge and
// CORS/Server headers, and gives bare error statuses a Personium JSON body.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { ServerResponse } from 'node:http';
import { errorBody, type ErrorCode } from '../../core/errors.ts';
import { commonHeaders } from '../../core/conventions.ts';

/** Throws at start-up when the postinstall patch of IfParser.js is missing (e.g. `npm ci --ignore-scripts`). */
export function assertIfParserPatched(): void {
  const require = createRequire(import.meta.url);
  const file = path.join(path.dirname(require.resolve('webdav-server/package.json')), 'lib/helper/v2/IfParser.js');
  const source = readFileSync(file, 'utf8');
  if (!source.includes('if (orCondition.path) {') || !source.includes('if (!andArray.length)')) {
    throw new Error('webdav-server IfParser.js is not patched (a request with an If: header would crash the server); run `npm rebuild` or `node bin/patch-webdav-server.mjs`');
  }
}

const droppedHeaders = new Set(['www-authenticate', 'access-control-allow-credentials', 'server', 'access-control-allow-origin', 'access-control-allow-headers', 'access-control-allow-methods', 'access-control-expose-headers']);

const codeForStatus: Record<number, ErrorCode> = {
  400: 'PR400-DV-0010',
  403: 'PR403-DV-0002',
  404: 'PR404-DV-0001',
  405: 'PR405-MC-0001',
  409: 'PR409-DV-0003',
  412: 'PR412-DV-0002',
  415: 'PR415-MC-0001',
  423: 'PR423-DV-0001',
  507: 'PR507-DV-0001',
};

/**
 * Wraps `res` for the library. `resourceUrl` names the target in error messages.
 * Returns nothing; the wrapped methods stay in place for the response's life.
 */
export function guardResponse(res: ServerResponse, resourceUrl: string, method: string): void {
  const isHead = method === 'HEAD';
  const original = {
    setHeader: res.setHeader.bind(res),
    writeHead: res.writeHead.bind(res) as (...args: unknown[]) => ServerResponse,
    write: res.write.bind(res) as (...args: unknown[]) => boolean,
    end: res.end.bind(res) as (...args: unknown[]) => ServerResponse,
  };
  let bodyBytes = 0;
  // The library answers a PUT that replaced a file and a DELETE with a bare 200; Personium's is 204.
  const bodylessOk = (status: unknown) => status === 200 && (method === 'PUT' || method === 'DELETE');
  const done = () => res.headersSent || res.writableEnded;

  for (const [name, value] of Object.entries(commonHeaders())) original.setHeader(name, value);

  res.setHeader = ((name: string, value: number | string | readonly string[]) => {
    if (res.headersSent || droppedHeaders.has(name.toLowerCase())) return res;
    return original.setHeader(name, value);
  }) as typeof res.setHeader;

  res.writeHead = ((...args: unknown[]) => {
    if (done()) return res;
    const headers = args.find((arg) => typeof arg === 'object' && arg !== null && !Array.isArray(arg)) as Record<string, unknown> | undefined;
    if (headers) for (const name of Object.keys(headers)) if (droppedHeaders.has(name.toLowerCase())) delete headers[name];
    return original.writeHead(...args);
  }) as typeof res.writeHead;

  res.write = ((...args: unknown[]) => {
    if (res.writableEnded) return false;
    const chunk = args[0];
    if (typeof chunk === 'string' || Buffer.isBuffer(chunk)) bodyBytes += Buffer.byteLength(chunk as string);
    return original.write(...args);
  }) as typeof res.write;

  res.end = ((...args: unknown[]) => {
    if (res.writableEnded) return res;
    const chunk = args[0];
    const hasChunk = typeof chunk === 'string' ? chunk.length > 0 : Buffer.isBuffer(chunk) && chunk.length > 0;
    if (bodylessOk(res.statusCode) && !hasChunk && bodyBytes === 0 && !res.headersSent) {
      res.statusCode = 204;
      res.removeHeader('Content-Length');
    }
    const code = codeForStatus[res.statusCode] ?? (res.statusCode >= 500 ? 'PR500-SV-0000' : undefined);
    if (code && bodyBytes === 0 && !hasChunk && !res.headersSent) {
      const body = JSON.stringify(errorBody(code, [resourceUrl]));
      original.setHeader('Content-Type', 'application/json');
      original.setHeader('Content-Length', Buffer.byteLength(body));
      return isHead ? original.end() : original.end(body);
    }
    return original.end(...args);
  }) as typeof res.end;
}
