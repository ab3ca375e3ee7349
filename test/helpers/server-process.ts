// A unit server as a real child process started as `npm start` does (bin/start.mjs), for tests where a crash, a restart or a
// second process is the point.
import { spawn, type ChildProcess } from 'node:child_process';

export const processToken = 'process-test-master-token-0123';

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  /** Everything the process wrote on stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code once the process ended. */
  exited: Promise<number | null>;
}

export interface SpawnOptions {
  env?: Record<string, string>;
  /** Extra node arguments before the script (say `--import` of a test preload). */
  nodeArgs?: string[];
}

export function spawnServer(dataDir: string, options: SpawnOptions = {}): Omit<ServerProcess, 'url'> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), 'bin/start.mjs'], {
    env: {
      ...process.env, CELLAR_DATA_DIR: dataDir, CELLAR_PORT: '0', CELLAR_HOST: '127.0.0.1', CELLAR_MASTER_TOKEN: processToken, CELLAR_LOG_LEVEL: 'info',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout!.on('data', (chunk) => { text += String(chunk); });
  child.stderr!.on('data', (chunk) => { text += String(chunk); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => text, exited };
}

/** Starts the server and waits until it listens. */
export async function startServerProcess(dataDir: string, options: SpawnOptions = {}): Promise<ServerProcess> {
  const spawned = spawnServer(dataDir, options);
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start: ${spawned.output()}`)), 30_000);
    const check = () => {
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)\//.exec(spawned.output());
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    spawned.child.stdout!.on('data', check);
    void spawned.exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before listening: ${spawned.output()}`));
    });
  });
  return { ...spawned, url };
}

export async function kill(server: Pick<ServerProcess, 'child' | 'exited'>, signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
  if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill(signal);
  return server.exited;
}

export async function call(url: string, method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const res = await fetch(`${url}${path}`, { method, body, headers: { authorization: `Bearer ${processToken}`, ...headers } });
  return { status: res.status, text: await res.text() };
}
