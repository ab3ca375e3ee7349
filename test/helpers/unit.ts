// Builds a unit for a test: a fresh data directory, a known master token, logs kept in memory.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { Server, ServerInjectOptions } from '@hapi/hapi';
import { loadConfig, type Config } from '../../core/config.ts';
import type { Clock } from '../../core/clock.ts';
import type { BeforeEntryHook } from '../../core/jobs.ts';
import { createServer } from '../../core/server.ts';

export const masterToken = 'test-master-token-0123456789';
export const auth = { authorization: `Bearer ${masterToken}` };

export interface TestUnit {
  server: Server;
  config: Config;
  dataDir: string;
  logs: string[];
  /**
   * What the export and import jobs await before each entry (the server's test seams, given when
   * it is built); a test sets one to hold or fail a job at a chosen entry.
   */
  hooks: { export?: BeforeEntryHook | undefined; import?: BeforeEntryHook | undefined };
  /** Base URL of the listening server (only after `listen`). */
  url: string;
  inject(options: ServerInjectOptions | string): ReturnType<Server['inject']>;
  /** server.inject with the master token. */
  as(options: ServerInjectOptions): ReturnType<Server['inject']>;
  createCell(name: string): Promise<void>;
  createBox(cell: string, box: string): Promise<void>;
  listen(): Promise<string>;
  stop(): Promise<void>;
}

export async function startUnit(overrides: Partial<Config> = {}, options: { dataDir?: string; clock?: Clock } = {}): Promise<TestUnit> {
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'cellar-test-')));
  const config = loadConfig({}, { dataDir, masterToken, logLevel: 'info', host: '127.0.0.1', port: 0, unitUrl: 'http://unit.test/', ...overrides });
  const logs: string[] = [];
  const logStream = new Writable({ write(chunk, _encoding, callback) { logs.push(String(chunk)); callback(); } });
  const hooks: TestUnit['hooks'] = {};
  const server = await createServer(config, {
    logStream,
    hooks: {
      exportBeforeEntry: async (entry, signal) => { await hooks.export?.(entry, signal); },
      importBeforeEntry: async (entry, signal) => { await hooks.import?.(entry, signal); },
    },
    ...(options.clock ? { clock: options.clock } : {}),
  });
  await server.initialize();
  const unit: TestUnit = {
    server, config, dataDir, logs, hooks, url: '',
    inject: (injectOptions) => server.inject(injectOptions),
    as: (injectOptions) => server.inject({ ...injectOptions, headers: { ...auth, ...(injectOptions.headers ?? {}) } }),
    async createCell(name) {
      const res = await unit.as({ method: 'POST', url: '/__ctl/Cell', payload: { Name: name } });
      if (res.statusCode !== 201) throw new Error(`creating cell ${name}: ${res.statusCode} ${res.payload}`);
    },
    async createBox(cell, box) {
      const res = await unit.as({ method: 'POST', url: `/${cell}/__ctl/Box`, payload: { Name: box } });
      if (res.statusCode !== 201) throw new Error(`creating box ${box}: ${res.statusCode} ${res.payload}`);
    },
    async listen() {
      await server.start();
      unit.url = `http://127.0.0.1:${server.info.port}`;
      return unit.url;
    },
    async stop() {
      await server.stop({ timeout: 2000 });
      if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
  return unit;
}

/** The parsed JSON body of an injected response. */
export function json<T = any>(response: { payload: string }): T {
  return JSON.parse(response.payload) as T;
}
