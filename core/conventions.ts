// Personium's request and response conventions as one plugin: X-Override and
// X-HTTP-Method-Override, X-Personium-RequestKey, the common response headers, one log line per
// request with its final status, and Personium error bodies for every error hapi produces.
import { randomBytes } from 'node:crypto';
import type { Plugin, Request, ResponseToolkit } from '@hapi/hapi';
import Boom from '@hapi/boom';
import { bodyForError, outOfSpaceHttpError, personiumError } from './errors.ts';
import { cellarVersion } from './version.ts';

const requestKeyPattern = /^[A-Za-z0-9_-]{1,128}$/;

declare module '@hapi/hapi' {
  interface RequestApplicationState {
    requestKey?: string;
    /** A POST turned into a HEAD: the client still reads a POST's answer, so Content-Length must be 0. */
    headOverPost?: boolean;
  }
}

/** Headers every response carries, also those written by code that bypasses hapi (WebDAV). */
export function commonHeaders(): Record<string, string> {
  return { 'X-Personium-Version': cellarVersion, 'Access-Control-Allow-Origin': '*' };
}

/**
 * Sends this request's response as stored, whatever `Accept-Encoding` says. Files (snapshot zips,
 * photos, videos) are compressed already or not worth it, and hapi would gzip any
 * `application/octet-stream` on the fly: 50 MB took 22 s that way.
 */
export function neverCompress(request: Request): void {
  request.info.acceptEncoding = 'identity';
}

/** Response headers a browser on another origin reads; every response exposes them to it. */
const exposedHeaders = 'Location, ETag, X-Personium-Version, Content-Range';

/**
 * CORS beyond `Access-Control-Allow-Origin: *`: an OPTIONS answer names its methods in
 * `Access-Control-Allow-Methods` (its `Allow`); with `Origin`, the headers the preflight asks for
 * are allowed and the ones a script needs are exposed.
 */
export function corsHeaders(request: Request, allow: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  if (request.method === 'options' && allow) headers['Access-Control-Allow-Methods'] = allow;
  if (request.headers.origin === undefined) return headers;
  headers['Access-Control-Expose-Headers'] = exposedHeaders;
  const asked = request.headers['access-control-request-headers'];
  if (request.method === 'options' && typeof asked === 'string' && asked.trim()) headers['Access-Control-Allow-Headers'] = asked.trim();
  return headers;
}

function generateRequestKey(): string {
  const id = randomBytes(20).toString('base64url');
  return `${id.slice(0, 4)}_${id.slice(4, 26)}`;
}

/**
 * Headers that frame the message: the body was already read by their real values, so an override
 * of them would only make the payload parser wait for bytes that never come.
 */
const framingHeaders = new Set(['content-length', 'transfer-encoding', 'host', 'connection', 'expect', 'te', 'trailer', 'upgrade']);

/** `X-Override: Name: value` replaces that request header (except framing ones); it may repeat. */
function applyHeaderOverrides(request: Request): void {
  // Injected requests (server.inject) have no rawHeaders; their headers are already split.
  const raw = request.raw.req.rawHeaders ?? Object.entries(request.headers).flatMap(([name, value]) =>
    (Array.isArray(value) ? value : [value]).flatMap((one) => [name, String(one)]));
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() !== 'x-override') continue;
    const value = raw[i + 1]!;
    const colon = value.indexOf(':');
    if (colon < 1) continue;
    const name = value.slice(0, colon).trim().toLowerCase();
    if (name === 'x-override' || framingHeaders.has(name) || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) continue;
    request.headers[name] = value.slice(colon + 1).trim();
  }
}

function logCompletion(request: Request, started: bigint): void {
  const res = request.raw.res;
  let logged = false;
  const log = (aborted: boolean) => {
    if (logged) return;
    logged = true;
    const responseTime = Number(process.hrtime.bigint() - started) / 1e6;
    request.logger.info(
      {
        requestKey: request.app.requestKey,
        method: request.method.toUpperCase(),
        // The cookie's peer is half of a credential.
        url: request.raw.req.url?.replace(/([?&]p_cookie_peer=)[^&]*/g, '$1[redacted]'),
        statusCode: res.statusCode,
        responseTime: Math.round(responseTime * 10) / 10,
        ...(aborted ? { aborted: true } : {}),
      },
      'request completed',
    );
  };
  res.once('finish', () => log(false));
  res.once('close', () => log(!res.writableFinished));
}

export const conventionsPlugin: Plugin<void> = {
  name: 'cellar-conventions',
  version: cellarVersion,
  register(server) {
    server.ext('onRequest', (request, h) => {
      const started = process.hrtime.bigint();
      applyHeaderOverrides(request);
      const override = request.headers['x-http-method-override'];
      if (request.method === 'post' && typeof override === 'string' && override.trim()) {
        request.setMethod(override.trim() as Parameters<Request['setMethod']>[0]);
        request.app.headOverPost = override.trim().toLowerCase() === 'head';
      }
      // An empty key is taken as none, as Personium does.
      const given = request.headers['x-personium-requestkey'] === '' ? undefined : request.headers['x-personium-requestkey'];
      request.app.requestKey = typeof given === 'string' && requestKeyPattern.test(given) ? given : generateRequestKey();
      logCompletion(request, started);
      if (given !== undefined && request.app.requestKey !== given) {
        throw personiumError('PR400-EV-0002', 'X-Personium-RequestKey');
      }
      return h.continue;
    });

    server.ext('onPreResponse', (request: Request, h: ResponseToolkit) => {
      const raw = request.response;
      const storage = Boom.isBoom(raw) ? outOfSpaceHttpError(raw) : undefined;
      if (storage) request.logger.warn({ requestKey: request.app.requestKey, code: (raw as NodeJS.ErrnoException).code }, 'no space left on the data directory');
      const response = storage ?? raw;
      if (Boom.isBoom(response)) {
        if (response.output.statusCode >= 500 && !response.data) {
          request.logger.error({ err: response, requestKey: request.app.requestKey }, 'request failed');
        }
        const body = bodyForError(response);
        const reply = h.response(body).code(response.output.statusCode).type('application/json');
        for (const [name, value] of Object.entries(response.output.headers)) {
          if (name.toLowerCase() !== 'content-type' && value !== undefined) reply.header(name, String(value));
        }
        for (const [name, value] of Object.entries(commonHeaders())) reply.header(name, value);
        for (const [name, value] of Object.entries(corsHeaders(request, undefined))) reply.header(name, value);
        if (request.app.headOverPost) reply.header('Content-Length', '0');
        return reply;
      }
      if (response && 'header' in response) {
        for (const [name, value] of Object.entries(commonHeaders())) response.header(name, value);
        for (const [name, value] of Object.entries(corsHeaders(request, response.headers.allow as string | undefined))) response.header(name, value);
        // An explicit code, or hapi would turn the empty 200 into a 204.
        if (request.app.headOverPost && 'code' in response) response.code(response.statusCode).header('Content-Length', '0');
      }
      return h.continue;
    });
  },
};
