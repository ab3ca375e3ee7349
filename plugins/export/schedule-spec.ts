// What an export schedule says and when it runs: the body of `PUT {CellURL}__export/schedule`
// checked with joi, the cron pattern read by croner (five fields, minutes), the zone by the
// runtime's own time-zone data. Every refusal is 400 PR400-SC-0001 naming the field.
import { Cron } from 'croner';
import Joi from 'joi';
import { personiumError } from '../../core/errors.ts';
import type { ExportSchedule } from '../../core/store.ts';

export interface ScheduleSpec {
  cron: string;
  keep: number;
  timeZone: string;
}

/** More than this many kept snapshots is taken for a typing error: the area holds 1,024 files by default. */
const mostKept = 1000;

/** Why `value` is no time zone of this runtime's time-zone data, or undefined. */
function zoneProblem(value: string): string | undefined {
  try {
    new Intl.DateTimeFormat('en', { timeZone: value });
    return undefined;
  } catch {
    return 'is not a time zone the server knows (an IANA name such as "Europe/Berlin", or "UTC")';
  }
}

/** Why `value` is no five-field cron pattern that ever falls on a time, or undefined. */
function cronProblem(value: string): string | undefined {
  let pattern: Cron;
  try {
    pattern = cronOf(value, 'UTC');
  } catch (error) {
    return `is not a five-field cron pattern (minute hour day-of-month month day-of-week): ${(error as Error).message.replace(/^CronPattern: /, '')}`;
  }
  return pattern.nextRun() ? undefined : 'never falls on a time';
}

const specSchema = Joi.object<ScheduleSpec>({
  cron: Joi.string().trim().max(200).required(),
  keep: Joi.number().integer().strict().min(1).max(mostKept).default(7),
  timeZone: Joi.string().max(100).default('UTC'),
}).unknown(false).messages({
  'any.required': 'is required',
  'string.base': 'must be a string',
  'string.empty': 'must not be empty',
  'string.max': 'is too long',
  'number.base': 'must be a number',
  'number.integer': 'must be a whole number',
  'number.min': `must be from 1 to ${mostKept}`,
  'number.max': `must be from 1 to ${mostKept}`,
  'object.unknown': 'is not a field of a schedule (cron, keep, timeZone)',
});

/** The body as a schedule; 400 PR400-SC-0001 naming the first field that is wrong. */
export function parseScheduleSpec(body: Record<string, unknown>): ScheduleSpec {
  const { error, value } = specSchema.validate(body, { abortEarly: true });
  if (error) {
    const detail = error.details[0]!;
    const field = detail.path.join('.') || String(detail.context?.key ?? 'body');
    throw personiumError('PR400-SC-0001', field, detail.message.replace(/^"[^"]*" /, ''));
  }
  const cron = cronProblem(value.cron);
  if (cron) throw personiumError('PR400-SC-0001', 'cron', cron);
  const zone = zoneProblem(value.timeZone);
  if (zone) throw personiumError('PR400-SC-0001', 'timeZone', zone);
  return value;
}

function cronOf(pattern: string, timeZone: string): Cron {
  return new Cron(pattern, { timezone: timeZone, mode: '5-part', paused: true });
}

/** The first time after `after` that the schedule falls on; undefined when it never does again. */
export function nextRunAfter(schedule: Pick<ExportSchedule, 'cron' | 'timeZone'>, after: Date): Date | undefined {
  try {
    return cronOf(schedule.cron, schedule.timeZone).nextRun(after) ?? undefined;
  } catch {
    // A store written by hand may hold a pattern or zone this runtime does not read: no runs.
    return undefined;
  }
}
