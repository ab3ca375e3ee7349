// `cellar schedule get|set|rm CELL`: the cell's export schedule (`{CellURL}__export/schedule`):
// when exports run by themselves, in which zone, and how many of the snapshots they made are kept.
import type { Context } from '../context.ts';
import { UsageError } from '../errors.ts';

interface ScheduleView {
  cron: string;
  keep: number;
  timeZone: string;
  nextRunAt: string | null;
  lastRun: { at: string; outcome: string; name?: string; reason?: string } | null;
  snapshots: string[];
}

const scheduleUrl = (context: Context, cell: string) => context.client.cellUrl(cell, '__export/schedule');

function describe(cell: string, view: ScheduleView): string {
  const lines = [
    `schedule of ${cell}: ${view.cron} (${view.timeZone}), keeps the newest ${view.keep} of its snapshots`,
    `next run: ${view.nextRunAt ?? 'none (the pattern falls on no later time)'}`,
  ];
  if (view.lastRun) {
    const { at, outcome, name, reason } = view.lastRun;
    lines.push(`last run: ${at} ${outcome}${name ? ` ${name}` : ''}${reason ? ` (${reason})` : ''}`);
  }
  lines.push(`its snapshots: ${view.snapshots.length ? view.snapshots.join(', ') : 'none yet'}`);
  return lines.join('\n');
}

export async function getSchedule(context: Context, cell: string): Promise<void> {
  const view = await context.client.requestJson<ScheduleView>('GET', scheduleUrl(context, cell), { expect: [200] });
  context.result(view, describe(cell, view!));
}

export async function setSchedule(context: Context, cell: string, options: { cron: string; keep?: string; timeZone?: string }): Promise<void> {
  const body: Record<string, unknown> = { cron: options.cron };
  if (options.keep !== undefined) {
    const keep = Number(options.keep);
    if (!Number.isInteger(keep)) throw new UsageError(`--keep must be a whole number, not ${JSON.stringify(options.keep)}`);
    body.keep = keep;
  }
  if (options.timeZone !== undefined) body.timeZone = options.timeZone;
  const view = await context.client.requestJson<ScheduleView>('PUT', scheduleUrl(context, cell), { json: body, expect: [200, 201] });
  context.result(view, describe(cell, view!));
}

export async function removeSchedule(context: Context, cell: string): Promise<void> {
  await context.client.request('DELETE', scheduleUrl(context, cell), { expect: [204] });
  context.result({ cell, removed: true }, `removed the export schedule of ${cell}; the snapshots it made stay`);
}
