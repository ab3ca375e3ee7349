// Logins kept for the user: per unit and cell, the account, its access and refresh tokens and
// when they expire, in `{config folder}/cellar/logins.json` (folder 0700, file 0600). An expired
// access token is refreshed with the refresh token, transparently, when a command needs it.
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ServerError, UsageError } from './errors.ts';
import { errorFromResponse } from './client.ts';

export interface StoredLogin {
  account: string;
  accessToken: string;
  refreshToken: string;
  /** Epoch ms. */
  accessExpiresAt: number;
  refreshExpiresAt: number;
}

type LoginFile = Record<string, StoredLogin>;

/** Refresh a little before the expiry, so a token never dies in flight. */
const marginMs = 30_000;

export function configFolder(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.CELLAR_CONFIG_HOME || env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config'), 'cellar');
}

const keyOf = (unitUrl: string, cell: string) => `${unitUrl} ${cell}`;

export class LoginStore {
  readonly file: string;

  constructor(env: NodeJS.ProcessEnv = process.env) {
    this.file = path.join(configFolder(env), 'logins.json');
  }

  async #read(): Promise<LoginFile> {
    try {
      return JSON.parse(await readFile(this.file, 'utf8')) as LoginFile;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new UsageError(`cannot read ${this.file}: ${(error as Error).message}`);
    }
  }

  async #write(logins: LoginFile): Promise<void> {
    await mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const temporary = `${this.file}.${process.pid}.tmp`;
    await writeFile(temporary, JSON.stringify(logins, null, 2), { mode: 0o600 });
    await chmod(temporary, 0o600);
    await rename(temporary, this.file);
  }

  async get(unitUrl: string, cell: string): Promise<StoredLogin | undefined> {
    return (await this.#read())[keyOf(unitUrl, cell)];
  }

  async save(unitUrl: string, cell: string, login: StoredLogin): Promise<void> {
    const logins = await this.#read();
    logins[keyOf(unitUrl, cell)] = login;
    await this.#write(logins);
  }

  /** Forgets one login, or every login of the unit; says whether there was any. */
  async remove(unitUrl: string, cell?: string): Promise<boolean> {
    const logins = await this.#read();
    const keys = Object.keys(logins).filter((key) => (cell === undefined ? key.startsWith(`${unitUrl} `) : key === keyOf(unitUrl, cell)));
    for (const key of keys) delete logins[key];
    if (keys.length) await this.#write(logins);
    return keys.length > 0;
  }

  /** A valid access token of the login for the cell, refreshed when it expired. */
  async accessToken(unitUrl: string, cell: string): Promise<string> {
    const login = await this.get(unitUrl, cell);
    if (!login) throw new UsageError(`no token: pass --token TOKEN, set CELLAR_TOKEN, or run cellar login ${cell} ACCOUNT`);
    if (Date.now() < login.accessExpiresAt - marginMs) return login.accessToken;
    if (Date.now() >= login.refreshExpiresAt - marginMs) throw new UsageError(`the login to ${cell} has expired: run cellar login ${cell} ${login.account}`);
    const refreshed = await requestTokens(unitUrl, cell, { grant_type: 'refresh_token', refresh_token: login.refreshToken });
    await this.save(unitUrl, cell, { ...refreshed, account: login.account });
    return refreshed.accessToken;
  }
}

/** POST {CellURL}__token with a form; the answer as a login to keep. */
export async function requestTokens(unitUrl: string, cell: string, form: Record<string, string>): Promise<Omit<StoredLogin, 'account'>> {
  const started = Date.now();
  const response = await fetch(new URL(`${encodeURIComponent(cell)}/__token`, unitUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  const body = (await response.clone().json().catch(() => ({}))) as Record<string, unknown>;
  if (response.status !== 200 || typeof body.access_token !== 'string' || typeof body.refresh_token !== 'string') {
    const described = typeof body.error_description === 'string' ? /^\[([^\]]+)\] - (.*)$/.exec(body.error_description) : null;
    if (described) throw new ServerError(response.status, described[1], described[2]!);
    throw await errorFromResponse(response);
  }
  return {
    accessToken: body.access_token,
    refreshToken: body.refresh_token,
    accessExpiresAt: started + Number(body.expires_in ?? 3600) * 1000,
    refreshExpiresAt: started + Number(body.refresh_token_expires_in ?? 86400) * 1000,
  };
}
