// Locks stop everyone who does not submit the token (423), whoever they are; shared locks share,
// timeouts expire, and the table is bounded.
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { LockTable, lockLimits } from '../plugins/box-dav/locks.ts';
import { json } from './helpers/unit.ts';
import { box, lockBody, propfind, proppatchBody, put, unitWithBox } from './helpers/box.ts';

async function lockOf(unit: Awaited<ReturnType<typeof unitWithBox>>, url: string, scope: 'exclusive' | 'shared' = 'exclusive', headers: Record<string, string> = {}) {
  const res = await unit.as({ method: 'LOCK', url, payload: lockBody(scope), headers: { 'content-type': 'application/xml', ...headers } });
  const token = /^<(urn:uuid:[0-9a-f-]{36})>$/.exec(String(res.headers['lock-token']))?.[1];
  return { res, token: token! };
}

test('LOCK answers a Coded-URL Lock-Token and lockdiscovery; PROPFIND shows the active lock', async (t) => {
  const unit = await unitWithBox(t);
  await put(unit, `${box}/a.txt`, 'x');
  const { res, token } = await lockOf(unit, `${box}/a.txt`);
  t.is(res.statusCode, 200);
  t.truthy(token, String(res.headers['lock-token']));
  t.regex(res.payload, new RegExp(`<D:locktoken><D:href>${token}</D:href></D:locktoken>`));
  const props = await propfind(unit, `${box}/a.txt`, '0');
  t.regex(props.payload, /<D:lockdiscovery><D:activelock>.*<D:exclusive\/>.*<D:owner>tester<\/D:owner>/);
});

test('without the token, PUT, DELETE, MOVE, COPY onto it and PROPPATCH of a locked file get 423; with it they pass', async (t) => {
  const unit = await unitWithBox(t);
  await put(unit, `${box}/a.txt`, 'locked');
  await put(unit, `${box}/b.txt`, 'other');
  const { token } = await lockOf(unit, `${box}/a.txt`);
  const attempts = [
    () => put(unit, `${box}/a.txt`, 'changed'),
    () => unit.as({ method: 'DELETE', url: `${box}/a.txt` }),
    () => unit.as({ method: 'MOVE', url: `${box}/a.txt`, headers: { destination: `${box}/c.txt` } }),
    () => unit.as({ method: 'COPY', url: `${box}/b.txt`, headers: { destination: `${box}/a.txt` } }),
    () => unit.as({ method: 'PROPPATCH', url: `${box}/a.txt`, payload: proppatchBody('<Z:p>v</Z:p>') }),
  ];
  for (const attempt of attempts) {
    const res = await attempt();
    t.is(res.statusCode, 423, `${res.raw.req.method}`);
    t.is(json(res).code, 'PR423-DV-0001');
  }
  const wrong = await put(unit, `${box}/a.txt`, 'changed', { if: '(<urn:uuid:00000000-0000-0000-0000-000000000000>)' });
  t.is(wrong.statusCode, 412, 'a token that is not the lock\'s makes the If header false');
  const notTheLock = await put(unit, `${box}/a.txt`, 'changed', { if: '(Not <DAV:no-lock>)' });
  t.is(notTheLock.statusCode, 423, 'a true If header without the token still meets the lock');
  t.is((await unit.as({ method: 'GET', url: `${box}/a.txt` })).payload, 'locked');
  t.is((await put(unit, `${box}/a.txt`, 'changed', { if: `(<${token}>)` })).statusCode, 204);
  t.is((await unit.as({ method: 'PROPPATCH', url: `${box}/a.txt`, payload: proppatchBody('<Z:p>v</Z:p>'), headers: { if: `<http://unit.test${box}/a.txt> (<${token}>)` } })).statusCode, 207);
});

test('a depth-infinity lock on a collection protects new members; a depth-0 one its membership only', async (t) => {
  const unit = await unitWithBox(t);
  await unit.as({ method: 'MKCOL', url: `${box}/deep` });
  await unit.as({ method: 'MKCOL', url: `${box}/flat` });
  await put(unit, `${box}/flat/member.txt`, 'x');
  const deep = await lockOf(unit, `${box}/deep`);
  const flat = await lockOf(unit, `${box}/flat`, 'exclusive', { depth: '0' });
  t.is((await put(unit, `${box}/deep/new.txt`, 'x')).statusCode, 423);
  t.is((await unit.as({ method: 'MKCOL', url: `${box}/deep/sub` })).statusCode, 423);
  t.is((await put(unit, `${box}/deep/new.txt`, 'x', { if: `(<${deep.token}>)` })).statusCode, 201);
  t.is((await put(unit, `${box}/flat/new.txt`, 'x')).statusCode, 423, 'adding a member changes the collection');
  t.is((await put(unit, `${box}/flat/member.txt`, 'changed')).statusCode, 204, 'changing a member does not');
  t.is((await unit.as({ method: 'DELETE', url: `${box}/flat` })).statusCode, 423);
  t.is((await unit.as({ method: 'DELETE', url: `${box}/flat`, headers: { if: `(<${flat.token}>)` } })).statusCode, 204);
});

test('shared locks coexist and each holder may write; an exclusive lock over them is 423', async (t) => {
  const unit = await unitWithBox(t);
  await put(unit, `${box}/a.txt`, 'x');
  const first = await lockOf(unit, `${box}/a.txt`, 'shared');
  const second = await lockOf(unit, `${box}/a.txt`, 'shared');
  t.is(first.res.statusCode, 200);
  t.is(second.res.statusCode, 200);
  t.not(first.token, second.token);
  t.is((await lockOf(unit, `${box}/a.txt`, 'exclusive')).res.statusCode, 423);
  t.is((await put(unit, `${box}/a.txt`, 'y')).statusCode, 423);
  t.is((await put(unit, `${box}/a.txt`, 'y', { if: `(<${second.token}>)` })).statusCode, 204);
});

test('a lock expires after its timeout, and a refresh with the token extends it', async (t) => {
  const unit = await unitWithBox(t);
  await put(unit, `${box}/a.txt`, 'x');
  await put(unit, `${box}/b.txt`, 'x');
  const short = await lockOf(unit, `${box}/a.txt`, 'exclusive', { timeout: 'Second-1' });
  t.regex(short.res.payload, /<D:timeout>Second-1<\/D:timeout>/);
  const kept = await lockOf(unit, `${box}/b.txt`, 'exclusive', { timeout: 'Second-1' });
  const refreshed = await unit.as({ method: 'LOCK', url: `${box}/b.txt`, headers: { if: `(<${kept.token}>)`, timeout: 'Second-600' } });
  t.is(refreshed.statusCode, 200);
  t.regex(refreshed.payload, /<D:timeout>Second-600<\/D:timeout>/);
  await sleep(1200);
  t.is((await put(unit, `${box}/a.txt`, 'after expiry')).statusCode, 204);
  t.is((await put(unit, `${box}/b.txt`, 'still locked')).statusCode, 423);
});

test('UNLOCK needs the lock\'s token as a Coded-URL: 400 without brackets, 409 for another token, 204 then writes pass', async (t) => {
  const unit = await unitWithBox(t);
  await put(unit, `${box}/a.txt`, 'x');
  const { token } = await lockOf(unit, `${box}/a.txt`);
  t.is((await unit.as({ method: 'UNLOCK', url: `${box}/a.txt`, headers: { 'lock-token': token } })).statusCode, 400);
  t.is((await unit.as({ method: 'UNLOCK', url: `${box}/a.txt` })).statusCode, 400);
  t.is((await unit.as({ method: 'UNLOCK', url: `${box}/a.txt`, headers: { 'lock-token': '<urn:uuid:00000000-0000-0000-0000-000000000000>' } })).statusCode, 409);
  t.is((await unit.as({ method: 'UNLOCK', url: `${box}/a.txt`, headers: { 'lock-token': `<${token}>` } })).statusCode, 204);
  t.is((await put(unit, `${box}/a.txt`, 'free')).statusCode, 204);
});

test(`a resource takes at most ${lockLimits.perResource} locks (then 423 PR423-DV-0002) and an owner at most ${lockLimits.ownerBytes} bytes (400)`, async (t) => {
  const unit = await unitWithBox(t);
  await put(unit, `${box}/a.txt`, 'x');
  for (let i = 0; i < lockLimits.perResource; i++) t.is((await lockOf(unit, `${box}/a.txt`, 'shared')).res.statusCode, 200, `lock ${i}`);
  const over = await lockOf(unit, `${box}/a.txt`, 'shared');
  t.is(over.res.statusCode, 423);
  t.is(json(over.res).code, 'PR423-DV-0002');
  await put(unit, `${box}/b.txt`, 'x');
  const big = await unit.as({ method: 'LOCK', url: `${box}/b.txt`, payload: lockBody('shared', 'o'.repeat(lockLimits.ownerBytes + 1)) });
  t.is(big.statusCode, 400);
  t.is(json(big).code, 'PR400-DV-0011');
});

test(`the lock table holds at most ${lockLimits.total} locks in all, and expired ones make room`, (t) => {
  let now = 1_000_000;
  const table = new LockTable(() => now);
  for (let i = 0; i < lockLimits.total; i++) {
    t.not(typeof table.create('box', [`f${i}`], { scope: 'exclusive', depth: 0, owner: '', timeoutSeconds: 60 }), 'string');
  }
  t.is(table.size, lockLimits.total);
  t.is(table.create('box', ['one-more'], { scope: 'exclusive', depth: 0, owner: '', timeoutSeconds: 60 }), 'full');
  now += 61_000;
  t.not(typeof table.create('box', ['one-more'], { scope: 'exclusive', depth: 0, owner: '', timeoutSeconds: 60 }), 'string');
  t.is(table.size, 1);
});

test('LOCK of an unmapped URL creates an empty file (201) that only the token holder may write', async (t) => {
  const unit = await unitWithBox(t);
  const { res, token } = await lockOf(unit, `${box}/reserved.txt`);
  t.is(res.statusCode, 201);
  t.is((await unit.as({ method: 'GET', url: `${box}/reserved.txt` })).payload, '');
  t.is((await put(unit, `${box}/reserved.txt`, 'mine')).statusCode, 423);
  t.is((await put(unit, `${box}/reserved.txt`, 'mine', { if: `(<${token}>)` })).statusCode, 204);
});
