// Compose, then start: `createServer(config)` builds the unit (services, conventions, auth and the
// feature plugins) and returns it without listening. bin/server.ts starts it.
import Hapi, { type Server } from '@hapi/hapi';
import hapiPino from 'hapi-pino';
import { pino } from 'pino';
import { param, registerBearerScheme, unitTokenResolver } from './auth.ts';
import { cellAccessPlugin } from './cell-access.ts';
import type { Config } from './config.ts';
import { conventionsPlugin } from './conventions.ts';
import { optionsRoute } from './routes.ts';
import { servicesPlugin } from './services.ts';
import { cellHostPlugin } from './unit-urls.ts';
import type { BeforeEntryHook } from './jobs.ts';
import type { Clock } from './clock.ts';
import { createListener, requestLimitsPlugin } from './listener-limits.ts';
import { healthPlugin } from '../plugins/health/index.ts';
import { cellsPlugin } from '../plugins/cells/index.ts';
import { boxesPlugin } from '../plugins/boxes/index.ts';
import { identityPlugin } from '../plugins/identity/index.ts';
import { tokenPlugin } from '../plugins/token/index.ts';
import { cellRootPlugin } from '../plugins/cell-root/index.ts';
import { boxDavPlugin } from '../plugins/box-dav/index.ts';
import { importPlugin } from '../plugins/import/index.ts';
import { exportPlugin } from '../plugins/export/index.ts';
import { backupPlugin } from '../plugins/backup/index.ts';
import { statusPlugin } from '../plugins/status/index.ts';
import { snapshotAreaPlugin } from '../snapshot-area/index.ts';
import { snapshotPropfindPlugin } from '../snapshot-area/propfind.ts';

export interface CreateServerOptions {
  /** Where logs go; default stdout. Tests pass a sink. */
  logStream?: NodeJS.WritableStream;
  /** Test seams, awaited before each entry an export writes or an import extracts. */
  hooks?: { exportBeforeEntry?: BeforeEntryHook; importBeforeEntry?: BeforeEntryHook };
  /** What scheduled exports run by; tests give a clock they move by hand. */
  clock?: Clock;
}

export async function createServer(config: Config, options: CreateServerOptions = {}): Promise<Server> {
  const logger = pino(
    {
      level: config.logLevel,
      base: { service: 'cellar' },
      // X-Override can carry an Authorization header too.
      redact: {
        paths: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["x-override"]', 'req.headers["x-personium-credential"]', 'req.query.p_cookie_peer', 'headers.authorization', 'headers.cookie', 'headers["x-personium-credential"]', 'authorization'],
        censor: '[redacted]',
      },
    },
    options.logStream ?? process.stdout,
  );

  const server = Hapi.server({
    host: config.host,
    port: config.port,
    routes: {
      validate: { failAction: (_request, _h, error) => { throw error; } },
      timeout: { server: false },
      // Handlers that serve files answer Range themselves; hapi's own answers a bad one in its own
      // error shape, after onPreResponse, where no Personium body can replace it.
      response: { ranges: false },
    },
    router: { isCaseSensitive: true },
    listener: createListener(config.http, config.jobs.concurrency),
  });

  await server.register({ plugin: hapiPino, options: { instance: logger, logRequestComplete: false, logEvents: ['onPostStart', 'onPostStop'] } });
  await server.register(conventionsPlugin);
  await server.register({ plugin: requestLimitsPlugin, options: config.http });
  await server.register({ plugin: servicesPlugin, options: { config, logger } });
  const { masterToken, tokens, store, urls, writes, holds, diskSpace } = server.cellar;
  await server.register({ plugin: cellHostPlugin, options: { config, urls, store } });
  registerBearerScheme(server, unitTokenResolver(masterToken.token, tokens), (request) =>
    param(request, 'cell') ? urls.cell(param(request, 'cell')) : urls.unit(), tokens);
  await server.register({ plugin: cellAccessPlugin, options: { store, writes, holds, diskSpace } });
  // A browser's preflight to a URL no feature serves (the unit root, say) is answered too.
  server.route(optionsRoute('/{any*}', 'OPTIONS'));

  await server.register([healthPlugin, cellsPlugin, boxesPlugin, identityPlugin, tokenPlugin, cellRootPlugin, statusPlugin]);
  await server.register({ plugin: boxDavPlugin, options: { maxUploadBytes: config.maxUploadBytes } });
  await server.register({ plugin: snapshotAreaPlugin, options: config.snapshot });
  await server.register(snapshotPropfindPlugin);
  await server.register({ plugin: exportPlugin, options: { writeDrainMs: config.jobWriteDrainMs, beforeEntry: options.hooks?.exportBeforeEntry, clock: options.clock } });
  await server.register(backupPlugin);
  await server.register({ plugin: importPlugin, options: { limits: config.import, writeDrainMs: config.jobWriteDrainMs, beforeEntry: options.hooks?.importBeforeEntry } });
  return server;
}
