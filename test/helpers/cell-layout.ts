// Builds a cell's content directly in Personium's on-disk layout (core/cell-content.ts): every
// resource a folder with `.pmeta`, files with `content`. Tests of export use it for exact control
// over bytes, names and dead properties, and for files too big to send through WebDAV quickly.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { mainBoxName, newPmeta, writePmeta, type Pmeta } from '../../core/cell-content.ts';
import type { TestUnit } from './unit.ts';

export interface ResourceOptions {
  contentType?: string;
  /** Dead properties, as `.pmeta` keeps them. */
  dead?: Record<string, unknown>;
}

export class CellLayout {
  constructor(private readonly unit: TestUnit, readonly cellName: string) {}

  get #cell() {
    const cell = this.unit.server.cellar.store.findCell(this.cellName);
    if (!cell) throw new Error(`no cell ${this.cellName}`);
    return cell;
  }

  /** The folder of the cell's WebDAV root (`dav/`). */
  get davRoot(): string {
    return this.unit.server.cellar.contents.davRoot(this.#cell);
  }

  /** The folder of a box, `__` being the main box. */
  async boxDir(box: string): Promise<string> {
    const { contents } = this.unit.server.cellar;
    if (box === mainBoxName) return contents.boxDir(this.#cell, mainBoxName);
    const record = (await contents.odata(this.#cell)).data.boxes.find((candidate) => candidate.Name === box);
    if (!record) throw new Error(`no box ${box}`);
    return contents.boxDir(this.#cell, record._id);
  }

  /** `box/a/b` → the resource folder on disk. */
  async resourceDir(resource: string): Promise<string> {
    const [box, ...segments] = resource.split('/');
    return path.join(await this.boxDir(box!), ...segments);
  }

  async collection(resource: string, options: ResourceOptions = {}): Promise<Pmeta> {
    const dir = await this.resourceDir(resource);
    await mkdir(dir, { recursive: true });
    const pmeta = newPmeta('col.webdav', { d: options.dead ?? {} });
    await writePmeta(dir, pmeta);
    return pmeta;
  }

  async file(resource: string, content: Buffer | string, options: ResourceOptions = {}): Promise<Pmeta> {
    const dir = await this.resourceDir(resource);
    await mkdir(dir, { recursive: true });
    const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    await writeFile(path.join(dir, 'content'), bytes);
    const pmeta = newPmeta('dav.file', { ct: options.contentType ?? 'application/octet-stream', cl: bytes.length, d: options.dead ?? {} });
    await writePmeta(dir, pmeta);
    return pmeta;
  }
}
