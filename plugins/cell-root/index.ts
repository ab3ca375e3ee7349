// {CellURL} itself. PROPFIND: the cell's own properties, `p:cellstatus` among them; Depth 1 adds
// the main box and every box as collections. DELETE with `X-Personium-Recursive: true`: the cell
// with all it holds, its snapshot area too (Personium's cell bulk deletion); open while the cell
// is `import failed`, so a cell whose import failed can always be removed.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Plugin, Request, ResponseToolkit } from '@hapi/hapi';
import { mayAccess } from '../../core/access-decision.ts';
import { cellOf, cellRoute } from '../../core/cell-access.ts';
import { cellAclProperty, setCellAcl } from './cell-acl.ts';
import { mainBoxName, type Pmeta } from '../../core/cell-content.ts';
import { encodeSegment, escapeXml, httpDate, isoDate, parseDepth, parsePropfind, personiumNamespace, readSmallBody } from '../../core/dav-xml.ts';
import { personiumError } from '../../core/errors.ts';
import { methodNotAllowed, optionsRoute } from '../../core/routes.ts';
import { servicesPluginName } from '../../core/services.ts';
import { cellarVersion } from '../../core/version.ts';

function collectionResponse(href: string, pmeta: Pmeta, extra = ''): string {
  return `<D:response><D:href>${escapeXml(href)}</D:href><D:propstat><D:prop>` +
    `<D:creationdate>${isoDate(pmeta.p)}</D:creationdate><D:getlastmodified>${httpDate(pmeta.u)}</D:getlastmodified>` +
    `<D:resourcetype><D:collection/></D:resourcetype>${extra}</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>`;
}

async function readPmeta(dir: string): Promise<Pmeta> {
  return JSON.parse(await readFile(path.join(dir, '.pmeta'), 'utf8')) as Pmeta;
}

async function propfind(request: Request, h: ResponseToolkit) {
  const depth = parseDepth(request.headers.depth as string | undefined);
  parsePropfind(await readSmallBody(request.payload as NodeJS.ReadableStream | undefined));
  const cell = cellOf(request);
  const { contents, urls } = request.server.cellar;
  const base = urls.cell(cell.name);
  const cellPmeta = await readPmeta(contents.davRoot(cell));
  // The ACL is shown to those who may read it.
  const acl = (await mayAccess(request, { cell, privilege: 'acl-read' })) ? await cellAclProperty(request, cell) : '';
  const parts = [collectionResponse(base, cellPmeta, `<p:cellstatus>${escapeXml(cell.status)}</p:cellstatus>${acl}`)];
  if (depth === 1) {
    parts.push(collectionResponse(`${base}${mainBoxName}`, await readPmeta(contents.boxDir(cell, mainBoxName))));
    for (const box of (await contents.odata(cell)).data.boxes) {
      parts.push(collectionResponse(`${base}${encodeSegment(box.Name)}`, await readPmeta(contents.boxDir(cell, box._id))));
    }
  }
  const xml = `<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:" xmlns:p="${personiumNamespace}">${parts.join('')}</D:multistatus>`;
  return h.response(xml).code(207).type('application/xml; charset=utf-8');
}

const payload = { output: 'stream', parse: false, maxBytes: 1024 * 1024 } as const;
const allow = 'OPTIONS, PROPFIND, ACL, DELETE';

async function deleteCell(request: Request, h: ResponseToolkit) {
  if (String(request.headers['x-personium-recursive'] ?? '').toLowerCase() !== 'true') throw personiumError('PR412-MC-0001', 'X-Personium-Recursive');
  const cell = cellOf(request);
  await request.server.cellar.cells.remove(cell);
  request.logger.info({ cell: cell.name, recursive: true }, 'cell deleted');
  return h.response().code(204);
}

export const cellRootPlugin: Plugin<void> = {
  name: 'cellar-cell-root',
  version: cellarVersion,
  dependencies: [servicesPluginName],
  register(server) {
    for (const routePath of ['/{cell}', '/{cell}/']) {
      server.route([
        { method: 'PROPFIND', path: routePath, options: { payload, ...cellRoute({ access: 'read', privilege: 'propfind' }) }, handler: propfind },
        { method: 'ACL', path: routePath, options: { payload, ...cellRoute({ access: 'write', privilege: 'acl' }) }, handler: setCellAcl },
        { method: 'DELETE', path: routePath, options: cellRoute({ access: 'cell-delete', unitOnly: true }), handler: deleteCell },
        optionsRoute(routePath, allow),
        { method: '*', path: routePath, options: cellRoute({ access: 'read', privilege: 'propfind' }), handler: methodNotAllowed(allow) },
      ]);
    }
  },
};
