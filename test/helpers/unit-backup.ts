// Unit backups in tests: fill a unit with cells of every kind of content, read a data directory as
// a map of names to digests, read a backup's manifest, and build tar archives by hand (hostile
// ones included) with tar-stream.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import tar from 'tar-stream';
import { manifestName } from '../../core/backup-layout.ts';
import { json, type TestUnit } from './unit.ts';

/** A path with every segment percent-encoded (`#`, `%`, `+`, space, non-ASCII). */
export function encodePath(url: string): string {
  return url.split('/').map(encodeURIComponent).join('/');
}

/** Box WebDAV through server.inject with the unit's master token. */
async function dav(unit: TestUnit, method: string, url: string, payload?: string | Buffer, headers: Record<string, string> = {}) {
  const res = await unit.as({ method, url: encodePath(url), payload, headers });
  if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.payload}`);
  return res;
}

export const sampleFiles: Record<string, Buffer> = {
  'docs/readme.txt': Buffer.from('read me\n'),
  'docs/empty.txt': Buffer.alloc(0),
  'docs/a/b/c/deep.bin': Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 251)),
  'docs/日本語 ファイル.txt': Buffer.from('こんにちは\n'),
  'docs/#%+ sign.txt': Buffer.from('percent, hash and plus\n'),
};

/**
 * cell1: box1 with nested folders, an empty file, non-ASCII names and a dead property, and an
 * exported snapshot; cell2: files in its main box and an uploaded snapshot; cell3: empty.
 */
export async function populate(unit: TestUnit): Promise<void> {
  for (const name of ['cell1', 'cell2', 'cell3']) await unit.createCell(name);
  await unit.createBox('cell1', 'box1');
  for (const folder of ['docs', 'docs/a', 'docs/a/b', 'docs/a/b/c']) await dav(unit, 'MKCOL', `/cell1/box1/${folder}`);
  for (const [name, body] of Object.entries(sampleFiles)) await dav(unit, 'PUT', `/cell1/box1/${name}`, body, { 'content-type': 'text/plain' });
  await dav(unit, 'PROPPATCH', '/cell1/box1/docs/readme.txt',
    '<D:propertyupdate xmlns:D="DAV:" xmlns:z="urn:example"><D:set><D:prop><z:color>red</z:color></D:prop></D:set></D:propertyupdate>',
    { 'content-type': 'application/xml' });
  await dav(unit, 'PUT', '/cell2/__/notes.txt', 'main box notes\n', { 'content-type': 'text/plain' });
  await dav(unit, 'PUT', '/cell2/__snapshot/uploaded.zip', Buffer.from('PK\u0005\u0006 not really a zip'), { 'content-type': 'application/zip' });
  await dav(unit, 'POST', '/cell1/__export', JSON.stringify({ Name: 'snap1' }));
  const deadline = Date.now() + 20_000;
  while (json(await unit.as({ method: 'GET', url: '/cell1/__export' })).status !== 'ready') {
    if (Date.now() > deadline) throw new Error('the export of cell1 did not end');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Every file and folder under the unit's content, secrets and registry: name → SHA-256 (or "dir"). */
export async function treeOf(dataDir: string): Promise<Map<string, string>> {
  const tree = new Map<string, string>();
  const walk = async (dir: string, prefix: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const name = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (!prefix && !['cells', 'snapshots', 'master-token', 'token-key'].includes(entry.name)) continue;
      if (entry.isDirectory()) {
        tree.set(name, 'dir');
        await walk(path.join(dir, entry.name), name);
      } else {
        tree.set(name, createHash('sha256').update(await readFile(path.join(dir, entry.name))).digest('hex'));
      }
    }
  };
  await walk(dataDir, '');
  return tree;
}

/** The manifest of a backup file: its header and its entry lines without their times. */
export async function manifestOf(file: string): Promise<{ header: Record<string, unknown>; entries: string[]; trailer: Record<string, unknown> }> {
  const extract = tar.extract();
  let text = '';
  const reading = (async () => {
    for await (const entry of extract) {
      if (entry.header.name !== manifestName) {
        entry.resume();
        continue;
      }
      for await (const chunk of entry as AsyncIterable<Buffer>) text += chunk.toString('utf8');
    }
  })();
  extract.end(await readFile(file));
  await reading;
  const lines = text.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  const entries = lines.slice(1, -1).map(({ mtime: _mtime, ...rest }) => JSON.stringify(rest));
  return { header: lines[0]!, entries, trailer: lines.at(-1)! };
}

export interface TarEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';
  body?: Buffer | string;
  linkname?: string;
}

/** A tar of `entries` in order, as tar-stream writes it. */
export async function buildTar(entries: TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const collected = (async () => { for await (const chunk of pack as AsyncIterable<Buffer>) chunks.push(chunk); })();
  for (const entry of entries) {
    const type = entry.type ?? (entry.body === undefined ? 'directory' : 'file');
    await new Promise<void>((resolve, reject) => {
      const header = { name: entry.name, type, mtime: new Date(1_700_000_000_000), ...(entry.linkname ? { linkname: entry.linkname } : {}) };
      if (type === 'file') pack.entry(header, Buffer.from(entry.body ?? ''), (error) => (error ? reject(error) : resolve()));
      else pack.entry(header, (error) => (error ? reject(error) : resolve()));
    });
  }
  pack.finalize();
  await collected;
  return Buffer.concat(chunks);
}

/** The manifest lines a correct backup of `entries` has. */
export function manifestFor(entries: TarEntry[]): string {
  const header = { format: 'cellar-unit-backup', version: 1, generator: 'test', unit_url: 'http://unit.test/', created: new Date(0).toISOString(), snapshots: true };
  let bytes = 0;
  const lines = entries.map((entry) => {
    const body = entry.body === undefined ? undefined : Buffer.from(entry.body);
    bytes += body?.length ?? 0;
    const line = body === undefined
      ? { name: entry.name, type: 'directory', size: 0, mtime: 1_700_000_000 }
      : { name: entry.name, type: 'file', size: body.length, sha256: createHash('sha256').update(body).digest('hex'), mtime: 1_700_000_000 };
    return JSON.stringify(line);
  });
  return [JSON.stringify(header), ...lines, JSON.stringify({ entries: entries.length, bytes })].join('\n') + '\n';
}

export const cellId = '0123456789abcdef0123456789abcdef';

/** The smallest sound backup: one cell with an empty main box, its registry, no snapshots. */
export function minimalEntries(): TarEntry[] {
  const content = `cells/${cellId}/content-1`;
  const registry = { version: 1, cells: [{ id: cellId, name: 'cell1', createdAt: 1, updatedAt: 1, status: 'normal', contentId: 'content-1' }] };
  return [
    { name: 'cells' },
    { name: `cells/${cellId}` },
    { name: content },
    { name: `${content}/dav` },
    { name: `${content}/dav/.pmeta`, body: JSON.stringify({ i: 'c', t: 'Cell', a: null, d: {}, p: 1, u: 1, v: 1 }) },
    { name: `${content}/dav/__` },
    { name: `${content}/dav/__/.pmeta`, body: JSON.stringify({ i: 'b', t: 'col.box', a: null, d: {}, p: 1, u: 1, v: 1 }) },
    { name: `${content}/odata.json`, body: JSON.stringify({ boxes: [], preserved: {} }) },
    { name: 'unit.json', body: JSON.stringify(registry) },
  ];
}

/** `entries` followed by their correct manifest, as a tar. */
export async function backupTar(entries: TarEntry[], manifest = manifestFor(entries)): Promise<Buffer> {
  return buildTar([...entries, { name: manifestName, body: manifest }]);
}
