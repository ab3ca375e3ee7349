// GET, HEAD and PROPFIND of box content. A file is served from positioned reads of its `content`
// (one range at most, never buffered); a PROPFIND answer is streamed as it is built, a batch of
// members at a time.
import { PassThrough } from 'node:stream';
import type { Request, ResponseObject } from '@hapi/hapi';
import { parseByteRange } from '../../core/byte-range.ts';
import { rangeAllowed } from '../../core/conditional.ts';
import { encodeSegment, httpDate, parsePropfind, readSmallBody } from '../../core/dav-xml.ts';
import { commonHeaders, corsHeaders } from '../../core/conventions.ts';
import { personiumError } from '../../core/errors.ts';
import { etagOf, type Resource } from './box-store.ts';
import type { Lock } from './locks.ts';
import { sendFileRange } from './file-sender.ts';
import { aclRenderer } from './box-acl.ts';
import { checkIfHeader, checkPreconditions, header, hrefFor, notFound, withMalformedAs400, type BoxRequest } from './box-request.ts';
import { responseXml, type PropertyContext, type PropfindKind } from './properties.ts';

/** Box content is sent as stored: never compressed on the fly (it is mostly zips, photos, videos). */
export function withoutCompression(request: Request): void {
  (request.info as { acceptEncoding: string | null }).acceptEncoding = null;
}

function validators(response: ResponseObject, resource: Resource): ResponseObject {
  return response.header('ETag', etagOf(resource.pmeta)).header('Last-Modified', httpDate(resource.pmeta.u));
}

export async function getResource(ctx: BoxRequest) {
  const { h, target } = ctx;
  if (!target) throw notFound(ctx);
  withoutCompression(ctx.request);
  await checkIfHeader(ctx);
  if (checkPreconditions(ctx) === 'not-modified') return validators(h.response().code(304), target);
  if (target.isCollection) return validators(h.response('').code(200).type('text/plain'), target);

  const handle = await ctx.store.openContent(target.dir);
  try {
    const size = (await handle.stat()).size;
    const rangeHeader = header(ctx.request, 'range');
    const honoured = rangeHeader !== undefined && withMalformedAs400(() => rangeAllowed({ exists: true, etag: etagOf(target.pmeta), lastModified: target.pmeta.u }, header(ctx.request, 'if-range')));
    const range = parseByteRange(honoured ? rangeHeader : undefined, size);
    if (range.kind === 'unsatisfiable') {
      await handle.close();
      const error = personiumError('PR416-DV-0001');
      error.output.headers['Content-Range'] = `bytes */${size}`;
      throw error;
    }
    const { start, end } = range.kind === 'partial' ? range : { start: 0, end: size - 1 };
    const length = size === 0 ? 0 : end - start + 1;
    const headers: Record<string, string | number> = {
      ...commonHeaders(),
      ...corsHeaders(ctx.request, undefined),
      ETag: etagOf(target.pmeta),
      'Last-Modified': httpDate(target.pmeta.u),
      'Accept-Ranges': 'bytes',
      'Content-Type': target.pmeta.ct ?? 'application/octet-stream',
      'Content-Length': length,
      ...(range.kind === 'partial' ? { 'Content-Range': `bytes ${start}-${end}/${size}` } : {}),
    };
    const status = range.kind === 'partial' ? 206 : 200;
    if (length === 0 || ctx.method === 'HEAD') {
      await handle.close();
      const response = h.response('').code(status);
      for (const [name, value] of Object.entries(headers)) response.header(name, String(value));
      return response;
    }
    // The body goes straight to the socket: hapi's stream pipeline halves the throughput of a big
    // file, and nothing in it applies to box content (no compression, ranges are done here).
    const res = ctx.request.raw.res;
    res.writeHead(status, headers);
    sendFileRange(handle, res, start, end).catch((error: unknown) => {
      ctx.request.logger.warn({ err: error }, 'box file download stopped');
      res.destroy();
    });
    return h.abandon;
  } catch (error) {
    await handle.close().catch(() => {});
    throw error;
  }
}

const finiteDepthBody = '<?xml version="1.0" encoding="utf-8"?>\n<D:error xmlns:D="DAV:"><D:propfind-finite-depth/></D:error>';

/** Depth 0 or 1; infinity and a missing Depth (which means infinity) get 403 propfind-finite-depth. */
function propfindDepth(ctx: BoxRequest): 0 | 1 | 'refused' {
  const value = header(ctx.request, 'depth')?.trim().toLowerCase();
  if (value === '0') return 0;
  if (value === '1') return 1;
  if (value === undefined || value === 'infinity') return 'refused';
  throw personiumError('PR400-DV-0003', value);
}

export async function propfind(ctx: BoxRequest) {
  const depth = propfindDepth(ctx);
  if (depth === 'refused') return ctx.h.response(finiteDepthBody).code(403).type('application/xml');
  const body = await readSmallBody(ctx.request.payload as NodeJS.ReadableStream | undefined);
  // XML Namespaces 1.0 §3 forbids undeclaring a prefix (`xmlns:p=""`).
  if (/\sxmlns:[^\s=]+\s*=\s*(""|'')/.test(body)) throw personiumError('PR400-DV-0001');
  const asked = parsePropfind(body) as PropfindKind;
  const { target } = ctx;
  if (!target) throw notFound(ctx);
  withoutCompression(ctx.request);
  await checkIfHeader(ctx);

  const now = Date.now();
  const lockRootHref = (lock: Lock) => hrefFor(ctx, lock.root, lock.root.length === 0);
  const aclOf = await aclRenderer(ctx);
  const context = (resource: Resource): PropertyContext => ({
    locks: ctx.locks.size === 0 ? [] : ctx.locks.covering(ctx.boxDir, resource.segments),
    lockRootHref,
    now,
    ...(aclOf ? { aclOf } : {}),
  });
  // Members share their collection's href: it is encoded once, each member adds its own name.
  const memberPrefix = hrefFor(ctx, target.segments, true);
  const hrefOfMember = (resource: Resource) => `${memberPrefix}${encodeSegment(resource.segments[resource.segments.length - 1]!)}${resource.isCollection ? '/' : ''}`;
  const xmlOf = (resource: Resource, href: string) => responseXml(href, resource, asked, context(resource));
  const out = new PassThrough();
  const produce = async () => {
    out.write(`<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:">${xmlOf(target, hrefFor(ctx, target.segments, target.isCollection))}`);
    if (depth === 1 && target.isCollection) {
      for await (const batch of ctx.store.members(target)) {
        if (out.destroyed) return;
        if (!out.write(batch.map((member) => xmlOf(member, hrefOfMember(member))).join(''))) await new Promise((resume) => { out.once('drain', resume); out.once('close', resume); });
      }
    }
    out.end('</D:multistatus>\n');
  };
  produce().catch((error: unknown) => {
    ctx.request.logger.warn({ err: error }, 'PROPFIND answer stopped');
    out.destroy(error as Error);
  });
  return ctx.h.response(out).code(207).type('application/xml');
}
