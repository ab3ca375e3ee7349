// Cell-local tokens, self-contained as Personium's are (no server-side store): `AR~` access and
// `RR~` refresh tokens are AES-256-GCM sealed claims, bound to the cell that issued them (its id
// and URL are inside). The `p_cookie` cookie seals a peer id with an access token the same way.
// The unit secret is made on first start, kept in the data directory with mode 0600, and turned
// into the two keys once, so a request costs one decryption and no key derivation.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { writeFileDurably } from './json-file.ts';

export const tokenKeyFile = 'token-key';

export type TokenType = 'AR' | 'RR';

export interface TokenClaims {
  type: TokenType;
  cellId: string;
  /** The issuing cell's URL. */
  issuer: string;
  /** The account name. */
  subject: string;
  scopes: string[];
  issuedAt: number;
  lifespanMs: number;
}

export type OpenedToken = { claims: TokenClaims; expired: boolean } | undefined;

const ivLength = 12;
const tagLength = 16;

/** The unit secret: read, or made on first start (32 random bytes, mode 0600). */
export async function loadTokenSecret(dataDir: string): Promise<Buffer> {
  const file = path.join(dataDir, tokenKeyFile);
  try {
    const secret = Buffer.from((await readFile(file, 'utf8')).trim(), 'base64');
    if (secret.length >= 32) {
      if (((await stat(file)).mode & 0o077) !== 0) await chmod(file, 0o600);
      return secret;
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(dataDir, { recursive: true });
  const secret = randomBytes(32);
  await writeFileDurably(file, `${secret.toString('base64')}\n`);
  await chmod(file, 0o600);
  return secret;
}

function seal(key: Buffer, label: string, plaintext: string): string {
  const iv = randomBytes(ivLength);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(label));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
}

function unseal(key: Buffer, label: string, sealed: string): string | undefined {
  const bytes = Buffer.from(sealed, 'base64url');
  if (bytes.length <= ivLength + tagLength || bytes.toString('base64url') !== sealed) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, ivLength));
    decipher.setAAD(Buffer.from(label));
    decipher.setAuthTag(bytes.subarray(bytes.length - tagLength));
    return Buffer.concat([decipher.update(bytes.subarray(ivLength, bytes.length - tagLength)), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}

function isClaims(value: unknown): value is TokenClaims {
  const claims = value as Partial<TokenClaims> | null;
  return typeof claims === 'object' && claims !== null && (claims.type === 'AR' || claims.type === 'RR') &&
    typeof claims.cellId === 'string' && typeof claims.issuer === 'string' && typeof claims.subject === 'string' &&
    Array.isArray(claims.scopes) && typeof claims.issuedAt === 'number' && typeof claims.lifespanMs === 'number';
}

export class CellTokens {
  readonly #tokenKey: Buffer;
  readonly #cookieKey: Buffer;

  constructor(secret: Buffer) {
    this.#tokenKey = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), 'cellar cell tokens', 32));
    this.#cookieKey = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), 'cellar p_cookie', 32));
  }

  issue(claims: TokenClaims): string {
    return `${claims.type}~${seal(this.#tokenKey, claims.type, JSON.stringify(claims))}`;
  }

  /** The claims of an `AR~`/`RR~` token this unit issued; undefined for anything else. */
  open(token: string): OpenedToken {
    const match = /^(AR|RR)~([A-Za-z0-9_-]+)$/.exec(token);
    if (!match) return undefined;
    const text = unseal(this.#tokenKey, match[1]!, match[2]!);
    if (text === undefined) return undefined;
    let claims: unknown;
    try {
      claims = JSON.parse(text);
    } catch {
      return undefined;
    }
    if (!isClaims(claims) || claims.type !== match[1]) return undefined;
    return { claims, expired: Date.now() > claims.issuedAt + claims.lifespanMs };
  }

  cookie(peer: string, accessToken: string): string {
    return seal(this.#cookieKey, 'p_cookie', `${peer}\t${accessToken}`);
  }

  /** The access token a `p_cookie` holds when its peer is `peer`; undefined otherwise. */
  openCookie(value: string, peer: string): string | undefined {
    const text = unseal(this.#cookieKey, 'p_cookie', value);
    if (text === undefined) return undefined;
    const tab = text.indexOf('\t');
    return tab > 0 && text.slice(0, tab) === peer ? text.slice(tab + 1) : undefined;
  }
}
