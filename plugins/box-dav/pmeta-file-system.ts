// A webdav-server file system that stores a box the way Personium does (core/cell-content.ts):
// every resource is a folder holding `.pmeta` and, for files, `content`. Dead properties live in
// `.pmeta`, so they survive a restart and travel in an export; PUT writes a temporary file and
// renames it over `content` only when the body arrived whole, so an aborted upload changes nothing.
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { cp, mkdir, open, readFile, rename, rm, stat, unlink, readdir } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { v2 as webdav } from 'webdav-server';
import { confine } from '../../core/confine.ts';
import { newId, newPmeta, type Pmeta } from '../../core/cell-content.ts';
import { writeFileDurably } from '../../core/json-file.ts';
import { KeyedQueue } from '../../core/keyed-queue.ts';

type Path = webdav.Path;
type Callback<T> = (error: Error, value?: T) => void;
const noError = null as unknown as Error;

const { Errors, ResourceType } = webdav;
const contentFile = 'content';
const pmetaFile = '.pmeta';

/** webdav-server's XML values carry methods; `.pmeta` keeps their data only. */
function plainCopy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** Names that would collide with the layout's own files. */
export function isReservedResourceName(name: string): boolean {
  return name === pmetaFile || name.startsWith('.content.tmp-');
}

function fail<T>(callback: Callback<T>, error: unknown): void {
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return callback(Errors.ResourceNotFound);
  if (code === 'EEXIST') return callback(Errors.ResourceAlreadyExists);
  callback(error instanceof Error ? error : new Error(String(error)));
}

/** Runs `work` and hands its result to a webdav-server callback. */
function settle<T>(work: Promise<T>, callback: Callback<T>): void {
  work.then((value) => callback(noError, value), (error: unknown) => fail(callback, error));
}

class PmetaPropertyManager implements webdav.IPropertyManager {
  constructor(private readonly fs: PmetaFileSystem, private readonly dir: string) {}

  setProperty(name: string, value: webdav.ResourcePropertyValue, attributes: webdav.PropertyAttributes, callback: webdav.SimpleCallback): void {
    settle(this.fs.updatePmeta(this.dir, (pmeta) => { pmeta.d[name] = plainCopy({ value, attributes }); }), (error) => callback(error));
  }

  getProperty(name: string, callback: webdav.Return2Callback<webdav.ResourcePropertyValue, webdav.PropertyAttributes>): void {
    this.fs.readPmeta(this.dir).then((pmeta) => {
      const property = pmeta.d[name] as { value: webdav.ResourcePropertyValue; attributes: webdav.PropertyAttributes } | undefined;
      if (!property) return callback(Errors.PropertyNotFound, undefined as unknown as webdav.ResourcePropertyValue, undefined as unknown as webdav.PropertyAttributes);
      callback(noError, property.value, property.attributes);
    }, (error: unknown) => callback(error as Error, undefined as unknown as webdav.ResourcePropertyValue, undefined as unknown as webdav.PropertyAttributes));
  }

  removeProperty(name: string, callback: webdav.SimpleCallback): void {
    settle(this.fs.updatePmeta(this.dir, (pmeta) => { delete pmeta.d[name]; }), (error) => callback(error));
  }

  getProperties(callback: webdav.ReturnCallback<webdav.PropertyBag>): void {
    this.fs.readPmeta(this.dir).then(
      (pmeta) => callback(noError, plainCopy(pmeta.d) as webdav.PropertyBag),
      (error: unknown) => callback(error as Error, undefined as unknown as webdav.PropertyBag),
    );
  }
}

class NoSerializer implements webdav.FileSystemSerializer {
  uid(): string { return 'CellarPmetaFileSystem-1'; }
  serialize(_fs: webdav.FileSystem, callback: webdav.ReturnCallback<unknown>): void { callback(noError, {}); }
  unserialize(_data: unknown, callback: webdav.ReturnCallback<webdav.FileSystem>): void { callback(new Error('not serializable'), undefined as unknown as webdav.FileSystem); }
}

/**
 * How a resource folder is removed. A request the client gave up on can still be finishing inside
 * it (webdav-server goes on creating a PUT's file after the client left, as litmus's expect100
 * test does), so a file may appear while the folder is emptied: rm then fails with ENOTEMPTY,
 * and is tried again.
 */
const removal = { recursive: true, maxRetries: 5, retryDelay: 20 } as const;

export class PmetaFileSystem extends webdav.FileSystem {
  readonly #cache = new Map<string, Pmeta>();
  /** Deletes and moves so far: a cache entry read before one of them is not stored after it. */
  #forgets = 0;
  /** One `.pmeta` read-modify-write at a time per resource. */
  readonly #queue = new KeyedQueue();
  readonly #locks = new Map<string, webdav.LocalLockManager>();

  constructor(readonly root: string) {
    super(new NoSerializer());
  }

  realPath(resource: Path | string): string {
    const segments = resource.toString().split('/').filter(Boolean);
    return confine(this.root, ...segments);
  }

  async readPmeta(dir: string): Promise<Pmeta> {
    const cached = this.#cache.get(dir);
    if (cached) return cached;
    const forgets = this.#forgets;
    const pmeta = JSON.parse(await readFile(path.join(dir, pmetaFile), 'utf8')) as Pmeta;
    pmeta.d ??= {};
    if (this.#cache.size > 20_000) this.#cache.clear();
    // A read that a delete or move overtook would put back what was just removed.
    if (forgets === this.#forgets) this.#cache.set(dir, pmeta);
    return pmeta;
  }

  async writePmeta(dir: string, pmeta: Pmeta): Promise<void> {
    this.#cache.delete(dir);
    const forgets = this.#forgets;
    await writeFileDurably(path.join(dir, pmetaFile), JSON.stringify(pmeta));
    if (forgets === this.#forgets) this.#cache.set(dir, pmeta);
  }

  updatePmeta(dir: string, change: (pmeta: Pmeta) => void): Promise<void> {
    return this.#queue.run(dir, async () => {
      const pmeta = plainCopy(await this.readPmeta(dir));
      change(pmeta);
      pmeta.u = Date.now();
      pmeta.v += 1;
      await this.writePmeta(dir, pmeta);
    });
  }

  #forgetUnder(dir: string): void {
    this.#forgets += 1;
    for (const key of this.#cache.keys()) if (key === dir || key.startsWith(dir + path.sep)) this.#cache.delete(key);
    for (const key of this.#locks.keys()) if (this.realPath(key) === dir || this.realPath(key).startsWith(dir + path.sep)) this.#locks.delete(key);
  }

  protected _fastExistCheck(_ctx: webdav.RequestContext, resource: Path, callback: (exists: boolean) => void): void {
    this.readPmeta(this.realPath(resource)).then(() => callback(true), () => callback(false));
  }

  protected _create(resource: Path, ctx: webdav.CreateInfo, callback: webdav.SimpleCallback): void {
    const dir = this.realPath(resource);
    const isDirectory = ctx.type.isDirectory;
    settle((async () => {
      await mkdir(dir);
      if (!isDirectory) await writeFileDurably(path.join(dir, contentFile), '');
      await this.writePmeta(dir, newPmeta(isDirectory ? 'col.webdav' : 'dav.file', isDirectory ? {} : { cl: 0, ct: contentTypeFor(resource.fileName(), ctx.context) }));
    })(), (error) => callback(error));
  }

  protected _delete(resource: Path, _ctx: webdav.DeleteInfo, callback: webdav.SimpleCallback): void {
    const dir = this.realPath(resource);
    settle((async () => {
      await stat(path.join(dir, pmetaFile));
      await rm(dir, removal);
      this.#forgetUnder(dir);
    })(), (error) => callback(error));
  }

  protected _openWriteStream(resource: Path, ctx: webdav.OpenWriteStreamInfo, callback: webdav.ReturnCallback<Writable>): void {
    const dir = this.realPath(resource);
    const temp = path.join(dir, `.content.tmp-${randomBytes(6).toString('hex')}`);
    const request = (ctx.context as webdav.HTTPRequestContext).request;
    const contentType = contentTypeFor(resource.fileName(), ctx.context);
    this.readPmeta(dir).then(() => {
      const file = createWriteStream(temp, { flags: 'wx' });
      let finished = false;
      const discard = () => {
        if (finished) return;
        finished = true;
        file.destroy();
        void unlink(temp).catch(() => {});
      };
      // webdav-server pipes the request into this stream and never ends it on an abort. A
      // request that ended is whole even without `complete` (server.inject's fake request).
      request?.once('close', () => {
        if (!request.complete && !request.readableEnded) discard();
      });
      const sink = new Writable({
        write: (chunk: Buffer, _encoding, done) => {
          if (!file.write(chunk)) file.once('drain', () => done());
          else done();
        },
        final: (done) => {
          file.end(() => {
            if (finished) return done(new Error('upload aborted'));
            finished = true;
            this.#commitContent(dir, temp, contentType).then(() => done(), (error: Error) => done(error));
          });
        },
        destroy: (error, done) => {
          discard();
          done(error);
        },
      });
      file.once('error', (error) => sink.destroy(error));
      callback(noError, sink);
    }, (error: unknown) => fail(callback, error));
  }

  async #commitContent(dir: string, temp: string, contentType: string): Promise<void> {
    const handle = await open(temp, 'r+');
    const size = (await handle.stat()).size;
    await handle.sync();
    await handle.close();
    await this.#queue.run(dir, async () => {
      await rename(temp, path.join(dir, contentFile));
      const pmeta = plainCopy(await this.readPmeta(dir));
      pmeta.cl = size;
      pmeta.ct = contentType;
      pmeta.u = Date.now();
      pmeta.v += 1;
      await this.writePmeta(dir, pmeta);
    });
  }

  protected _openReadStream(resource: Path, _ctx: webdav.OpenReadStreamInfo, callback: webdav.ReturnCallback<Readable>): void {
    const file = path.join(this.realPath(resource), contentFile);
    open(file, 'r').then(
      (handle) => callback(noError, handle.createReadStream()),
      (error: unknown) => fail(callback, error),
    );
  }

  protected _move(from: Path, to: Path, ctx: webdav.MoveInfo, callback: webdav.ReturnCallback<boolean>): void {
    const source = this.realPath(from);
    const target = this.realPath(to);
    settle((async () => {
      const existed = await this.#clearTarget(target, ctx.overwrite);
      this.#forgetUnder(source);
      await rename(source, target);
      await this.updatePmeta(target, () => {});
      return existed;
    })(), callback);
  }

  protected _copy(from: Path, to: Path, ctx: webdav.CopyInfo, callback: webdav.ReturnCallback<boolean>): void {
    const source = this.realPath(from);
    const target = this.realPath(to);
    settle((async () => {
      const existed = await this.#clearTarget(target, ctx.overwrite);
      await cp(source, target, { recursive: true, errorOnExist: true, filter: (entry) => !path.basename(entry).startsWith('.content.tmp-') });
      if (ctx.depth === 0) {
        for (const entry of await readdir(target, { withFileTypes: true })) if (entry.isDirectory()) await rm(path.join(target, entry.name), { recursive: true });
      }
      await this.#renewIds(target);
      return existed;
    })(), callback);
  }

  /**
   * Makes room for a MOVE or COPY target: refused when it exists without `Overwrite: T`, or when
   * its parent collection is missing; an existing target is removed. Returns whether it existed.
   */
  async #clearTarget(target: string, overwrite: boolean): Promise<boolean> {
    const existed = await stat(path.join(target, pmetaFile)).then(() => true, () => false);
    if (existed && !overwrite) throw Object.assign(new Error('exists'), { code: 'EEXIST' });
    await stat(path.join(path.dirname(target), pmetaFile));
    if (existed) await rm(target, removal);
    this.#forgetUnder(target);
    return existed;
  }

  /** A copy is a new resource: new ids and timestamps, the same dead properties and content. */
  async #renewIds(dir: string): Promise<void> {
    const now = Date.now();
    const pmeta = JSON.parse(await readFile(path.join(dir, pmetaFile), 'utf8')) as Pmeta;
    await this.writePmeta(dir, { ...pmeta, i: newId(), p: now, u: now, v: 1 });
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) await this.#renewIds(path.join(dir, entry.name));
    }
  }

  protected _size(resource: Path, _ctx: webdav.SizeInfo, callback: webdav.ReturnCallback<number>): void {
    settle(this.readPmeta(this.realPath(resource)).then((pmeta) => {
      if (pmeta.t !== 'dav.file') throw Errors.NoSizeForAFolder;
      return pmeta.cl ?? 0;
    }), callback);
  }

  protected _mimeType(resource: Path, _ctx: webdav.MimeTypeInfo, callback: webdav.ReturnCallback<string>): void {
    settle(this.readPmeta(this.realPath(resource)).then((pmeta) => {
      if (pmeta.t !== 'dav.file') throw Errors.NoMimeTypeForAFolder;
      return pmeta.ct ?? 'application/octet-stream';
    }), callback);
  }

  protected _etag(resource: Path, _ctx: webdav.ETagInfo, callback: webdav.ReturnCallback<string>): void {
    settle(this.readPmeta(this.realPath(resource)).then((pmeta) => `${pmeta.v}-${pmeta.u}`), callback);
  }

  protected _lockManager(resource: Path, _ctx: webdav.LockManagerInfo, callback: webdav.ReturnCallback<webdav.ILockManager>): void {
    const key = resource.toString();
    let manager = this.#locks.get(key);
    if (!manager) {
      manager = new webdav.LocalLockManager();
      this.#locks.set(key, manager);
    }
    callback(noError, manager);
  }

  protected _propertyManager(resource: Path, _ctx: webdav.PropertyManagerInfo, callback: webdav.ReturnCallback<webdav.IPropertyManager>): void {
    const dir = this.realPath(resource);
    this.readPmeta(dir).then(() => callback(noError, new PmetaPropertyManager(this, dir)), (error: unknown) => fail(callback, error));
  }

  protected _readDir(resource: Path, _ctx: webdav.ReadDirInfo, callback: webdav.ReturnCallback<string[] | Path[]>): void {
    settle(readdir(this.realPath(resource), { withFileTypes: true }).then((entries) => entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name)), callback);
  }

  protected _creationDate(resource: Path, _ctx: webdav.CreationDateInfo, callback: webdav.ReturnCallback<number>): void {
    settle(this.readPmeta(this.realPath(resource)).then((pmeta) => pmeta.p), callback);
  }

  protected _lastModifiedDate(resource: Path, _ctx: webdav.LastModifiedDateInfo, callback: webdav.ReturnCallback<number>): void {
    settle(this.readPmeta(this.realPath(resource)).then((pmeta) => pmeta.u), callback);
  }

  protected _type(resource: Path, _ctx: webdav.TypeInfo, callback: webdav.ReturnCallback<webdav.ResourceType>): void {
    settle(this.readPmeta(this.realPath(resource)).then((pmeta) => (pmeta.t === 'dav.file' ? ResourceType.File : ResourceType.Directory)), callback);
  }
}

function contentTypeFor(name: string, context: webdav.RequestContext): string {
  const header = (context as webdav.HTTPRequestContext).request?.headers?.['content-type'];
  if (typeof header === 'string' && header.trim()) return header.trim();
  return guessType(name);
}

function guessType(name: string): string {
  const extension = path.extname(name).toLowerCase();
  const known: Record<string, string> = {
    '.txt': 'text/plain', '.html': 'text/html', '.htm': 'text/html', '.json': 'application/json', '.xml': 'application/xml',
    '.js': 'text/javascript', '.css': 'text/css', '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg',
    '.gif': 'image/gif', '.svg': 'image/svg+xml', '.pdf': 'application/pdf', '.zip': 'application/zip',
  };
  return known[extension] ?? 'application/octet-stream';
}
