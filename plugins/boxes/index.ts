// Cell-level Box API: POST/GET {CellURL}__ctl/Box, GET/DELETE {CellURL}__ctl/Box('name').
// The main box `__` always exists and is not listed, as in Personium.
import { mkdir, readdir, rm } from 'node:fs/promises';
import { param } from '../../core/auth.ts';
import type { Plugin, Request, ResponseToolkit } from '@hapi/hapi';
import { cellOf, cellRoute } from '../../core/cell-access.ts';
import { newId, newPmeta, writePmeta, type BoxRecord } from '../../core/cell-content.ts';
import { personiumError } from '../../core/errors.ts';
import { parseJsonObject, rawJsonPayload } from '../../core/json-body.ts';
import { entityAllow, entitySegmentAllow, odataDate, parseEntitySegment } from '../../core/odata.ts';
import { entityNameRule, notAllowed, optionsRoute, requiredName } from '../../core/routes.ts';
import { servicesPluginName } from '../../core/services.ts';
import { cellarVersion } from '../../core/version.ts';

function boxEntity(request: Request, box: BoxRecord) {
  const cellUrl = request.server.cellar.urls.cell(cellOf(request).name);
  return {
    __metadata: { uri: `${cellUrl}__ctl/Box('${box.Name}')`, etag: `W/"1-${box.__updated}"`, type: 'CellCtl.Box' },
    Name: box.Name,
    Schema: box.Schema,
    __published: odataDate(box.__published),
    __updated: odataDate(box.__updated),
  };
}

async function create(request: Request, h: ResponseToolkit) {
  const target = parseEntitySegment(param(request, 'segment'), 'Box');
  if (target.kind !== 'collection') throw notAllowed(entityAllow(target));
  const body = parseJsonObject(request.payload, false)!;
  const name = requiredName(body, entityNameRule);
  const schema = body.Schema ?? null;
  if (schema !== null && (typeof schema !== 'string' || !/^https?:\/\/\S+$/.test(schema))) {
    throw personiumError('PR400-CM-0002', 'Schema', 'an http(s) URL');
  }
  const cell = cellOf(request);
  const { contents } = request.server.cellar;
  const odata = await contents.odata(cell);
  if (odata.data.boxes.some((box) => box.Name === name)) throw personiumError('PR409-OD-0003');
  const now = Date.now();
  const box: BoxRecord = { _id: newId(), Name: name, Schema: schema, __published: now, __updated: now };
  const dir = contents.boxDir(cell, box._id);
  await mkdir(dir, { recursive: true });
  await writePmeta(dir, newPmeta('col.box', { i: box._id }));
  odata.data.boxes.push(box);
  await odata.write();
  const entity = boxEntity(request, box);
  return h.response({ d: { results: entity } }).code(201).header('Location', entity.__metadata.uri);
}

async function read(request: Request) {
  const target = parseEntitySegment(param(request, 'segment'), 'Box');
  const cell = cellOf(request);
  const odata = await request.server.cellar.contents.odata(cell);
  if (target.kind === 'collection') return { d: { results: odata.data.boxes.map((box) => boxEntity(request, box)) } };
  const box = odata.data.boxes.find((candidate) => candidate.Name === target.key);
  if (!box) throw personiumError('PR404-OD-0002');
  return { d: { results: boxEntity(request, box) } };
}

async function remove(request: Request, h: ResponseToolkit) {
  const target = parseEntitySegment(param(request, 'segment'), 'Box');
  if (target.kind !== 'entity') throw notAllowed(entityAllow(target));
  const cell = cellOf(request);
  const { contents } = request.server.cellar;
  const odata = await contents.odata(cell);
  const box = odata.data.boxes.find((candidate) => candidate.Name === target.key);
  if (!box) throw personiumError('PR404-OD-0002');
  const dir = contents.boxDir(cell, box._id);
  const recursive = String(request.headers['x-personium-recursive'] ?? '').toLowerCase() === 'true';
  const children = (await readdir(dir, { withFileTypes: true }).catch(() => [])).filter((entry) => entry.isDirectory());
  if (!recursive && children.length > 0) throw personiumError('PR409-OD-0001');
  // Roles bound to the box would lose their box: Personium refuses, as for any related data.
  if ((odata.data.roles ?? []).some((role) => role.boxId === box._id)) throw personiumError('PR409-OD-0001');
  odata.data.boxes = odata.data.boxes.filter((candidate) => candidate._id !== box._id);
  await odata.write();
  await rm(dir, { recursive: true, force: true });
  return h.response().code(204);
}

export const boxesPlugin: Plugin<void> = {
  name: 'cellar-boxes',
  version: cellarVersion,
  dependencies: [servicesPluginName],
  register(server) {
    server.route([
      { method: 'POST', path: '/{cell}/__ctl/{segment}', options: { payload: rawJsonPayload, ...cellRoute({ access: 'write', privilege: 'box' }) }, handler: create },
      { method: 'GET', path: '/{cell}/__ctl/{segment}', options: cellRoute({ access: 'read', privilege: 'box-read' }), handler: read },
      { method: 'DELETE', path: '/{cell}/__ctl/{segment}', options: cellRoute({ access: 'write', privilege: 'box' }), handler: remove },
      optionsRoute('/{cell}/__ctl/{segment}', (request) => entitySegmentAllow(param(request, 'segment'), 'Box')),
      { method: '*', path: '/{cell}/__ctl/{segment}', options: cellRoute({ access: 'read', privilege: 'box-read' }), handler: (request) => { throw notAllowed(entityAllow(parseEntitySegment(param(request, 'segment'), 'Box'))); } },
    ]);
  },
};
