// Password hashes in Personium's formats: what Cellar writes (Spring's scrypt string) verifies,
// hashes Personium made (default and custom scrypt parameters, legacy sha-256) verify, and the
// password rule is Personium's default one.
import { createHash, randomBytes, scryptSync } from 'node:crypto';
import test from 'ava';
import { hashPassword, isValidPassword, verifyPassword } from '../core/password-hash.ts';
import { personiumScryptHash } from './helpers/personium-snapshot.ts';

test('a hash Cellar writes is Spring\'s $e0801$ string with a 64-byte salt and a 32-byte key, and verifies', async (t) => {
  const stored = await hashPassword('my-pass-1');
  t.regex(stored.HashedCredential, /^\$e0801\$[A-Za-z0-9+/]{86}==\$[A-Za-z0-9+/]{43}=$/);
  t.like(stored, { HashAlgorithm: 'scrypt', HashAttributes: '{"keyLength":32}' });
  t.true(await verifyPassword('my-pass-1', stored));
  t.false(await verifyPassword('my-pass-2', stored));
  t.not((await hashPassword('my-pass-1')).HashedCredential, stored.HashedCredential, 'a new salt each time');
});

test('hashes Personium made verify: default and custom scrypt parameters, and legacy sha-256', async (t) => {
  t.true(await verifyPassword('personium-1', { HashedCredential: personiumScryptHash('personium-1'), HashAlgorithm: 'scrypt', HashAttributes: '{"keyLength":32}' }));
  // N=1024 (log2 10), r=16, p=2, a 128-byte salt and a 64-byte key: params 0x0a1002.
  const salt = randomBytes(128);
  const key = scryptSync('custom-pass', salt, 64, { N: 1024, r: 16, p: 2 });
  const custom = { HashedCredential: `$a1002$${salt.toString('base64')}$${key.toString('base64')}`, HashAlgorithm: 'scrypt', HashAttributes: '{"keyLength":64}' };
  t.true(await verifyPassword('custom-pass', custom));
  t.false(await verifyPassword('custom-pasS', custom));
  const legacy = { HashedCredential: createHash('sha256').update('old-pass-1null').digest('hex'), HashAlgorithm: 'sha-256', HashAttributes: null };
  t.true(await verifyPassword('old-pass-1', legacy));
  t.true(await verifyPassword('old-pass-1', { HashedCredential: legacy.HashedCredential }), 'no algorithm means sha-256');
  t.false(await verifyPassword('old-pass-2', legacy));
});

test('no hash, a malformed one or hostile parameters never verify', async (t) => {
  t.false(await verifyPassword('x', undefined));
  t.false(await verifyPassword('x', { HashedCredential: 'not a hash', HashAlgorithm: 'scrypt' }));
  t.false(await verifyPassword('x', { HashedCredential: `$1f0801$${randomBytes(8).toString('base64')}$${randomBytes(8).toString('base64')}`, HashAlgorithm: 'scrypt' }), 'N = 2^31 is refused, not computed');
});

test('the password rule is Personium\'s default: 6-32 of letters, digits and -_!$*=^`{|}~.@', (t) => {
  for (const good of ['abcdef', 'x'.repeat(32), 'a-_!$*=^`{|}~.@']) t.true(isValidPassword(good), good);
  for (const bad of ['', 'abcde', 'x'.repeat(33), 'pass%word', 'pass word', 'あいうえおかき']) t.false(isValidPassword(bad), bad);
});
