// The system clock the scheduled exports run by: a call at a time comes once that time has come,
// a call at a past time comes at once, and a cancelled call never comes.
import test from 'ava';
import { systemClock } from '../core/clock.ts';

test('the system clock calls at the given time, not before, and at once for a time already past', async (t) => {
  const start = Date.now();
  const calledAt = await new Promise<number>((resolve) => { systemClock.at(new Date(start + 120), () => resolve(Date.now())); });
  t.true(calledAt - start >= 119, `called after ${calledAt - start} ms`);
  const late = Date.now();
  const pastCalledAt = await new Promise<number>((resolve) => { systemClock.at(new Date(late - 60_000), () => resolve(Date.now())); });
  t.true(pastCalledAt - late < 1000);
});

test('a cancelled call of the system clock never comes', async (t) => {
  let called = 0;
  const cancel = systemClock.at(new Date(Date.now() + 50), () => { called += 1; });
  cancel();
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.is(called, 0);
  t.true(Math.abs(systemClock.now().getTime() - Date.now()) < 1000);
});
