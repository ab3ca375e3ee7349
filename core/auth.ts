// Bearer authentication: who the caller is. The unit master token holds every privilege on every
// cell; a cell's `AR~` token names its cell and account (core/access-decision.ts decides what
// it may do, per request). A request without `Authorization` may carry the `p_cookie` cookie with
// `?p_cookie_peer=`, which stands for the token sealed inside it.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import Boom from '@hapi/boom';
import type { Request, ResponseToolkit, Server } from '@hapi/hapi';
import type { CellTokens } from './cell-tokens.ts';
import { personiumError } from './errors.ts';
import { writeFileDurably } from './json-file.ts';
import { includes, type Privilege } from './privileges.ts';

export type { Privilege } from './privileges.ts';

export type CellarCredentials =
  | { kind: 'unit-master' }
  /** Privileges already worked out (a test seam and a future unit-user token). */
  | { kind: 'cell'; cellId: string; privileges: readonly Privilege[] }
  /** A cell-local access token: its roles and what they grant are read per request. */
  | { kind: 'account'; cellId: string; account: string; scopes: readonly string[] };

declare module '@hapi/hapi' {
  interface AppCredentials {
    cellar?: CellarCredentials;
  }
}

export type TokenRefusal = 'PR401-AU-0002' | 'PR401-AU-0006' | 'PR401-AU-0007';

/** Turns a bearer token into credentials, or the 401 it gets (undefined: unknown, PR401-AU-0006). */
export type TokenResolver = (token: string) => CellarCredentials | TokenRefusal | undefined;

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

/** The master token, else a cell-local access token: expired 401 PR401-AU-0002, refresh PR401-AU-0007. */
export function unitTokenResolver(master: string, tokens: CellTokens): TokenResolver {
  const isMaster = masterTokenResolver(master);
  return (token) => {
    const credentials = isMaster(token);
    if (credentials) return credentials;
    const opened = tokens.open(token);
    if (!opened) return undefined;
    if (opened.claims.type === 'RR') return 'PR401-AU-0007';
    if (opened.expired) return 'PR401-AU-0002';
    return { kind: 'account', cellId: opened.claims.cellId, account: opened.claims.subject, scopes: opened.claims.scopes };
  };
}

/** Does this credential hold `privilege` on the cell with id `cellId`? */
export function holdsPrivilege(credentials: CellarCredentials | undefined, cellId: string, privilege: Privilege): boolean {
  if (!credentials) return false;
  if (credentials.kind === 'unit-master') return true;
  if (credentials.kind !== 'cell' || credentials.cellId !== cellId) return false;
  return credentials.privileges.some((held) => includes(held, privilege));
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

export type UnauthorizedCode = 'PR401-AU-0001' | 'PR401-AU-0003' | 'PR401-AU-0009' | TokenRefusal;

/** A 401 with the Bearer challenge of `realm`. */
export function unauthorized(code: UnauthorizedCode, realm: string) {
  const error = personiumError(code);
  error.output.headers['WWW-Authenticate'] = `Bearer realm="${realm}"`;
  return error;
}

/** The value of the `p_cookie` cookie, read from the header as sent. */
function cookieValue(request: Request, name: string): string | undefined {
  const header = request.headers.cookie;
  if (typeof header !== 'string') return undefined;
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  return undefined;
}

function peerOf(request: Request): string {
  const peer = (request.query as Record<string, unknown>).p_cookie_peer;
  return typeof peer === 'string' ? peer : '';
}

export function registerBearerScheme(server: Server, resolve: TokenResolver, realmOf: RealmOf, tokens?: CellTokens): void {
  const credentialsFor = (request: Request, token: string) => {
    const resolved = resolve(token);
    if (resolved === undefined || typeof resolved === 'string') throw unauthorized(resolved ?? 'PR401-AU-0006', realmOf(request));
    return { credentials: { app: { cellar: resolved } } };
  };
  server.auth.scheme('personium-bearer', () => ({
    authenticate(request: Request, h: ResponseToolkit) {
      const header = request.headers.authorization as string | undefined;
      if (header === undefined) {
        // The cookie counts only with its peer in the query (the peer guards against CSRF).
        const peer = peerOf(request);
        if (peer !== '' && tokens) {
          const sealed = cookieValue(request, 'p_cookie');
          const token = sealed === undefined ? undefined : tokens.openCookie(sealed, peer);
          if (token === undefined) throw unauthorized('PR401-AU-0009', realmOf(request));
          return h.authenticated(credentialsFor(request, token));
        }
        // No credentials at all: hapi answers 401 PR401-AU-0001 where they are required, and lets
        // the request through where they are optional (OPTIONS) or an ACL may admit anybody.
        throw Boom.unauthorized(null, 'Bearer', { realm: realmOf(request) });
      }
      if (/^Bearer\s*$/i.test(header)) throw unauthorized('PR401-AU-0006', realmOf(request));
      const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!match) throw unauthorized('PR401-AU-0003', realmOf(request));
      return h.authenticated(credentialsFor(request, match[1]!));
    },
  }));
  server.auth.strategy('bearer', 'personium-bearer');
  server.auth.default('bearer');
}
