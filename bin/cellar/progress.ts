// Progress on stderr, so stdout stays for results: a cli-progress bar on a terminal, otherwise
// plain lines (`export cell1: 42%`) at most once a second and only when the percent has changed,
// plus the first and the last. Nothing at all with --json or --quiet.
import cliProgress from 'cli-progress';

export interface Progress {
  /** Sets the amount done, in the unit of `total` (bytes or percent). */
  update(done: number): void;
  /** Ends the display; `complete` draws 100% first. */
  stop(complete?: boolean): void;
}

export interface ProgressOptions {
  label: string;
  total: number;
  /** Bytes show as sizes (`12.0 MiB / 40.0 MiB`); percent shows only the percentage. */
  kind: 'bytes' | 'percent';
  start?: number;
}

export type ProgressMode = 'bar' | 'lines' | 'none';

export function progressMode(options: { json?: boolean; quiet?: boolean }, stream: NodeJS.WriteStream = process.stderr): ProgressMode {
  if (options.json || options.quiet) return 'none';
  return stream.isTTY ? 'bar' : 'lines';
}

export function createProgress(mode: ProgressMode, options: ProgressOptions): Progress {
  if (mode === 'none') return { update() {}, stop() {} };
  const display = mode === 'bar' ? barProgress(options) : lineProgress(options, (line) => process.stderr.write(`${line}\n`));
  let stopped = false;
  return {
    update(done) { if (!stopped) display.update(done); },
    stop(complete) {
      if (stopped) return;
      stopped = true;
      display.stop(complete);
    },
  };
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function percentOf(done: number, total: number): number {
  if (total <= 0) return done > 0 ? 100 : 0;
  return Math.min(100, Math.floor((done / total) * 100));
}

function barProgress(options: ProgressOptions): Progress {
  const amounts = options.kind === 'bytes' ? ' | {done} / {size}' : '';
  const bar = new cliProgress.SingleBar({
    format: `${options.label} [{bar}] {percentage}%${amounts}`,
    stream: process.stderr,
    hideCursor: true,
    barsize: 30,
  }, cliProgress.Presets.shades_classic);
  const { total } = options;
  const sizes = (done: number) => ({ done: formatBytes(done), size: formatBytes(total) });
  bar.start(total, options.start ?? 0, sizes(options.start ?? 0));
  return {
    update(done) { bar.update(done, sizes(done)); },
    stop(complete) {
      if (complete) bar.update(total, sizes(total));
      bar.stop();
    },
  };
}

/** Plain lines for logs and pipes; exported for its throttling rule. */
export function lineProgress(options: ProgressOptions, write: (line: string) => void, now: () => number = Date.now): Progress {
  const { total } = options;
  let done = options.start ?? 0;
  let lastPercent = -1;
  let lastAt = -Infinity;
  const line = (percent: number) => options.kind === 'bytes'
    ? `${options.label}: ${percent}% (${formatBytes(done)} of ${formatBytes(total)})`
    : `${options.label}: ${percent}%`;
  const print = (force: boolean) => {
    const percent = percentOf(done, total);
    if (percent === lastPercent) return;
    if (!force && now() - lastAt < 1000) return;
    write(line(percent));
    lastPercent = percent;
    lastAt = now();
  };
  print(true);
  return {
    update(next) { done = next; print(false); },
    stop(complete) {
      if (complete) done = Math.max(done, total);
      print(true);
    },
  };
}

/**
 * Progress of a transfer whose size is not known in advance (a unit backup): the bytes so far (and
 * a count of what they hold, when known), on a terminal redrawn in place, otherwise a line at most
 * every second.
 */
export function createCountProgress(mode: ProgressMode, label: string, now: () => number = Date.now): { update(bytes: number, entries?: number): void; stop(): void } {
  if (mode === 'none') return { update() {}, stop() {} };
  let lastAt = -Infinity;
  let last = '';
  const show = (text: string, force: boolean) => {
    if (text === last || (!force && now() - lastAt < (mode === 'bar' ? 100 : 1000))) return;
    process.stderr.write(mode === 'bar' ? `\r\x1b[2K${text}` : `${text}\n`);
    last = text;
    lastAt = now();
  };
  let current = `${label}: 0 B`;
  return {
    update(bytes, entries) {
      current = `${label}: ${formatBytes(bytes)}${entries === undefined ? '' : `, ${entries} entries`}`;
      show(current, false);
    },
    stop() {
      show(current, true);
      if (mode === 'bar') process.stderr.write('\n');
    },
  };
}
