// What both plugins of the snapshot area read from a request: the file it names, that file's URL,
// and the cell's area.
import type { Request } from '@hapi/hapi';
import { param } from '../core/auth.ts';
import { cellOf } from '../core/cell-access.ts';
import { personiumError } from '../core/errors.ts';
import { isValidSnapshotName, type SnapshotArea } from '../core/snapshot-store.ts';

/**
 * The file name of the request, refused (400 PR400-DV-0008) unless it is one plain segment. hapi
 * hands over the decoded parameter, so the raw last segment is checked too: an encoded slash,
 * backslash or NUL is refused even where a decoder would have kept it.
 */
export function snapshotFileName(request: Request): string {
  const name = param(request, 'file');
  const rawSegment = (request.raw.req.url ?? '').split('?')[0]!.split('/').pop() ?? '';
  if (!isValidSnapshotName(name) || /%(2f|5c|00)/i.test(rawSegment)) {
    throw personiumError('PR400-DV-0008', name.replace(/[\0-\x1f]/g, '?'));
  }
  return name;
}

/** `{CellURL}__snapshot/` */
export function areaUrl(request: Request): string {
  return `${request.server.cellar.urls.cell(cellOf(request).name)}__snapshot/`;
}

export function fileUrl(request: Request, name: string): string {
  return `${areaUrl(request)}${encodeURIComponent(name)}`;
}

/**
 * The file a MOVE's `Destination` names: an absolute URL on this unit, or an absolute path, inside
 * the same cell's area, one plain name. Another host gets 502; anything else 400 PR400-SN-0007.
 */
export function destinationName(request: Request): string {
  const header = request.headers.destination as string | undefined;
  if (!header) throw personiumError('PR400-SN-0007', 'null');
  const area = new URL(areaUrl(request));
  let target: URL;
  try {
    target = new URL(header, area);
  } catch {
    throw personiumError('PR400-SN-0007', header);
  }
  if (target.host !== area.host || target.protocol !== area.protocol) throw personiumError('PR502-SN-0001', header);
  const rawName = target.pathname.startsWith(area.pathname) ? target.pathname.slice(area.pathname.length) : '';
  let name = '';
  try {
    name = decodeURIComponent(rawName);
  } catch {
    // not a name
  }
  if (!isValidSnapshotName(name) || /%(2f|5c|00)/i.test(rawName)) throw personiumError('PR400-SN-0007', header);
  return name;
}

export function areaOf(request: Request): SnapshotArea {
  return request.server.cellar.snapshots.of(cellOf(request).id);
}
