// What every command needs: the client for the chosen unit, and how to report (text or --json,
// bars or plain lines), resolved once from the global options and the environment.
import { normalizeUnitUrl, UnitClient, type TokenSource } from './client.ts';
import { LoginStore } from './logins.ts';
import { UsageError } from './errors.ts';
import { progressMode, type ProgressMode } from './progress.ts';

export interface GlobalOptions {
  unit?: string;
  token?: string;
  json?: boolean;
  quiet?: boolean;
}

/** How a command reports, also one that needs no unit (an offline restore). */
export interface Output {
  json: boolean;
  progress: ProgressMode;
  /** Prints the result: `value` as JSON with --json, else `text` (nothing when it is empty). */
  result(value: unknown, text: string): void;
  /** A note for people on stderr (never with --json). */
  note(text: string): void;
}

export interface Context extends Output {
  client: UnitClient;
  /** Milliseconds between two status polls of a running export or import. */
  pollIntervalMs: number;
}

/**
 * `cell` is the cell the command works on: without a token given, the login kept for that cell
 * is used (see `cellar login`). `anonymous` commands (login itself) need no token at all.
 */
export function createContext(options: GlobalOptions, env: NodeJS.ProcessEnv = process.env, cell?: string, anonymous = false): Context {
  const unit = options.unit ?? env.CELLAR_URL;
  if (!unit) throw new UsageError('no unit URL: pass --unit URL or set CELLAR_URL');
  let token: TokenSource | undefined = options.token ?? env.CELLAR_TOKEN;
  if (!token && cell !== undefined) {
    const logins = new LoginStore(env);
    const unitUrl = normalizeUnitUrl(unit);
    token = () => logins.accessToken(unitUrl, cell);
  }
  if (!token && anonymous) token = '';
  if (token === undefined || token === '' && !anonymous) throw new UsageError('no token: pass --token TOKEN or set CELLAR_TOKEN');
  return { ...createOutput(options), client: new UnitClient(unit, token), pollIntervalMs: pollInterval(env.CELLAR_POLL_MS) };
}

export function createOutput(options: GlobalOptions): Output {
  const json = Boolean(options.json);
  return {
    json,
    progress: progressMode(options),
    result(value, text) {
      if (json) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
      else if (text) process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    },
    note(text) {
      if (!json && !options.quiet) process.stderr.write(`${text}\n`);
    },
  };
}

function pollInterval(value: string | undefined): number {
  if (value === undefined || value === '') return 1000;
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms < 10) throw new UsageError(`CELLAR_POLL_MS must be a whole number of milliseconds >= 10, not ${JSON.stringify(value)}`);
  return ms;
}
