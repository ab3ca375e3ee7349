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

export function areaOf(request: Request): SnapshotArea {
  return request.server.cellar.snapshots.of(cellOf(request).id);
}
