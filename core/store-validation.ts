// What a `unit.json` must look like before the unit trusts it. A document that parses but is not a
// registry (null, a list, a number, a cell without an id, an id that is a path) is refused like an
// unparsable file: started over, it would show an empty unit or aim file operations outside the
// data directory.
import type { DocumentCheck } from './json-file.ts';

/** Ids are used as folder names: one plain segment of safe characters. */
const folderNamePattern = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
const cellNamePattern = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
const statuses = new Set(['normal', 'import failed']);
const jobKinds = new Set(['export', 'import']);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const isString = (value: unknown): value is string => typeof value === 'string';

/** A schedule the scheduler can read (its cron and zone are judged again when it is armed). */
function scheduleProblem(schedule: unknown): string | undefined {
  if (!isObject(schedule)) return 'is not an object';
  if (!isString(schedule.cron) || !isString(schedule.timeZone) || !isString(schedule.setAt)) return 'has no valid cron, timeZone or setAt';
  if (!Number.isInteger(schedule.keep) || (schedule.keep as number) < 1) return 'has no valid keep';
  if (schedule.lastRun !== undefined && (!isObject(schedule.lastRun) || !isString(schedule.lastRun.at) || !isString(schedule.lastRun.outcome))) return 'has an invalid lastRun';
  if (!Array.isArray(schedule.made)) return 'has no made list';
  for (const made of schedule.made) {
    if (!isObject(made) || !isString(made.name) || !isString(made.etag) || !isString(made.madeAt)) return 'has an invalid made entry';
  }
  return undefined;
}

function cellProblem(cell: unknown, index: number): string | undefined {
  const where = `cells[${index}]`;
  if (!isObject(cell)) return `${where} is not an object`;
  if (typeof cell.id !== 'string' || !folderNamePattern.test(cell.id)) return `${where} has no valid id`;
  if (typeof cell.name !== 'string' || !cellNamePattern.test(cell.name)) return `${where} has no valid name`;
  if (typeof cell.contentId !== 'string' || !folderNamePattern.test(cell.contentId)) return `${where} has no valid contentId`;
  if (typeof cell.status !== 'string' || !statuses.has(cell.status)) return `${where} has no valid status`;
  if (!Number.isFinite(cell.createdAt) || !Number.isFinite(cell.updatedAt)) return `${where} has no valid timestamps`;
  if (cell.job !== undefined) {
    const job = cell.job;
    if (!isObject(job) || typeof job.kind !== 'string' || !jobKinds.has(job.kind) || typeof job.name !== 'string' || typeof job.startedAt !== 'string') {
      return `${where} has an invalid job record`;
    }
  }
  if (cell.importFailure !== undefined && !isObject(cell.importFailure)) return `${where} has an invalid importFailure`;
  if (cell.exportSchedule !== undefined) {
    const problem = scheduleProblem(cell.exportSchedule);
    if (problem) return `${where}.exportSchedule ${problem}`;
  }
  return undefined;
}

export const checkUnitDocument: DocumentCheck = (parsed) => {
  if (!isObject(parsed)) return 'the document is not an object';
  if (parsed.version !== 1) return 'the document has no version 1';
  if (!Array.isArray(parsed.cells)) return 'the document has no cells list';
  const ids = new Set<string>();
  const names = new Set<string>();
  for (const [index, cell] of parsed.cells.entries()) {
    const problem = cellProblem(cell, index);
    if (problem) return problem;
    const { id, name } = cell as { id: string; name: string };
    if (ids.has(id)) return `cells[${index}] repeats the id ${id}`;
    if (names.has(name)) return `cells[${index}] repeats the name ${name}`;
    ids.add(id);
    names.add(name);
  }
  return undefined;
};
