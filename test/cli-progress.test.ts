import test from 'ava';
import { formatBytes, lineProgress } from '../bin/cellar/progress.ts';
import { defaultExportName } from '../bin/cellar/commands/jobs.ts';

function recorder() {
  const lines: string[] = [];
  let clock = 0;
  return { lines, write: (line: string) => lines.push(line), now: () => clock, advance: (ms: number) => { clock += ms; } };
}

test('plain progress lines come at most once a second, only when the percent has changed', (t) => {
  const out = recorder();
  const progress = lineProgress({ label: 'export cell1', total: 100, kind: 'percent' }, out.write, out.now);
  progress.update(5);
  out.advance(999);
  progress.update(10);
  out.advance(1);
  progress.update(42);
  out.advance(5000);
  progress.update(42);
  progress.stop(true);
  t.deepEqual(out.lines, ['export cell1: 0%', 'export cell1: 42%', 'export cell1: 100%']);
});

test('byte progress lines show the amounts, starting where a resumed download starts', (t) => {
  const out = recorder();
  const progress = lineProgress({ label: 'get a.zip', total: 4 * 1024 * 1024, kind: 'bytes', start: 1024 * 1024 }, out.write, out.now);
  out.advance(1000);
  progress.update(3 * 1024 * 1024);
  progress.stop();
  t.deepEqual(out.lines, ['get a.zip: 25% (1.0 MiB of 4.0 MiB)', 'get a.zip: 75% (3.0 MiB of 4.0 MiB)']);
});

test('a stopped progress that did not complete does not claim 100%', (t) => {
  const out = recorder();
  const progress = lineProgress({ label: 'import cell1', total: 100, kind: 'percent' }, out.write, out.now);
  progress.update(81);
  progress.stop();
  t.deepEqual(out.lines, ['import cell1: 0%', 'import cell1: 81%']);
});

test('sizes are written in binary units', (t) => {
  t.is(formatBytes(0), '0 B');
  t.is(formatBytes(1023), '1023 B');
  t.is(formatBytes(1536), '1.5 KiB');
  t.is(formatBytes(5 * 1024 ** 3), '5.0 GiB');
});

test('the default export name is {cell}_yyyyMMdd_HHmmss in UTC', (t) => {
  t.is(defaultExportName('cell1', new Date('2017-02-13T09:05:07.123Z')), 'cell1_20170213_090507');
});
