// Configuration: embedded defaults, then an optional JSON file (CELLAR_CONFIG), then CELLAR_*
// environment variables. Validated once at start; every bad key is named in one message.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Joi from 'joi';

export interface Config {
  host: string;
  port: number;
  /** Absolute URL ending in '/', used for every Location header and absolute href. Empty: derived from host/port. */
  unitUrl: string;
  /** `path`: cells at `{UnitURL}{cell}/`; `fqdn`: each cell at `{scheme}://{cell}.{unit host}/`. */
  cellUrl: 'path' | 'fqdn';
  dataDir: string;
  /** Empty: a random one is made on first start and kept in the data directory. */
  masterToken: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Largest request body for WebDAV PUT into boxes, in bytes. */
  maxUploadBytes: number;
  snapshot: {
    maxFiles: number;
    maxFileBytes: number;
  };
  jobs: {
    concurrency: number;
  };
  import: {
    maxEntries: number;
    maxTotalBytes: number;
    maxCompressionRatio: number;
  };
  shutdownTimeoutMs: number;
  /** How long an export or import waits for the writes already under way in the cell before it gives up (409). */
  jobWriteDrainMs: number;
  /** Limits of what one client may hold (core/listener-limits.ts). */
  http: {
    /** 0: derived from the open-files limit, leaving room for the jobs. */
    maxConnections: number;
    headersTimeoutMs: number;
    bodyIdleTimeoutMs: number;
    keepAliveTimeoutMs: number;
    maxHeaders: number;
  };
  /** Below the smaller of these free, new writes get 503 PR503-SV-0005 (0 in either: no floor). */
  freeSpaceFloor: {
    percent: number;
    bytes: number;
  };
}

export const defaults: Config = {
  host: '0.0.0.0',
  port: 8080,
  unitUrl: '',
  cellUrl: 'path',
  dataDir: './data',
  masterToken: '',
  logLevel: 'info',
  maxUploadBytes: 64 * 1024 ** 3,
  snapshot: { maxFiles: 1024, maxFileBytes: 64 * 1024 ** 3 },
  jobs: { concurrency: 2 },
  import: { maxEntries: 1_000_000, maxTotalBytes: 64 * 1024 ** 3, maxCompressionRatio: 1000 },
  shutdownTimeoutMs: 10_000,
  jobWriteDrainMs: 5_000,
  freeSpaceFloor: { percent: 1, bytes: 256 * 1024 ** 2 },
  http: { maxConnections: 0, headersTimeoutMs: 10_000, bodyIdleTimeoutMs: 30_000, keepAliveTimeoutMs: 10_000, maxHeaders: 200 },
};

const positiveInt = Joi.number().integer().min(1);

const schema = Joi.object<Config>({
  host: Joi.string().min(1),
  port: Joi.number().integer().min(0).max(65535),
  unitUrl: Joi.string().allow('').uri({ scheme: ['http', 'https'] }),
  cellUrl: Joi.string().valid('path', 'fqdn'),
  dataDir: Joi.string().min(1),
  masterToken: Joi.string().allow('').min(16).pattern(/^[\x21-\x7e]+$/),
  logLevel: Joi.string().valid('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
  maxUploadBytes: positiveInt,
  snapshot: Joi.object({ maxFiles: positiveInt, maxFileBytes: positiveInt }),
  jobs: Joi.object({ concurrency: positiveInt.max(64) }),
  import: Joi.object({ maxEntries: positiveInt, maxTotalBytes: positiveInt, maxCompressionRatio: positiveInt }),
  shutdownTimeoutMs: positiveInt,
  jobWriteDrainMs: positiveInt,
  http: Joi.object({
    maxConnections: Joi.number().integer().min(0),
    headersTimeoutMs: positiveInt,
    bodyIdleTimeoutMs: positiveInt,
    keepAliveTimeoutMs: positiveInt,
    maxHeaders: positiveInt.max(10_000),
  }),
  freeSpaceFloor: Joi.object({ percent: Joi.number().min(0).max(50), bytes: Joi.number().integer().min(0) }),
});

/** Environment variable → config key path. */
const environment: Record<string, string> = {
  CELLAR_HOST: 'host',
  CELLAR_PORT: 'port',
  CELLAR_UNIT_URL: 'unitUrl',
  CELLAR_CELL_URL: 'cellUrl',
  CELLAR_DATA_DIR: 'dataDir',
  CELLAR_MASTER_TOKEN: 'masterToken',
  CELLAR_LOG_LEVEL: 'logLevel',
  CELLAR_MAX_UPLOAD_BYTES: 'maxUploadBytes',
  CELLAR_SNAPSHOT_MAX_FILES: 'snapshot.maxFiles',
  CELLAR_SNAPSHOT_MAX_FILE_BYTES: 'snapshot.maxFileBytes',
  CELLAR_JOBS_CONCURRENCY: 'jobs.concurrency',
  CELLAR_IMPORT_MAX_ENTRIES: 'import.maxEntries',
  CELLAR_IMPORT_MAX_TOTAL_BYTES: 'import.maxTotalBytes',
  CELLAR_IMPORT_MAX_COMPRESSION_RATIO: 'import.maxCompressionRatio',
  CELLAR_SHUTDOWN_TIMEOUT_MS: 'shutdownTimeoutMs',
  CELLAR_JOB_WRITE_DRAIN_MS: 'jobWriteDrainMs',
  CELLAR_HTTP_MAX_CONNECTIONS: 'http.maxConnections',
  CELLAR_HTTP_HEADERS_TIMEOUT_MS: 'http.headersTimeoutMs',
  CELLAR_HTTP_BODY_IDLE_TIMEOUT_MS: 'http.bodyIdleTimeoutMs',
  CELLAR_HTTP_KEEP_ALIVE_TIMEOUT_MS: 'http.keepAliveTimeoutMs',
  CELLAR_HTTP_MAX_HEADERS: 'http.maxHeaders',
  CELLAR_FREE_SPACE_FLOOR_PERCENT: 'freeSpaceFloor.percent',
  CELLAR_FREE_SPACE_FLOOR_BYTES: 'freeSpaceFloor.bytes',
};

export class ConfigError extends Error {}

type Tree = Record<string, unknown>;

function isTree(value: unknown): value is Tree {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function merge(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] = isTree(current) && isTree(value) ? merge(current, value) : value;
  }
  return out;
}

function setPath(tree: Tree, keyPath: string, value: unknown): void {
  const keys = keyPath.split('.');
  let node = tree;
  for (const key of keys.slice(0, -1)) {
    const next = isTree(node[key]) ? (node[key] as Tree) : {};
    node[key] = next;
    node = next;
  }
  node[keys[keys.length - 1]!] = value;
}

function readConfigFile(file: string): Tree {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`Invalid configuration: CELLAR_CONFIG file ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`Invalid configuration: CELLAR_CONFIG file ${file} is not JSON (${(error as Error).message})`);
  }
  if (!isTree(parsed)) throw new ConfigError(`Invalid configuration: CELLAR_CONFIG file ${file} must hold a JSON object`);
  return parsed;
}

/** Builds the configuration; throws ConfigError naming every bad key. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  let tree: Tree = merge({}, defaults as unknown as Tree);
  if (env.CELLAR_CONFIG) tree = merge(tree, readConfigFile(env.CELLAR_CONFIG));
  const origin = new Map<string, string>();
  for (const [name, keyPath] of Object.entries(environment)) {
    const value = env[name];
    if (value === undefined) continue;
    setPath(tree, keyPath, value);
    origin.set(keyPath, name);
  }
  tree = merge(tree, overrides as Tree);
  const { error, value } = schema.validate(tree, { abortEarly: false, convert: true });
  if (error) {
    const problems = error.details.map((detail) => {
      const keyPath = detail.path.join('.');
      const source = origin.get(keyPath);
      return source ? `${keyPath} (${source}): ${detail.message}` : `${keyPath}: ${detail.message}`;
    });
    throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  }
  const config = value as Config;
  config.dataDir = path.resolve(config.dataDir);
  if (config.unitUrl && !config.unitUrl.endsWith('/')) config.unitUrl += '/';
  return config;
}

/** The unit URL: configured, or derived from where the server listens. */
export function unitUrlFor(config: Config, listeningPort: number): string {
  if (config.unitUrl) return config.unitUrl;
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${listeningPort}/`;
}
