// Bearer authentication and privileges. Today the only token is the unit master token, which
// holds every privilege on every cell. Cell tokens (accounts, roles, ACLs) plug in through
// `TokenResolver`: a credential names the cell it belongs to, so a token of cell A never opens B.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import Boom from '@hapi/boom';
import type { Request, ResponseToolkit, Server } from '@hapi/hapi';
import { personiumError } from './errors.ts';
import { writeFileDurably } from './json-file.ts';

export type Privilege = 'root' | 'read' | 'write';

export type CellarCredentials =
  | { kind: 'unit-master' }
  | { kind: 'cell'; cellId: string; privileges: readonly Privilege[] };

declare module '@hapi/hapi' {
  interface AppCredentials {
    cellar?: CellarCredentials;
  }
}

/** Turns a bearer token into credentials, or undefined when the token is unknown. */
export type TokenResolver = (token: string) => CellarCredentials | undefined;

export interface MasterToken {
  token: string;
  /** Where a generated token is kept; absent when it came from configuration. */
  file?: string;
  generated: boolean;
}

/** The configured master token, or the one kept in the data directory (made on first start, mode 0600). */
export async function loadMasterToken(configured: string, dataDir: string): Promise<MasterToken> {
  if (configured) return { token: configured, generated: false };
  const file = path.join(dataDir, 'master-token');
  try {
    const token = (await readFile(file, 'utf8')).trim();
    if (token.length >= 16) {
      if (((await stat(file)).mode & 0o077) !== 0) await chmod(file, 0o600);
      return { token, file, generated: false };
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(dataDir, { recursive: true });
  const token = randomBytes(32).toString('base64url');
  await writeFileDurably(file, `${token}\n`);
  await chmod(file, 0o600);
  return { token, file, generated: true };
}

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function masterTokenResolver(master: string): TokenResolver {
  return (token) => (sameToken(token, master) ? { kind: 'unit-master' } : undefined);
}

/** Does this credential hold `privilege` on the cell with id `cellId`? */
export function holdsPrivilege(credentials: CellarCredentials | undefined, cellId: string, privilege: Privilege): boolean {
  if (!credentials) return false;
  if (credentials.kind === 'unit-master') return true;
  if (credentials.cellId !== cellId) return false;
  return credentials.privileges.includes('root') || credentials.privileges.includes(privilege);
}

/** Route parameters as strings (hapi types them loosely). */
export function param(request: Request, name: string): string {
  const value = (request.params as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : '';
}

/** The credentials the bearer scheme put on the request, if any. */
export function credentialsOf(request: Request): CellarCredentials | undefined {
  return request.auth.credentials?.app?.cellar;
}

/** The realm of the 401 challenge: the cell's URL for cell routes, the unit URL otherwise. */
export type RealmOf = (request: Request) => string;

function unauthorized(code: 'PR401-AU-0001' | 'PR401-AU-0003' | 'PR401-AU-0006', realm: string) {
  const error = personiumError(code);
  error.output.headers['WWW-Authenticate'] = `Bearer realm="${realm}"`;
  return error;
}

export function registerBearerScheme(server: Server, resolve: TokenResolver, realmOf: RealmOf): void {
  server.auth.scheme('personium-bearer', () => ({
    authenticate(request: Request, h: ResponseToolkit) {
      const header = request.headers.authorization as string | undefined;
      // No credentials at all: hapi answers 401 PR401-AU-0001 where they are required, and lets
      // the request through where they are optional (OPTIONS).
      if (header === undefined) throw Boom.unauthorized(null, 'Bearer', { realm: realmOf(request) });
      if (/^Bearer\s*$/i.test(header)) throw unauthorized('PR401-AU-0006', realmOf(request));
      const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!match) throw unauthorized('PR401-AU-0003', realmOf(request));
      const credentials = resolve(match[1]!);
      if (!credentials) throw unauthorized('PR401-AU-0006', realmOf(request));
      return h.authenticated({ credentials: { app: { cellar: credentials } } });
    },
  }));
  server.auth.strategy('bearer', 'personium-bearer');
  server.auth.default('bearer');
}
