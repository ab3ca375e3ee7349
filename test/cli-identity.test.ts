// The CLI with cell identity: `cellar cell create --owner`, `cellar login` (password from stdin,
// tokens kept with mode 0600 and refreshed when expired), existing commands working with the
// login instead of the master token, accounts, roles and ACL grants, and `cellar logout`.
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { cellar, listeningUnit } from './helpers/cli.ts';
import { json } from './helpers/unit.ts';

test('an owner made with cell create --owner logs in, exports and lists snapshots with the login, and manages accounts, roles and ACLs', async (t) => {
  t.timeout(300_000, 'two dozen command runs, each starting node');
  const unit = await listeningUnit();
  const home = await mkdtemp(path.join(os.tmpdir(), 'cellar-cli-login-'));
  t.teardown(async () => {
    await unit.stop();
    await rm(home, { recursive: true, force: true });
  });
  const admin = (args: string[], input?: string) => cellar(unit, args, { env: { CELLAR_CONFIG_HOME: home }, ...(input === undefined ? {} : { input }) });
  const owner = (args: string[], input?: string) => cellar(unit, args, { env: { CELLAR_CONFIG_HOME: home, CELLAR_TOKEN: undefined }, ...(input === undefined ? {} : { input }) });

  const created = await admin(['cell', 'create', 'home', '--owner', 'me', '--password-stdin'], 'owner-pass-1\n');
  t.is(created.code, 0, created.stderr);
  const noPassword = await owner(['login', 'home', 'me']);
  t.is(noPassword.code, 2, 'without a terminal the password must come with --password-stdin');
  const wrong = await owner(['login', 'home', 'me', '--password-stdin'], 'wrong-pass-1\n');
  t.is(wrong.code, 1);
  t.regex(wrong.stderr, /PR400-AN-0017 Authentication failed/);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const logged = await owner(['login', 'home', 'me', '--password-stdin'], 'owner-pass-1\n');
  t.is(logged.code, 0, logged.stderr);
  const file = path.join(home, 'cellar', 'logins.json');
  t.is((await stat(file)).mode & 0o777, 0o600);
  t.is((await stat(path.dirname(file))).mode & 0o777, 0o700);

  const exported = await owner(['export', 'home', '--name', 'b1', '--wait', '-q']);
  t.is(exported.code, 0, exported.stderr);
  t.regex((await owner(['snapshot', 'ls', 'home'])).stdout, /b1\.zip/);
  t.is((await owner(['cell', 'list'])).code, 2, 'unit-level commands still need the master token');

  t.is((await owner(['account', 'create', 'home', 'friend', '--password-stdin'], 'friend-pass-1\n')).code, 0);
  t.is((await owner(['role', 'create', 'home', 'readers'])).code, 0);
  t.is((await owner(['role', 'grant', 'home', 'friend', 'readers'])).code, 0);
  t.is((await owner(['acl', 'grant', 'home', 'readers', 'box-read'])).code, 0);
  t.deepEqual(json({ payload: (await owner(['account', 'list', 'home', '--json'])).stdout }).map((one: { Name: string }) => one.Name).sort(), ['friend', 'me']);
  const acl = await unit.as({ method: 'PROPFIND', url: '/home/', headers: { depth: '0' } });
  t.true(acl.payload.includes('<D:ace><D:principal><D:href>owner</D:href></D:principal><D:grant><D:privilege><p:root/></D:privilege></D:grant></D:ace><D:ace><D:principal><D:href>readers</D:href></D:principal><D:grant><D:privilege><p:box-read/></D:privilege></D:grant></D:ace>'), acl.payload);
  t.is((await owner(['acl', 'revoke', 'home', 'readers', 'box-read'])).code, 0);
  t.false((await unit.as({ method: 'PROPFIND', url: '/home/', headers: { depth: '0' } })).payload.includes('readers'));
  t.is((await owner(['acl', 'grant', 'home', 'readers', 'read', '--box', '__'])).code, 0);
  t.is((await owner(['role', 'revoke', 'home', 'friend', 'readers'])).code, 0);
  t.is((await owner(['role', 'delete', 'home', 'readers'])).code, 0);
  t.is((await owner(['account', 'delete', 'home', 'friend'])).code, 0);

  // An expired access token is refreshed with the kept refresh token.
  const logins = JSON.parse(await readFile(file, 'utf8'));
  const key = Object.keys(logins)[0]!;
  const before = logins[key].accessToken;
  logins[key].accessExpiresAt = Date.now() - 1000;
  await writeFile(file, JSON.stringify(logins));
  t.is((await owner(['snapshot', 'ls', 'home'])).code, 0);
  t.not(JSON.parse(await readFile(file, 'utf8'))[key].accessToken, before, 'a new access token was kept');

  t.is((await owner(['logout', 'home'])).code, 0);
  const after = await owner(['snapshot', 'ls', 'home']);
  t.is(after.code, 2);
  t.regex(after.stderr, /cellar login home/);
});
