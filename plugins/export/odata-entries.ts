// The 10_odata/ part of a snapshot: the cell's own record and the 16 `.pjson` files, as Personium
// writes them (one Elasticsearch hit per line, each line ending in '\n'). Boxes are what Cellar
// models; every line of a type it does not model comes back verbatim from `odata.preserved`.
import type { BoxRecord, ODataDocument } from '../../core/cell-content.ts';
import { pjsonFiles, type PjsonLine } from '../../core/export-format.ts';
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
    const modelled = file === '10_box.pjson' ? document.boxes.map((box) => JSON.stringify(boxLine(cell, box))) : [];
    const lines = [...modelled, ...(document.preserved[file] ?? [])];
    return { file, text: lines.map((line) => `${line}\n`).join('') };
  });
}
