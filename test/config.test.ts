import { spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { ConfigError, defaults, loadConfig } from '../core/config.ts';

test('the embedded defaults serve port 8080 with data in ./data', (t) => {
  const config = loadConfig({});
  t.is(config.port, 8080);
  t.is(config.dataDir, path.resolve('./data'));
  t.is(config.snapshot.maxFiles, 1024);
  t.is(config.jobs.concurrency, defaults.jobs.concurrency);
});

test('a config file overrides the defaults and environment variables override the file', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cellar-config-'));
  const file = path.join(dir, 'cellar.json');
  await writeFile(file, JSON.stringify({ port: 9000, logLevel: 'warn', snapshot: { maxFiles: 10 } }));
  const config = loadConfig({ CELLAR_CONFIG: file, CELLAR_PORT: '9100', CELLAR_UNIT_URL: 'https://cells.example/unit' });
  t.is(config.port, 9100);
  t.is(config.logLevel, 'warn');
  t.is(config.snapshot.maxFiles, 10);
  t.is(config.snapshot.maxFileBytes, defaults.snapshot.maxFileBytes);
  t.is(config.unitUrl, 'https://cells.example/unit/');
});

test('every bad key is named in one message', (t) => {
  const error = t.throws(() => loadConfig({ CELLAR_PORT: 'eighty', CELLAR_LOG_LEVEL: 'loud', CELLAR_MASTER_TOKEN: 'short' }), { instanceOf: ConfigError });
  t.regex(error!.message, /port \(CELLAR_PORT\)/);
  t.regex(error!.message, /logLevel \(CELLAR_LOG_LEVEL\)/);
  t.regex(error!.message, /masterToken \(CELLAR_MASTER_TOKEN\)/);
});

test('a config file that is not JSON is refused with its name', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cellar-config-'));
  const file = path.join(dir, 'broken.json');
  await writeFile(file, '{ port: ');
  const error = t.throws(() => loadConfig({ CELLAR_CONFIG: file }), { instanceOf: ConfigError });
  t.true(error!.message.includes(file));
});

test('unknown keys in the config file are refused', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cellar-config-'));
  const file = path.join(dir, 'cellar.json');
  await writeFile(file, JSON.stringify({ prot: 1 }));
  t.throws(() => loadConfig({ CELLAR_CONFIG: file }), { instanceOf: ConfigError, message: /prot/ });
});

test('the server exits non-zero with the message when the configuration is bad', (t) => {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'bin/server.ts'], {
    env: { ...process.env, CELLAR_PORT: '-1', CELLAR_LOG_LEVEL: 'nope' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  t.is(result.status, 2);
  t.regex(result.stderr, /Invalid configuration: .*port \(CELLAR_PORT\).*logLevel \(CELLAR_LOG_LEVEL\)/);
});
