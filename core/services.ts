// The unit's services, built once by the `cellar-services` plugin and reached by every feature
// plugin as `server.cellar` (a server decoration), never through the composition root. Their
// life follows the server's: start-up recovery runs before it listens (onPreStart), and running
// jobs are stopped before it closes (onPreStop).
import type { Plugin } from '@hapi/hapi';
import type { Logger } from 'pino';
import { loadMasterToken, type MasterToken } from './auth.ts';
import { CellContents } from './cell-content.ts';
import { CellIdentity } from './cell-identity.ts';
import { CellTokens, loadTokenSecret } from './cell-tokens.ts';
import { CellStatusService } from './cell-status.ts';
import { Cells } from './cells.ts';
import { CellHolds } from './cell-holds.ts';
import { CellWrites } from './cell-writes.ts';
import { DataDirLock } from './data-dir-lock.ts';
import { DiskSpace } from './disk-space.ts';
import type { Config } from './config.ts';
import { JobRunner } from './jobs.ts';
import { Recovery } from './recovery.ts';
import { LocalSnapshotStore, type SnapshotStore } from './snapshot-store.ts';
import { UnitStore } from './store.ts';
import { unitUrls, type UnitUrls } from './unit-urls.ts';
import { cellarVersion } from './version.ts';

export interface Services {
  config: Config;
  logger: Logger;
  /** The registry of cells (`unit.json`). */
  store: UnitStore;
  /** Where each cell's content lives on disk, and its layout. */
  contents: CellContents;
  /** The cell status state machine. */
  status: CellStatusService;
  /** A cell's life: create, remove, an import going live. */
  cells: Cells;
  jobs: JobRunner;
  /** The writes under way in each cell, which a job waits for before it starts. */
  writes: CellWrites;
  /** Cells held still for the unit backup: writes refused, no job may start. */
  holds: CellHolds;
  /** Free space on the data directory's file system, against the configured floor. */
  diskSpace: DiskSpace;
  /** Each cell's snapshot area (`{CellURL}__snapshot`). */
  snapshots: SnapshotStore;
  masterToken: MasterToken;
  /** Cell-local tokens and the `p_cookie`, sealed with the unit secret `{dataDir}/token-key`. */
  tokens: CellTokens;
  /** Each cell's accounts, roles, links and cell ACL. */
  identity: CellIdentity;
  urls: UnitUrls;
  /** Start-up recovery, in order; plugins add the sweeps of their own temporaries. */
  recovery: Recovery;
}

declare module '@hapi/hapi' {
  interface Server {
    readonly cellar: Services;
  }
}

export const servicesPluginName = 'cellar-services';

export interface ServicesOptions {
  config: Config;
  logger: Logger;
}

export const servicesPlugin: Plugin<ServicesOptions> = {
  name: servicesPluginName,
  version: cellarVersion,
  async register(server, { config, logger }) {
    // One server per data directory, from before the registry is read until the server stopped.
    const dataDirLock = await DataDirLock.acquire(config.dataDir);
    server.ext('onPostStop', () => dataDirLock.release());
    const store = new UnitStore(config.dataDir);
    await store.initialize().catch(async (error: unknown) => {
      await dataDirLock.release();
      throw error;
    });
    const masterToken = await loadMasterToken(config.masterToken, config.dataDir);
    const tokens = new CellTokens(await loadTokenSecret(config.dataDir));
    const contents = new CellContents(config.dataDir);
    const holds = new CellHolds();
    const identity = new CellIdentity(contents);
    const status = new CellStatusService(store, holds);
    const snapshots = new LocalSnapshotStore((cellId) => contents.snapshotDir(cellId));
    const cells = new Cells(store, contents, snapshots, status);
    const jobs = new JobRunner(config.jobs.concurrency, logger);
    const urls = unitUrls(config, () => Number(server.info.port));
    const writes = new CellWrites();
    const diskSpace = new DiskSpace(config.dataDir, config.freeSpaceFloor);
    const recovery = new Recovery();
    const services: Services = { config, logger, store, contents, status, cells, jobs, writes, holds, diskSpace, snapshots, masterToken, tokens, identity, urls, recovery };
    server.decorate('server', 'cellar', services);

    server.ext('onPreStart', () => recovery.run(services));
    server.ext('onPreStop', () => jobs.stop(config.shutdownTimeoutMs));
  },
};
