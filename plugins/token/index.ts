// POST {CellURL}__token: `grant_type=password` (an account's name and password) and
// `refresh_token`, answered with Personium's OAuth 2.0 JSON. Every failed login gets the same
// body, whether the account exists or not; after a failure the account refuses every login for
// one second (Personium's valid-authentication interval). Open while the cell is `import failed`.
import { randomUUID } from 'node:crypto';
import type { Plugin, Request, ResponseToolkit } from '@hapi/hapi';
import { cellOf, cellRoute } from '../../core/cell-access.ts';
import type { CellTokens, TokenClaims } from '../../core/cell-tokens.ts';
import { formatMessage, isPersoniumError, personiumError, type ErrorCode } from '../../core/errors.ts';
import { verifyPassword } from '../../core/password-hash.ts';
import { isCellPrivilege } from '../../core/privileges.ts';
import { methodNotAllowed, optionsRoute } from '../../core/routes.ts';
import { servicesPluginName } from '../../core/services.ts';
import type { CellRecord } from '../../core/store.ts';
import { cellarVersion } from '../../core/version.ts';
import { LoginHistory } from './login-history.ts';

const oauthErrors: Partial<Record<ErrorCode, string>> = {
  'PR400-AN-0001': 'unsupported_grant_type',
  'PR400-AN-0009': 'invalid_grant',
  'PR400-AN-0010': 'invalid_grant',
  'PR400-AN-0013': 'invalid_grant',
  'PR400-AN-0016': 'invalid_request',
  'PR400-AN-0017': 'invalid_grant',
  'PR400-AN-0018': 'invalid_client',
};

const accessLifespan = { fallback: 3600, max: 3600, field: 'expires_in' } as const;
const refreshLifespan = { fallback: 86400, max: 86400, field: 'refresh_token_expires_in' } as const;

function lifespanSeconds(form: URLSearchParams, rule: { fallback: number; max: number; field: string }): number {
  const value = form.get(rule.field);
  if (value === null) return rule.fallback;
  const seconds = /^\d{1,6}$/.test(value) ? Number(value) : Number.NaN;
  if (!(seconds >= 1 && seconds <= rule.max)) throw personiumError('PR400-AN-0016', rule.field);
  return seconds;
}

/** Requested scopes that are cell privileges (all of them lie under the default, `root`); none requested: root. */
function scopesOf(form: URLSearchParams): string[] {
  const requested = (form.get('scope') ?? '').split(' ').filter((scope) => scope !== '');
  return requested.length === 0 ? ['root'] : requested.filter((scope) => isCellPrivilege(scope));
}

interface Grant {
  account: string;
  scopes: string[];
  extra: Record<string, unknown>;
}

async function passwordGrant(request: Request, cell: CellRecord, form: URLSearchParams, history: LoginHistory): Promise<Grant> {
  const username = form.get('username');
  if (username === null) throw personiumError('PR400-AN-0016', 'username');
  const password = form.get('password');
  if (password === null) throw personiumError('PR400-AN-0016', 'password');
  const account = await request.server.cellar.identity.account(cell, username);
  // The hash is checked before any rule, so every answer costs the same.
  const matches = await verifyPassword(password, account?.h);
  if (!account || !account.Type.split(' ').includes('basic')) throw personiumError('PR400-AN-0017');
  const key = `${cell.id}/${account._id}`;
  if (history.locked(key) || !matches || account.Status !== 'active') {
    history.failed(key);
    throw personiumError('PR400-AN-0017');
  }
  const previous = history.succeeded(key);
  return { account: account.Name, scopes: scopesOf(form), extra: { last_authenticated: previous.lastAuthenticated, failed_count: previous.failedCount } };
}

async function refreshGrant(request: Request, cell: CellRecord, form: URLSearchParams): Promise<Grant> {
  const opened = request.server.cellar.tokens.open(form.get('refresh_token') ?? '');
  if (!opened || opened.claims.cellId !== cell.id) throw personiumError('PR400-AN-0009');
  if (opened.claims.type !== 'RR') throw personiumError('PR400-AN-0013');
  if (opened.expired || !(await request.server.cellar.identity.account(cell, opened.claims.subject))) throw personiumError('PR400-AN-0010');
  return { account: opened.claims.subject, scopes: opened.claims.scopes, extra: {} };
}

function issue(tokens: CellTokens, base: Omit<TokenClaims, 'type' | 'lifespanMs'>, type: TokenClaims['type'], seconds: number): string {
  return tokens.issue({ ...base, type, lifespanMs: seconds * 1000 });
}

function oauthFailure(h: ResponseToolkit, error: unknown) {
  const code = isPersoniumError(error) ? (error.data!.code as ErrorCode) : undefined;
  const name = code === undefined ? undefined : oauthErrors[code];
  if (!code || !name) throw error;
  return h.response({ error: name, error_description: `[${code}] - ${error instanceof Error ? error.message : formatMessage(code)}` })
    .code(400).type('application/json');
}

function tokenHandler(history: LoginHistory) {
  return async (request: Request, h: ResponseToolkit) => {
    try {
      if (request.headers.authorization !== undefined) throw personiumError('PR400-AN-0018');
      const form = new URLSearchParams(Buffer.isBuffer(request.payload) ? request.payload.toString('utf8') : '');
      const grantType = form.get('grant_type');
      if (grantType === null || grantType === '') throw personiumError('PR400-AN-0016', 'grant_type');
      const accessSeconds = lifespanSeconds(form, accessLifespan);
      const refreshSeconds = lifespanSeconds(form, refreshLifespan);
      const cell = cellOf(request);
      let grant: Grant;
      if (grantType === 'password') grant = await passwordGrant(request, cell, form, history);
      else if (grantType === 'refresh_token') grant = await refreshGrant(request, cell, form);
      else throw personiumError('PR400-AN-0001', grantType);
      const { tokens, urls } = request.server.cellar;
      const cellUrl = urls.cell(cell.name);
      const base = { cellId: cell.id, issuer: cellUrl, subject: grant.account, scopes: grant.scopes, issuedAt: Date.now() };
      const accessToken = issue(tokens, base, 'AR', accessSeconds);
      const body: Record<string, unknown> = {
        access_token: accessToken,
        token_type: 'Bearer',
        expires_in: accessSeconds,
        ...(grant.scopes.length ? { scope: grant.scopes.join(' ') } : {}),
        refresh_token: issue(tokens, base, 'RR', refreshSeconds),
        refresh_token_expires_in: refreshSeconds,
        ...grant.extra,
      };
      const response = h.response(body).code(200).type('application/json');
      if (form.get('p_cookie') === 'true') {
        const peer = randomUUID();
        body.p_cookie_peer = peer;
        const secure = cellUrl.startsWith('https:') ? '; Secure' : '';
        response.header('Set-Cookie', `p_cookie=${tokens.cookie(peer, accessToken)}; Path=${new URL(cellUrl).pathname}; HttpOnly; SameSite=Lax${secure}`);
      }
      return response;
    } catch (error) {
      return oauthFailure(h, error);
    }
  };
}

export const tokenPlugin: Plugin<void> = {
  name: 'cellar-token',
  version: cellarVersion,
  dependencies: [servicesPluginName],
  register(server) {
    const history = new LoginHistory();
    const path = '/{cell}/__token';
    const access = cellRoute({ access: 'token' });
    server.route([
      { method: 'POST', path, options: { ...access, payload: { parse: false, output: 'data', maxBytes: 64 * 1024 } }, handler: tokenHandler(history) },
      optionsRoute(path, 'OPTIONS, POST'),
      { method: '*', path, options: access, handler: methodNotAllowed('OPTIONS, POST') },
    ]);
  },
};
