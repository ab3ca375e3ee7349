// Starts the unit: configuration, then the composed server, then signals for a graceful stop.
import { ConfigError, loadConfig } from '../core/config.ts';
import { CorruptFileError } from '../core/json-file.ts';
import { DataDirLockedError } from '../core/data-dir-lock.ts';
import { createServer } from '../core/server.ts';
import { FatalErrorHandling } from '../core/fatal-errors.ts';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  let server;
  try {
    server = await createServer(config);
  } catch (error) {
    if (error instanceof CorruptFileError) {
      process.stderr.write(`cellar: refusing to start: ${error.message}. Restore it or move it away to start an empty unit.\n`);
      process.exit(3);
    }
    if (error instanceof DataDirLockedError) {
      process.stderr.write(`cellar: refusing to start: ${error.message}.\n`);
      process.exit(4);
    }
    throw error;
  }
  const { logger, masterToken, urls } = server.cellar;
  fatalErrors.attach(server, logger, config.shutdownTimeoutMs);
  await server.start();
  logger.info({ url: urls.unit(), dataDir: config.dataDir }, `Cellar unit listening on ${urls.unit()}`);
  if (masterToken.file) {
    logger.info({ file: masterToken.file }, masterToken.generated
      ? `generated a unit master token; it is in ${masterToken.file} (readable by its owner only)`
      : `unit master token read from ${masterToken.file}`);
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    try {
      await server.stop({ timeout: config.shutdownTimeoutMs });
      logger.info('stopped');
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'stop failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

const fatalErrors = new FatalErrorHandling();

await main();
