// Account passwords, stored the way Personium stores them so that a hash travels in a snapshot
// and verifies on either side: Spring's SCryptPasswordEncoder string `$<params>$<salt>$<key>`
// (params hex = log2(N)·2¹⁶ + r·2⁸ + p; standard Base64), with HashAlgorithm "scrypt" and
// HashAttributes the key length as a JSON string. Legacy sha-256 hashes from old snapshots are
// verified (hex SHA-256 of password + unit salt) but never written.
import { createHash, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

export interface HashedCredential {
  HashedCredential: string;
  HashAlgorithm: string;
  HashAttributes: string | null;
}

const cost = { N: 16384, r: 8, p: 1 };
const keyLength = 32;
const saltLength = 64;
/** Personium's sha-256 hashes append the unit's salt; a unit without one appends Java's "null". */
const legacyUnitSalt = 'null';

/** Personium's default password rule, after the hard limit of 1-256 characters. */
const passwordRule = /^[a-zA-Z0-9\-_!$*=^`{|}~.@]{6,32}$/;

export function isValidPassword(password: string): boolean {
  return password.length >= 1 && password.length <= 256 && passwordRule.test(password);
}

function derive(password: string, salt: Buffer, length: number, options: ScryptOptions): Promise<Buffer> {
  const maxmem = 128 * options.N! * options.r! * (options.p! + 2) + 1024 * 1024;
  return new Promise((resolve, reject) => {
    scrypt(Buffer.from(password, 'utf8'), salt, length, { ...options, maxmem }, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

export async function hashPassword(password: string): Promise<HashedCredential> {
  const salt = randomBytes(saltLength);
  const key = await derive(password, salt, keyLength, cost);
  const params = (Math.log2(cost.N) * 65536 + cost.r * 256 + cost.p).toString(16);
  return {
    HashedCredential: `$${params}$${salt.toString('base64')}$${key.toString('base64')}`,
    HashAlgorithm: 'scrypt',
    HashAttributes: JSON.stringify({ keyLength }),
  };
}

function scryptParts(hashed: string): { options: ScryptOptions; salt: Buffer; key: Buffer } | undefined {
  const match = /^\$([0-9a-f]{1,8})\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(hashed);
  if (!match) return undefined;
  const params = Number.parseInt(match[1]!, 16);
  const log2N = params >> 16;
  const r = (params >> 8) & 0xff;
  const p = params & 0xff;
  // Bounds keep a hostile snapshot from asking for gigabytes of memory at each login.
  if (log2N < 1 || log2N > 20 || r < 1 || r > 32 || p < 1 || p > 16) return undefined;
  return { options: { N: 2 ** log2N, r, p }, salt: Buffer.from(match[2]!, 'base64'), key: Buffer.from(match[3]!, 'base64') };
}

function keyLengthOf(attributes: string | null | undefined, fallback: number): number {
  try {
    const value = (JSON.parse(attributes ?? '{}') as { keyLength?: unknown }).keyLength;
    return typeof value === 'number' && Number.isInteger(value) && value > 0 && value <= 1024 ? value : fallback;
  } catch {
    return fallback;
  }
}

const dummy = { salt: randomBytes(saltLength), length: keyLength };

/**
 * True when `password` matches. An account without a hash (or none at all: pass undefined) still
 * costs one scrypt, so the time of an answer does not tell whether the account exists.
 */
export async function verifyPassword(password: string, stored: Partial<HashedCredential> | undefined): Promise<boolean> {
  const algorithm = stored?.HashAlgorithm || 'sha-256';
  const hashed = stored?.HashedCredential;
  if (typeof hashed === 'string' && algorithm === 'scrypt') {
    const parts = scryptParts(hashed);
    if (parts) {
      const key = await derive(password, parts.salt, keyLengthOf(stored?.HashAttributes, parts.key.length), parts.options);
      return key.length === parts.key.length && timingSafeEqual(key, parts.key);
    }
  } else if (typeof hashed === 'string' && algorithm === 'sha-256' && /^[0-9a-f]{64}$/.test(hashed)) {
    await derive(password, dummy.salt, dummy.length, cost);
    const digest = createHash('sha256').update(password + legacyUnitSalt, 'utf8').digest();
    return timingSafeEqual(digest, Buffer.from(hashed, 'hex'));
  }
  await derive(password, dummy.salt, dummy.length, cost);
  return false;
}
