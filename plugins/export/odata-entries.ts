// The 10_odata/ part of a snapshot: the cell's own record and the 16 `.pjson` files, as Personium
// writes them (one Elasticsearch hit per line, each line ending in '\n'). Boxes, accounts, roles
// and their links are what Cellar models; every other line comes back verbatim from `odata.preserved`.
import type { BoxRecord, ODataDocument } from '../../core/cell-content.ts';
import { pjsonFiles, type PjsonLine } from '../../core/export-format.ts';
import { accountLine, roleLine, roleLinkLine } from '../../core/identity-lines.ts';
import type { CellRecord } from '../../core/store.ts';

export function cellLine(cell: CellRecord, document: ODataDocument): PjsonLine {
  const source = document.cellSource ?? {};
  const statics = typeof source.s === 'object' && source.s !== null ? (source.s as Record<string, unknown>) : {};
  return {
    _type: 'Cell',
    _id: cell.id,
    _source: { ...source, s: { ...statics, Name: cell.name }, p: cell.createdAt, u: cell.updatedAt },
  };
}

export function boxLine(cell: CellRecord, box: BoxRecord): PjsonLine {
  return {
    _type: 'Box',
    _id: box._id,
    _source: { c: cell.id, s: { Name: box.Name, Schema: box.Schema }, p: box.__published, u: box.__updated },
  };
}

/** Each `.pjson` file's name and text, all 16 of them, empty ones included. */
export function pjsonContents(cell: CellRecord, document: ODataDocument): Array<{ file: string; text: string }> {
  return pjsonFiles.map(([file]) => {
    const lines = [...modelledLines(cell, document, file).map((line) => JSON.stringify(line)), ...(document.preserved[file] ?? [])];
    return { file, text: lines.map((line) => `${line}\n`).join('') };
  });
}

function modelledLines(cell: CellRecord, document: ODataDocument, file: string): PjsonLine[] {
  switch (file) {
    case '10_box.pjson': return document.boxes.map((box) => boxLine(cell, box));
    case '11_account.pjson': return (document.accounts ?? []).map((account) => accountLine(cell.id, account));
    case '20_role.pjson': return (document.roles ?? []).map((role) => roleLine(cell.id, role));
    case '80_link.pjson': return (document.links ?? []).map((link) => roleLinkLine(cell.id, link));
    default: return [];
  }
}
