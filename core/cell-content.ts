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
import { access, mkdir, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Low } from 'lowdb';
import type { IdentityRecords } from './cell-identity.ts';
import { confine } from './confine.ts';
import { removeTree } from './remove-tree.ts';
import { markTopFolder } from './top-folder.ts';
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

/** Boxes, and the cell's accounts, roles and their links (cell-identity.ts). */
export interface ODataDocument extends IdentityRecords {
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

  /**
   * A new content folder for the cell that nobody sees until the registry points at it, marked
   * as an import's staging area before anything goes in, so a crash leaves provable garbage.
   */
  async stage(cellId: string): Promise<StagedContent> {
    const contentId = newContentId();
    // Marked at each import rather than at creation: cells made before the mark existed get it too.
    await markTopFolder(this.cellDir(cellId));
    const dir = confine(this.cellDir(cellId), contentId);
    await markImportStaging(dir);
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
    await discard(staged.dir);
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

  /** True when the cell holds nothing but its empty main box. */
  async isEmpty(cell: CellRecord): Promise<boolean> {
    const document = await this.odata(cell);
    if (document.data.boxes.length > 0) return false;
    const mainBox = await readdir(path.join(this.davRoot(cell), mainBoxName), { withFileTypes: true });
    return !mainBox.some((entry) => entry.isDirectory());
  }

  /** Removes the cell's folders: the snapshot area first, so a cell folder left by a crash still holds its marker. */
  async removeCell(cellId: string): Promise<void> {
    for (const dir of [...this.#documents.keys()]) if (dir.startsWith(this.cellDir(cellId) + path.sep)) this.forget(dir);
    await discard(this.snapshotDir(cellId));
    await discard(this.cellDir(cellId));
  }
}

/** Marks that lie in a folder and say what it is: folders without one are never removed at start-up. */
export const markers = {
  /** In a cell folder while the cell is being created and not yet listed. */
  creating: '.creating',
  /** In a cell folder while the cell is being unlisted. */
  deleting: '.deleting',
  /** In a content folder an import is extracting into; removed once it is the live content. */
  importStaging: '.import-staging',
} as const;

/** Folders renamed this way are being removed: the start-up repair finishes the job. */
export const discardedPrefix = '.deleted-';
/** A cell folder being built before it is renamed into place; one left by a crash is garbage. */
export const buildingPrefix = '.creating-';

export async function placeMarker(dir: string, marker: string): Promise<void> {
  await writeFileDurably(path.join(dir, marker), '');
}

export async function hasMarker(dir: string, marker: string): Promise<boolean> {
  return stat(path.join(dir, marker)).then((stats) => stats.isFile(), () => false);
}

export async function clearMarker(dir: string, marker: string): Promise<void> {
  await unlink(path.join(dir, marker)).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}

/** Marks a new content folder as an import's staging area, before anything is extracted into it. */
export async function markImportStaging(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await placeMarker(dir, markers.importStaging);
}

/** The staging area became the live content. */
export async function clearImportStaging(dir: string): Promise<void> {
  await clearMarker(dir, markers.importStaging);
}

/**
 * Removes a folder so that a crash half-way never leaves a part of it that looks like anything
 * else: it is renamed to a `.deleted-` sibling first, then removed.
 */
export async function discard(dir: string): Promise<void> {
  const aside = path.join(path.dirname(dir), `${discardedPrefix}${path.basename(dir)}-${randomUUID().slice(0, 8)}`);
  try {
    await rename(dir, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  await removeTree(aside);
}
