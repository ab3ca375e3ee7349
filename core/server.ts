// Compose, then start: `createServer(config)` builds the unit (services, conventions, auth and the
// feature plugins) and returns it without listening. bin/server.ts starts it.
import Hapi, { type Server } from '@hapi/hapi';
import hapiPino from 'hapi-pino';
import { pino, type Logger } from 'pino';
import { loadMasterToken, param, masterTokenResolver, registerBearerScheme, type MasterToken } from './auth.ts';
import { cellAccessPlugin } from './cell-access.ts';
import { CellContents } from './cell-content.ts';
import { CellStatusService } from './cell-status.ts';
import { unitUrlFor, type Config } from './config.ts';
import { conventionsPlugin } from './conventions.ts';
import { UnitStore } from './store.ts';
import { JobRunner } from './jobs.ts';
import { DataDirLock } from './data-dir-lock.ts';
import { DiskSpace } from './disk-space.ts';
import { createListener, requestLimitsPlugin } from './listener-limits.ts';
import { repairUnit } from './unit-repair.ts';
import { SnapshotAreas } from '../snapshot-area/storage.ts';
import { healthPlugin } from '../plugins/health/index.ts';
import { cellsPlugin } from '../plugins/cells/index.ts';
import { boxesPlugin } from '../plugins/boxes/index.ts';
import { cellRootPlugin } from '../plugins/cell-root/index.ts';
import { boxDavPlugin } from '../plugins/box-dav/index.ts';
import { importPlugin } from '../plugins/import/index.ts';
import { snapshotAreaPlugin } from '../snapshot-area/routes.ts';
import { snapshotPropfindPlugin } from '../plugins/snapshot-propfind/index.ts';
import { exportPlugin } from '../plugins/export/index.ts';
import { statusPlugin } from '../plugins/status/index.ts';

export interface Unit {
  config: Config;
  logger: Logger;
  store: UnitStore;
  contents: CellContents;
  status: CellStatusService;
  jobs: JobRunner;
  /** Each cell's snapshot area (`{CellURL}__snapshot`). */
  snapshots: SnapshotAreas;
  masterToken: MasterToken;
  /** The unit URL, ending in '/'. */
  unitUrl(): string;
  /** `{UnitURL}{cellName}/` */
  cellUrl(cellName: string): string;
}

declare module '@hapi/hapi' {
  interface ServerApplicationState {
    unit: Unit;
  }
}

export interface CreateServerOptions {
  /** Where logs go; default stdout. Tests pass a sink. */
  logStream?: NodeJS.WritableStream;
}

export async function createServer(config: Config, options: CreateServerOptions = {}): Promise<Server> {
  const logger = pino(
    {
      level: config.logLevel,
      base: { service: 'cellar' },
      // X-Override can carry an Authorization header too.
      redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["x-override"]', 'headers.authorization', 'authorization'], censor: '[redacted]' },
    },
    options.logStream ?? process.stdout,
  );

  const server = Hapi.server({
    host: config.host,
    port: config.port,
    routes: {
      validate: { failAction: (_request, _h, error) => { throw error; } },
      timeout: { server: false },
    },
    router: { isCaseSensitive: true },
    listener: createListener(config.http, config.jobs.concurrency),
  });

  // One server per data directory, from before the registry is read until the server stopped.
  const dataDirLock = await DataDirLock.acquire(config.dataDir);
  server.ext('onPostStop', () => dataDirLock.release());
  const store = new UnitStore(config.dataDir);
  await store.initialize().catch(async (error: unknown) => {
    await dataDirLock.release();
    throw error;
  });
  const masterToken = await loadMasterToken(config.masterToken, config.dataDir);
  const contents = new CellContents(config.dataDir);
  const status = new CellStatusService(store);
  const jobs = new JobRunner(config.jobs.concurrency, logger);
  const snapshots = new SnapshotAreas((cellId) => contents.snapshotDir(cellId));
  const unitUrl = () => unitUrlFor(config, Number(server.info.port));
  const unit: Unit = {
    config, logger, store, contents, status, jobs, snapshots, masterToken, unitUrl,
    cellUrl: (cellName) => `${unitUrl()}${encodeURIComponent(cellName)}/`,
  };
  server.app.unit = unit;

  await server.register({ plugin: hapiPino, options: { instance: logger, logRequestComplete: false, logEvents: ['onPostStart', 'onPostStop'] } });
  await server.register(conventionsPlugin);
  await server.register({ plugin: requestLimitsPlugin, options: config.http });
  registerBearerScheme(server, masterTokenResolver(masterToken.token), (request) =>
    param(request, 'cell') ? unit.cellUrl(param(request, 'cell')) : unit.unitUrl());
  const diskSpace = new DiskSpace(config.dataDir, config.freeSpaceFloor);
  await server.register({ plugin: cellAccessPlugin, options: { store, diskSpace } });

  server.ext('onPreStart', async () => {
    const interrupted = await status.recoverInterruptedJobs();
    for (const { cell, kind, name } of interrupted) {
      logger.warn({ cell: cell.name, kind, name }, 'job interrupted by a restart was ended');
      await jobs.interruptedHandler(kind)?.(cell, name);
    }
    await repairUnit(store, contents, logger);
  });
  server.ext('onPreStop', async () => {
    await jobs.stop(config.shutdownTimeoutMs);
  });

  await server.register([healthPlugin, cellsPlugin, boxesPlugin, cellRootPlugin, boxDavPlugin, snapshotAreaPlugin, snapshotPropfindPlugin, exportPlugin, importPlugin, statusPlugin]);
  return server;
}
