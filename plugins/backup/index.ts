// GET {UnitURL}__backup: the whole unit as one tar stream (the layout is core/backup-layout.ts),
// for the unit master token only. The archive holds the unit's secrets, so it is as sensitive as
// the data directory; the answer says so. Its size is not known in advance: the body is chunked
// and the counts come at the end, in the manifest and in trailers.
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Plugin, Request, ResponseToolkit } from '@hapi/hapi';
import { credentialsOf } from '../../core/auth.ts';
import { backupFormat, backupFormatVersion } from '../../core/backup-layout.ts';
import { commonHeaders, corsHeaders } from '../../core/conventions.ts';
import { personiumError } from '../../core/errors.ts';
import { HashThread } from '../../core/hash-thread.ts';
import { KeptThreads, keptThreadsMs } from '../../core/kept-threads.ts';
import { methodNotAllowed, optionsRoute } from '../../core/routes.ts';
import { servicesPluginName } from '../../core/services.ts';
import { cellarVersion } from '../../core/version.ts';
import { TarOut } from './tar-out.ts';
import { BackupStoppedError, UnitBackupReader } from './unit-backup.ts';

const route = '/__backup';
const allow = 'OPTIONS, GET';
export const sensitivityNotice = 'holds the unit secrets (master token, token key): keep it as safe as the data directory';

/** `?snapshots=false` leaves the snapshot areas out; anything but true/false is 400. */
function withSnapshots(request: Request): boolean {
  const value = request.query.snapshots;
  if (value === undefined || value === 'true') return true;
  if (value === 'false') return false;
  throw personiumError('PR400-CM-0002', 'snapshots', 'true|false');
}

function fileStamp(date: Date): string {
  const digits = date.toISOString().replace(/[-:]/g, '');
  return `${digits.slice(0, 8)}_${digits.slice(9, 15)}`;
}

/** The handler, with the hashing threads it takes (one is kept a minute after a backup for the next). */
const backup = (hashThreads: KeptThreads<HashThread>) => async (request: Request, h: ResponseToolkit) => {
  // Only the unit's own credential: a token of any cell, whatever its privileges, is refused.
  if (credentialsOf(request)?.kind !== 'unit-master') throw personiumError('PR403-AU-0002');
  const snapshots = withSnapshots(request);
  const unit = request.server.cellar;
  const created = new Date();
  const headers = {
    'Content-Type': 'application/x-tar',
    'Content-Disposition': `attachment; filename="unit_${fileStamp(created)}.tar"`,
    'Cache-Control': 'no-store',
    'X-Cellar-Backup-Sensitive': sensitivityNotice,
  };
  if (request.method === 'head') {
    const response = h.response('').code(200);
    for (const [name, value] of Object.entries(headers)) response.header(name, value);
    return response;
  }
  const res = request.raw.res;
  res.writeHead(200, { ...commonHeaders(), ...corsHeaders(request, undefined), ...headers, Trailer: 'X-Cellar-Backup-Entries, X-Cellar-Backup-Bytes, X-Cellar-Backup-Error' });
  const controller = new AbortController();
  res.once('close', () => { if (!res.writableFinished) controller.abort(new Error('the client went away')); });
  const spool = path.join(os.tmpdir(), `.cellar-backup-manifest-${randomBytes(8).toString('hex')}`);
  const header = { format: backupFormat, version: backupFormatVersion, generator: `cellar ${cellarVersion}`, unit_url: unit.urls.unit(), created: created.toISOString(), snapshots } as const;
  const hasher = hashThreads.take();
  const out = new TarOut(res, spool, header, hasher, controller.signal);
  const run = async () => {
    try {
      await new UnitBackupReader(unit, out, controller.signal).write({ snapshots });
      const trailer = await out.finish();
      res.addTrailers({ 'X-Cellar-Backup-Entries': String(trailer.entries), 'X-Cellar-Backup-Bytes': String(trailer.bytes) });
      res.end();
      request.logger.info({ entries: trailer.entries, bytes: trailer.bytes, tarBytes: out.tarBytes }, 'unit backup sent');
    } catch (error) {
      // The answer is cut short: without its manifest no client takes it for a whole backup. When
      // the unit stopped it, the answer ends with the reason instead of a broken connection.
      out.abort(error as Error);
      if (error instanceof BackupStoppedError && !res.destroyed) {
        res.addTrailers({ 'X-Cellar-Backup-Error': error.message });
        res.end();
      } else res.destroy();
      request.logger.warn({ err: error }, 'unit backup stopped');
    } finally {
      await rm(spool, { force: true }).catch(() => {});
      // The ring's bytes are the socket's until its writes are done; a cut backup's thread is closed.
      if (!res.writableFinished && !res.destroyed) await new Promise((resolve) => res.once('close', resolve));
      await hashThreads.give(hasher);
    }
  };
  void run();
  return h.abandon;
};

export const backupPlugin: Plugin<void> = {
  name: 'cellar-backup',
  version: cellarVersion,
  dependencies: [servicesPluginName],
  register(server) {
    const hashThreads = new KeptThreads(() => new HashThread({ held: true }), keptThreadsMs);
    server.ext('onPostStop', () => hashThreads.close());
    server.route([
      { method: 'GET', path: route, handler: backup(hashThreads) },
      optionsRoute(route, allow),
      { method: '*', path: route, handler: methodNotAllowed(allow) },
    ]);
  },
};
