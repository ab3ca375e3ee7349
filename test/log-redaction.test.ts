// Nothing secret reaches the log: passwords (X-Personium-Credential), tokens (Authorization,
// token responses, refresh grants), the p_cookie cookie and its peer, at the most verbose level.
import test from 'ava';
import { addAccountWithRole, bearer, login, ownerPassword } from './helpers/identity.ts';
import { startUnit } from './helpers/unit.ts';

test('log lines never carry a password, a token, the p_cookie cookie or its peer', async (t) => {
  const unit = await startUnit({ logLevel: 'trace' });
  t.teardown(() => unit.stop());
  await unit.createCell('cell1');
  await addAccountWithRole(unit, 'cell1', 'me', 'owners', ['root']);
  const logged = await login(unit, 'cell1', 'me', ownerPassword, { p_cookie: 'true' });
  const refreshed = await unit.inject({ method: 'POST', url: '/cell1/__token', payload: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: logged.refresh_token }).toString() });
  const fresh = JSON.parse(refreshed.payload) as { access_token: string; refresh_token: string };
  await unit.inject({ url: '/cell1/__export', headers: bearer(logged.access_token) });
  await unit.inject({ url: `/cell1/__export?p_cookie_peer=${logged.p_cookie_peer}`, headers: { cookie: logged.cookie! } });
  await unit.inject({ url: '/cell1/__export?p_cookie_peer=wrong-peer', headers: { cookie: logged.cookie! } });
  await unit.inject({ method: 'PUT', url: "/cell1/__ctl/Account('me')", headers: { ...bearer(logged.access_token), 'x-personium-credential': 'second-pass-9' }, payload: { Name: 'me' } });
  await unit.inject({ method: 'POST', url: '/cell1/__ctl/Account', headers: { ...bearer(logged.access_token), 'x-personium-credential': 'bad' }, payload: { Name: 'x' } });
  await unit.inject({ url: '/cell1/__export', headers: { ...bearer(fresh.access_token), 'x-override': `Authorization: Bearer ${fresh.refresh_token}` } });
  const secrets = [ownerPassword, 'second-pass-9', logged.access_token, logged.refresh_token, fresh.access_token, fresh.refresh_token, logged.cookie!.split('=')[1]!, logged.p_cookie_peer!, unit.config.masterToken];
  const text = unit.logs.join('');
  t.true(unit.logs.length > 10, 'requests were logged');
  t.true(text.includes('p_cookie_peer=[redacted]'), 'the peer is redacted in the logged URL');
  for (const secret of secrets) t.false(text.includes(secret), `${secret.slice(0, 12)}... is not in the log: ${unit.logs.find((line) => line.includes(secret))}`);
});
