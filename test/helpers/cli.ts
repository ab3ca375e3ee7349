// Runs the real `bin/cellar.js` as a child process against a listening test unit.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { masterToken, startUnit, type TestUnit } from './unit.ts';

const binary = fileURLToPath(new URL('../../bin/cellar.js', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Written to the command's standard input, which is then closed. */
  input?: string;
}

/** A unit on a real socket whose URLs are those of that socket (unitUrl left to the server). */
export async function listeningUnit(): Promise<TestUnit> {
  const unit = await startUnit({ unitUrl: '' });
  await unit.listen();
  return unit;
}

/** `cellar ...args` with CELLAR_URL/CELLAR_TOKEN of `unit` and quick status polling. */
export function cellar(unit: Pick<TestUnit, 'url'>, args: string[], options: CliOptions = {}): Promise<CliResult> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    CELLAR_URL: unit.url,
    CELLAR_TOKEN: masterToken,
    CELLAR_POLL_MS: '50',
    ...options.env,
  };
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [binary, ...args], { cwd: options.cwd ?? path.dirname(binary), env, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    child.stdin?.end(options.input ?? '');
  });
}

export interface Workspace {
  unit: TestUnit;
  /** A temporary folder, the working directory of `run`. */
  dir: string;
  run(args: string[]): Promise<CliResult>;
}

/** A listening unit holding cell1 and a temporary working folder, both removed after the test. */
export async function workspace(t: { teardown(fn: () => Promise<void>): void }): Promise<Workspace> {
  const unit = await listeningUnit();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cellar-cli-'));
  t.teardown(async () => {
    await unit.stop();
    await rm(dir, { recursive: true, force: true });
  });
  await unit.createCell('cell1');
  return { unit, dir, run: (args) => cellar(unit, args, { cwd: dir }) };
}
