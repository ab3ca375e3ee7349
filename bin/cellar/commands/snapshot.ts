// `cellar snapshot ls|get|put|rm`: the cell's snapshot area (`{CellURL}__snapshot/`), with
// streamed transfers both ways and downloads that resume where a partial local file stops.
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Context } from '../context.ts';
import { ServerError, UsageError } from '../errors.ts';
import { parseSnapshotListing } from '../multistatus.ts';
import { createProgress, formatBytes } from '../progress.ts';
import { saveBody } from '../transfer.ts';

export async function listSnapshots(context: Context, cell: string): Promise<void> {
  const response = await context.client.request('PROPFIND', context.client.snapshotUrl(cell), { headers: { depth: '1' }, expect: [207] });
  const files = parseSnapshotListing(await response.text());
  const width = Math.max(4, ...files.map((file) => String(file.size).length));
  const lines = files.map((file) => `${String(file.size).padStart(width)}  ${file.lastModified ?? ''}  ${file.name}`);
  context.result(files, files.length ? lines.join('\n') : `no files in the snapshot area of ${cell}`);
}

export async function getSnapshot(context: Context, cell: string, file: string, out = file): Promise<void> {
  const url = context.client.snapshotUrl(cell, file);
  const marker = new DownloadMarker(out);
  const local = await localSize(out);
  let resumeFrom = 0;
  const headers: Record<string, string> = {};
  if (local > 0) {
    const remote = await remoteFile(context, url);
    // The ETag the partial copy was started with, when this command started it; else trust it.
    const startedWith = (await marker.read()) ?? remote.etag;
    const sameVersion = startedWith === remote.etag;
    if (local === remote.size && sameVersion) {
      await marker.remove();
      context.result({ file, out, size: local, resumedFrom: local }, `${out} is already complete (${formatBytes(local)})`);
      return;
    }
    if (local < remote.size && startedWith) {
      resumeFrom = local;
      headers.range = `bytes=${local}-`;
      headers['if-range'] = startedWith;
    }
  }
  const response = await context.client.request('GET', url, { headers, expect: [200, 206] });
  const append = response.status === 206;
  if (append && !contentRangeStartsAt(response, resumeFrom)) {
    await response.body?.cancel();
    throw new ServerError(206, undefined, `the unit answered with a range that does not start at byte ${resumeFrom}`);
  }
  const start = append ? resumeFrom : 0;
  const size = expectedSize(response, start);
  await marker.write(response.headers.get('etag'));
  const progress = createProgress(context.progress, { label: `get ${file}`, total: size ?? 0, kind: 'bytes', start });
  let interrupted: string | undefined;
  try {
    await saveBody(response, out, { append, start, onBytes: (done) => progress.update(done) });
  } catch (error) {
    interrupted = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
  } finally {
    progress.stop();
  }
  const saved = await localSize(out);
  if (interrupted !== undefined || (size !== undefined && saved !== size)) {
    const why = interrupted ? ` (${interrupted})` : '';
    throw new ServerError(0, undefined, `the download of ${file} stopped at byte ${saved} of ${size ?? 'unknown'}${why}; run the same command again to resume`);
  }
  await marker.remove();
  const how = append ? `, resumed at byte ${start}` : '';
  context.result({ file, out, size: saved, resumedFrom: start }, `saved ${file} to ${out} (${formatBytes(saved)}${how})`);
}

/**
 * `.{out}.cellar-etag` next to a download while it is incomplete: the ETag of the version being
 * downloaded, so that a resumed download never appends a newer version to an older one's start.
 */
class DownloadMarker {
  readonly file: string;

  constructor(out: string) {
    this.file = path.join(path.dirname(out), `.${path.basename(out)}.cellar-etag`);
  }

  async read(): Promise<string | undefined> {
    const text = await readFile(this.file, 'utf8').catch(() => undefined);
    return text?.trim() || undefined;
  }

  async write(etag: string | null): Promise<void> {
    if (etag) await writeFile(this.file, `${etag}\n`);
    else await this.remove();
  }

  async remove(): Promise<void> {
    await rm(this.file, { force: true });
  }
}

export async function putSnapshot(context: Context, cell: string, file: string, options: { as?: string }): Promise<void> {
  const size = await localSize(file);
  if (size < 0) throw new UsageError(`no such file: ${file}`);
  const name = options.as ?? path.basename(file);
  const progress = createProgress(context.progress, { label: `put ${name}`, total: size, kind: 'bytes' });
  let response: Response;
  try {
    response = await context.client.upload(context.client.snapshotUrl(cell, name), file, {
      headers: { 'content-type': contentTypeFor(name) },
      onBytes: (done) => progress.update(done),
      expect: [201, 204],
    });
  } finally {
    progress.stop();
  }
  const created = response.status === 201;
  const etag = response.headers.get('etag') ?? undefined;
  context.result({ name, size, etag, created }, `${created ? 'uploaded' : 'replaced'} ${name} in the snapshot area of ${cell} (${formatBytes(size)})`);
}

export async function removeSnapshot(context: Context, cell: string, file: string): Promise<void> {
  await context.client.request('DELETE', context.client.snapshotUrl(cell, file), { expect: [204] });
  context.result({ name: file, deleted: true }, `deleted ${file} from the snapshot area of ${cell}`);
}

/** The local file's size, or -1 when there is none. */
async function localSize(file: string): Promise<number> {
  try {
    const stats = await stat(file);
    if (!stats.isFile()) throw new UsageError(`${file} is not a regular file`);
    return stats.size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return -1;
    throw error;
  }
}

async function remoteFile(context: Context, url: string): Promise<{ size: number; etag?: string }> {
  const head = await context.client.request('HEAD', url, { expect: 'any' });
  if (head.status !== 200) {
    // A HEAD answer has no body: ask again with GET, which throws with the unit's code and message.
    const again = await context.client.request('GET', url);
    await again.body?.cancel();
    throw new ServerError(head.status, undefined, `HEAD ${fileNameOf(url)} answered ${head.status}`);
  }
  return { size: Number(head.headers.get('content-length') ?? 0), etag: head.headers.get('etag') ?? undefined };
}

const fileNameOf = (url: string) => decodeURIComponent(url.slice(url.lastIndexOf('/') + 1));

function contentRangeStartsAt(response: Response, start: number): boolean {
  const match = /^bytes (\d+)-/.exec(response.headers.get('content-range') ?? '');
  return match !== null && Number(match[1]) === start;
}

/** The size the local file will have once the body is written, when the unit says it. */
function expectedSize(response: Response, start: number): number | undefined {
  const total = /\/(\d+)$/.exec(response.headers.get('content-range') ?? '');
  if (response.status === 206 && total) return Number(total[1]);
  const length = response.headers.get('content-length');
  return length === null ? undefined : start + Number(length);
}

function contentTypeFor(name: string): string {
  if (name.endsWith('.zip')) return 'application/zip';
  if (name.endsWith('.json') || name.endsWith('.error')) return 'application/json';
  return 'application/octet-stream';
}
