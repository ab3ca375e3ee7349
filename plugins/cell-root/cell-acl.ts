// The cell ACL: the WebDAV ACL method on {CellURL} replaces it (principals are role URLs,
// `{CellURL}__role/{box|__}/{role}`, usually relative to `xml:base`), and the cell's PROPFIND
// shows it with `xml:base="{CellURL}__role/__/"` and relative principals.
import type { Request, ResponseToolkit } from '@hapi/hapi';
import { parseAclBody, renderAcl, type Acl } from '../../core/acl.ts';
import { cellOf } from '../../core/cell-access.ts';
import type { BoxRecord } from '../../core/cell-content.ts';
import type { RoleRecord } from '../../core/cell-identity.ts';
import { readSmallBody } from '../../core/dav-xml.ts';
import { personiumError } from '../../core/errors.ts';
import type { CellRecord } from '../../core/store.ts';

/** `scheme://host/path/` without the port, to compare cell URLs as Personium does. */
function withoutPort(url: string): string {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.hostname}${parsed.pathname}`;
}

/** The role a principal URL names in this cell: 400 PR400-DV-0004 (role) or PR400-DV-0005 (box) otherwise. */
export function principalResolver(cellUrl: string, roles: readonly RoleRecord[], boxes: readonly BoxRecord[]) {
  return (url: URL): string => {
    const match = /^(.+\/)__role\/([^/]+)\/([^/]+)$/.exec(url.href);
    if (!match || withoutPort(match[1]!) !== withoutPort(cellUrl)) throw personiumError('PR400-DV-0004');
    const boxName = decodeURIComponent(match[2]!);
    const roleName = decodeURIComponent(match[3]!);
    let boxId: string | null = null;
    if (boxName !== '__') {
      const box = boxes.find((candidate) => candidate.Name === boxName);
      if (!box) throw personiumError('PR400-DV-0005', `${match[1]}__role/${match[2]}/`);
      boxId = box._id;
    }
    const role = roles.find((candidate) => candidate.Name === roleName && candidate.boxId === boxId);
    if (!role) throw personiumError('PR400-DV-0004');
    return role._id;
  };
}

/** A principal href relative to the role base of `boxName` (`__` for the cell's own). */
export function relativeHref(roles: readonly RoleRecord[], boxes: readonly BoxRecord[], boxName: string) {
  return (roleId: string): string | undefined => {
    const role = roles.find((candidate) => candidate._id === roleId);
    if (!role) return undefined;
    const roleBox = role.boxId === null ? '__' : boxes.find((box) => box._id === role.boxId)?.Name;
    if (roleBox === undefined) return undefined;
    return roleBox === boxName ? role.Name : `../${roleBox}/${role.Name}`;
  };
}

export async function setCellAcl(request: Request, h: ResponseToolkit) {
  const cell = cellOf(request);
  const { identity, urls } = request.server.cellar;
  const body = await readSmallBody(request.payload as NodeJS.ReadableStream | undefined);
  const { roles, document } = await identity.records(cell);
  const acl = parseAclBody(body, false, principalResolver(urls.cell(cell.name), roles, document.data.boxes));
  const pmeta = await identity.setCellAcl(cell, acl);
  return h.response().code(200).header('ETag', `W/"${pmeta.v}-${pmeta.u}"`);
}

/** The `D:acl` property of the cell as a PROPFIND shows it. */
export async function cellAclProperty(request: Request, cell: CellRecord, acl?: Acl): Promise<string> {
  const { identity, urls } = request.server.cellar;
  const { roles, document } = await identity.records(cell);
  return renderAcl(acl ?? (await identity.cellAcl(cell)), `${urls.cell(cell.name)}__role/__/`, relativeHref(roles, document.data.boxes, '__'));
}
