// Where a cell's content lives on disk and how it is laid out. The layout is Personium's, so an
// export copies it and an import rebuilds it without translation:
//
//   {dataDir}/cells/{cellId}/{contentId}/odata.json   boxes + entity lines Cellar does not model
//   {dataDir}/cells/{cellId}/{contentId}/dav/.pmeta   the cell's own metadata (ACL, properties)
//   {dataDir}/cells/{cellId}/{contentId}/dav/__/      the main box
//   {dataDir}/cells/{cellId}/{contentId}/dav/{boxId}/ one folder per box
//
// Inside a box every resource is a folder holding `.pmeta` (JSON) and, for files, `content`.
// The snapshot area is elsewhere ({dataDir}/snapshots/{cellId}/), so it is never exported.
import { randomUUID } from 'node:crypto';
import { access, mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { Low } from 'lowdb';
import { confine } from './confine.ts';
import { DurableJsonFile, writeFileDurably } from './json-file.ts';
import { newContentId, type CellRecord } from './store.ts';

export const mainBoxName = '__';
const davFolder = 'dav';
const odataFile = 'odata.json';
const pmetaFile = '.pmeta';

/** Personium's `.pmeta`: i id, t type, a ACL, d dead properties, p/u published/updated (ms), ct, cl, v version. */
export interface Pmeta {
  i: string;
  t: 'Cell' | 'col.box' | 'col.webdav' | 'dav.file';
  a: unknown;
  d: Record<string, unknown>;
  p: number;
  u: number;
  v: number;
  ct?: string;
  cl?: number;
  et?: 'NONE';
  [extra: string]: unknown;
}

export interface BoxRecord {
  _id: string;
  Name: string;
  Schema: string | null;
  __published: number;
  __updated: number;
}

export interface ODataDocument {
  boxes: BoxRecord[];
  /** The cell's own record from the last import's 00_cell.json (`_source` minus what Cellar sets). */
  cellSource?: Record<string, unknown>;
  /** Lines of `.pjson` files Cellar does not model, kept verbatim for the next export: file → lines. */
  preserved: Record<string, string[]>;
}

export function newId(): string {
  return randomUUID().replace(/-/g, '');
}

export function newPmeta(type: Pmeta['t'], extra: Partial<Pmeta> = {}): Pmeta {
  const now = Date.now();
  return { i: newId(), t: type, a: null, d: {}, p: now, u: now, v: 1, ...extra };
}

export async function writePmeta(folder: string, pmeta: Pmeta): Promise<void> {
  await writeFileDurably(path.join(folder, pmetaFile), JSON.stringify(pmeta));
}

async function writePmetaUnlessPresent(folder: string, type: Pmeta['t'], extra: Partial<Pmeta> = {}): Promise<void> {
  const present = await access(path.join(folder, pmetaFile)).then(() => true, () => false);
  if (!present) await writePmeta(folder, newPmeta(type, extra));
}

/** A content folder being built (by an import) beside the live one. */
export interface StagedContent {
  contentId: string;
  dir: string;
  /** Its `dav/` folder: the cell's `.pmeta` and one folder per box. */
  davRoot: string;
}

export class CellContents {
  readonly #documents = new Map<string, Low<ODataDocument>>();

  constructor(readonly dataDir: string) {}

  cellDir(cellId: string): string {
    return confine(this.dataDir, 'cells', cellId);
  }

  contentDir(cell: Pick<CellRecord, 'id' | 'contentId'>): string {
    return confine(this.cellDir(cell.id), cell.contentId);
  }

  davRoot(cell: Pick<CellRecord, 'id' | 'contentId'>): string {
    return path.join(this.contentDir(cell), davFolder);
  }

  boxDir(cell: Pick<CellRecord, 'id' | 'contentId'>, boxId: string): string {
    return confine(this.davRoot(cell), boxId);
  }

  snapshotDir(cellId: string): string {
    return confine(this.dataDir, 'snapshots', cellId);
  }

  /** Lays out an empty cell (cell `.pmeta`, main box, no boxes) in `dir`. */
  async createEmptyContent(dir: string): Promise<void> {
    await mkdir(path.join(dir, davFolder, mainBoxName), { recursive: true });
    await this.#completeLayout(dir, { boxes: [], preserved: {} });
  }

  async createCell(cell: CellRecord): Promise<void> {
    await this.createEmptyContent(this.contentDir(cell));
    await mkdir(this.snapshotDir(cell.id), { recursive: true });
  }

  /** A new content folder for the cell that nobody sees until the registry points at it. */
  async stage(cellId: string): Promise<StagedContent> {
    const contentId = newContentId();
    const dir = confine(this.cellDir(cellId), contentId);
    const davRoot = path.join(dir, davFolder);
    await mkdir(davRoot, { recursive: true });
    return { contentId, dir, davRoot };
  }

  /**
   * Ends a staged content's layout: every box of `document` and the main box get a `.pmeta` when
   * the snapshot had none, the cell its own, and `odata.json` is written last.
   */
  async completeStaged(staged: StagedContent, document: ODataDocument): Promise<void> {
    await this.#completeLayout(staged.dir, document);
  }

  async discardStaged(staged: StagedContent): Promise<void> {
    await rm(staged.dir, { recursive: true, force: true });
  }

  async #completeLayout(dir: string, document: ODataDocument): Promise<void> {
    const davRoot = path.join(dir, davFolder);
    await writePmetaUnlessPresent(davRoot, 'Cell');
    for (const box of [mainBoxName, ...document.boxes.map((record) => record._id)]) {
      const boxDir = path.join(davRoot, box);
      await mkdir(boxDir, { recursive: true });
      await writePmetaUnlessPresent(boxDir, 'col.box', box === mainBoxName ? {} : { i: box });
    }
    await writeFileDurably(path.join(dir, odataFile), JSON.stringify(document));
  }

  /** The OData document of the cell's live content, read once and kept. */
  async odata(cell: Pick<CellRecord, 'id' | 'contentId'>): Promise<Low<ODataDocument>> {
    const dir = this.contentDir(cell);
    let document = this.#documents.get(dir);
    if (!document) {
      document = new Low<ODataDocument>(new DurableJsonFile<ODataDocument>(path.join(dir, odataFile)), { boxes: [], preserved: {} });
      await document.read();
      this.#documents.set(dir, document);
    }
    return document;
  }

  forget(dir: string): void {
    this.#documents.delete(dir);
  }

  /** Removes every content folder of the cell but the live one (left over by an interrupted import). */
  async removeStaleContent(cell: CellRecord): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.cellDir(cell.id));
    } catch {
      return [];
    }
    const stale = names.filter((name) => name !== cell.contentId);
    for (const name of stale) {
      await rm(confine(this.cellDir(cell.id), name), { recursive: true, force: true });
      this.forget(confine(this.cellDir(cell.id), name));
    }
    return stale;
  }

  /** True when the cell holds nothing but its empty main box. */
  async isEmpty(cell: CellRecord): Promise<boolean> {
    const document = await this.odata(cell);
    if (document.data.boxes.length > 0) return false;
    const mainBox = await readdir(path.join(this.davRoot(cell), mainBoxName), { withFileTypes: true });
    return !mainBox.some((entry) => entry.isDirectory());
  }

  async removeCell(cellId: string): Promise<void> {
    for (const dir of [...this.#documents.keys()]) if (dir.startsWith(this.cellDir(cellId) + path.sep)) this.forget(dir);
    await rm(this.cellDir(cellId), { recursive: true, force: true });
    await rm(this.snapshotDir(cellId), { recursive: true, force: true });
  }
}
