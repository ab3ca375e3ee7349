// Scheduled exports: each cell's schedule (kept in the unit store) is armed on the clock; a run is an
// ordinary export through CellExporter.start, under the default name, so it shows in GET __export
// and goes through the state machine like any other. Once it has made its zip, the oldest of the
// snapshots the schedule made beyond `keep` are removed; a file is the schedule's only while it is
// the very file the schedule wrote (same name and ETag), so one a person uploaded, replaced, renamed
// or exported by hand is never touched. A run that falls while the cell is busy, `import failed`
// or below the free-space floor is skipped and logged; one missed while the server was down is
// made up once when it starts.
import type { Clock } from '../../core/clock.ts';
import { activityOf } from '../../core/cell-status.ts';
import { bodyOf } from '../../core/errors.ts';
import type { Services } from '../../core/services.ts';
import type { CellRecord, ExportSchedule, ScheduledRun, ScheduledSnapshot } from '../../core/store.ts';
import { defaultExportName, type CellExporter } from './export-service.ts';
import { nextRunAfter, type ScheduleSpec } from './schedule-spec.ts';

type SchedulerServices = Pick<Services, 'config' | 'store' | 'jobs' | 'snapshots' | 'diskSpace' | 'logger' | 'cells'>;

export interface ScheduleView extends ScheduleSpec {
  nextRunAt: string | null;
  lastRun: ScheduledRun | null;
  /** The snapshots the schedule made that retention may remove, oldest first. */
  snapshots: string[];
}

export class ExportScheduler {
  readonly #timers = new Map<string, () => void>();
  readonly #running = new Set<Promise<void>>();
  #stopped = false;

  constructor(private readonly unit: SchedulerServices, private readonly exporter: CellExporter, private readonly clock: Clock) {
    unit.cells.onChange((cellId, change) => {
      if (change === 'removed') this.#disarm(cellId);
    });
  }

  /** Arms every schedule; a run the server missed while it was down is made up at once, once. */
  start(): void {
    this.#stopped = false;
    const now = this.clock.now();
    for (const cell of this.unit.store.listCells()) {
      const schedule = cell.exportSchedule;
      if (!schedule) continue;
      if (schedule.lastRun?.outcome === 'exporting') {
        // The server stopped during that run: start-up recovery left its `.error`.
        const interrupted: ScheduledRun = { ...schedule.lastRun, outcome: 'export failed', reason: `the server stopped during the export; see ${schedule.lastRun.name}.error` };
        void this.#record(cell.id, interrupted).catch((error: unknown) => this.unit.logger.error({ cellId: cell.id, err: error }, 'could not record an interrupted scheduled export'));
      }
      // A schedule set after its last run (a new pattern) owes nothing from before it was set.
      const since = new Date(Math.max(Date.parse(schedule.setAt), Date.parse(schedule.lastRun?.at ?? schedule.setAt)));
      const missed = nextRunAfter(schedule, since);
      if (missed && missed.getTime() <= now.getTime()) {
        this.unit.logger.info({ cell: cell.name, missed: missed.toISOString() }, 'a scheduled export fell while the server was down: it runs now, once');
        this.#timers.set(cell.id, this.clock.at(now, () => this.#fire(cell.id, now)));
      } else this.#arm(cell.id);
    }
  }

  /**
   * Cancels the timers and waits for the runs under way (the job runner is stopping their exports),
   * for the shutdown timeout at most: an export that does not stop is left to the restart.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const cancel of this.#timers.values()) cancel();
    this.#timers.clear();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => { timer = setTimeout(resolve, this.unit.config.shutdownTimeoutMs); });
    await Promise.race([Promise.allSettled([...this.#running]), late]);
    clearTimeout(timer);
  }

  async view(cell: CellRecord): Promise<ScheduleView | undefined> {
    const schedule = cell.exportSchedule;
    if (!schedule) return undefined;
    const next = nextRunAfter(schedule, this.clock.now());
    return {
      cron: schedule.cron,
      keep: schedule.keep,
      timeZone: schedule.timeZone,
      nextRunAt: next ? next.toISOString() : null,
      lastRun: schedule.lastRun ?? null,
      snapshots: (await this.#stillOwn(cell.id, schedule.made)).map((made) => `${made.name}.zip`),
    };
  }

  /** Those of `made` that are still the very files the schedule wrote. */
  async #stillOwn(cellId: string, made: ScheduledSnapshot[]): Promise<ScheduledSnapshot[]> {
    const area = this.unit.snapshots.of(cellId);
    const own: ScheduledSnapshot[] = [];
    for (const snapshot of made) {
      // Gone, or no longer the file the schedule wrote (replaced by a PUT or a MOVE): not its own.
      if ((await area.stat(`${snapshot.name}.zip`))?.etag === snapshot.etag) own.push(snapshot);
    }
    return own;
  }

  /** Sets the cell's schedule (what it made and its last run stay with it); says whether it replaced one. */
  async set(cell: CellRecord, spec: ScheduleSpec): Promise<boolean> {
    const before = cell.exportSchedule;
    const schedule: ExportSchedule = { ...spec, setAt: this.clock.now().toISOString(), made: before?.made ?? [] };
    if (before?.lastRun) schedule.lastRun = before.lastRun;
    await this.unit.store.writeExportSchedule(cell.id, schedule);
    this.#arm(cell.id);
    return before !== undefined;
  }

  /** Removes the schedule; the snapshots it made stay, and are nobody's to remove from then on. */
  async remove(cell: CellRecord): Promise<void> {
    await this.unit.store.writeExportSchedule(cell.id, undefined);
    this.#disarm(cell.id);
  }

  #arm(cellId: string): void {
    this.#disarm(cellId);
    const schedule = this.unit.store.getCellById(cellId)?.exportSchedule;
    if (!schedule || this.#stopped) return;
    const next = nextRunAfter(schedule, this.clock.now());
    if (next) this.#timers.set(cellId, this.clock.at(next, () => this.#fire(cellId, next)));
  }

  #disarm(cellId: string): void {
    this.#timers.get(cellId)?.();
    this.#timers.delete(cellId);
  }

  /** One run, tracked until its export has ended and its retention is done; the next is armed first. */
  #fire(cellId: string, at: Date): Promise<void> {
    this.#timers.delete(cellId);
    const run = this.#run(cellId, at).catch((error: unknown) => this.unit.logger.error({ cellId, err: error }, 'a scheduled export run failed'));
    this.#running.add(run);
    return run.finally(() => {
      this.#running.delete(run);
      // A run that failed before it armed the next one (a store write on a full disk) still does.
      if (!this.#timers.has(cellId)) this.#arm(cellId);
    });
  }

  async #run(cellId: string, at: Date): Promise<void> {
    const cell = this.unit.store.getCellById(cellId);
    if (!cell?.exportSchedule || this.#stopped) return;
    const name = defaultExportName(cell.name, this.clock.now());
    const skip = await this.#skipReason(cell);
    if (skip) {
      this.unit.logger.warn({ cell: cell.name, at: at.toISOString(), reason: skip }, `scheduled export skipped: ${skip}`);
      await this.#record(cellId, { at: at.toISOString(), outcome: 'skipped', reason: skip });
      this.#arm(cellId);
      return;
    }
    let ended!: (made: boolean) => void;
    const made = new Promise<boolean>((resolve) => { ended = resolve; });
    try {
      await this.exporter.start(cell, name, (zipMade) => ended(zipMade));
    } catch (error) {
      const reason = bodyOf(error).message.value;
      this.unit.logger.warn({ cell: cell.name, at: at.toISOString(), reason }, `scheduled export skipped: ${reason}`);
      await this.#record(cellId, { at: at.toISOString(), outcome: 'skipped', reason });
      this.#arm(cellId);
      return;
    }
    this.unit.logger.info({ cell: cell.name, at: at.toISOString(), name }, 'scheduled export started');
    await this.#record(cellId, { at: at.toISOString(), outcome: 'exporting', name });
    this.#arm(cellId);
    if (!(await made)) {
      await this.#record(cellId, { at: at.toISOString(), outcome: 'export failed', name, reason: `see ${name}.error` });
      return;
    }
    await this.#keepNewest(cellId, name, at);
  }

  async #skipReason(cell: CellRecord): Promise<string | undefined> {
    const activity = activityOf(cell);
    if (activity !== 'idle' || this.unit.jobs.isWaiting(cell.id)) return `the cell is busy (${activity === 'importing' ? 'cell import' : 'cell export'})`;
    if (cell.status === 'import failed') return 'the cell is import failed';
    if (await this.unit.diskSpace.belowFloor()) return 'the disk is almost full';
    return undefined;
  }

  /** Notes the run on the schedule (the schedule may have been replaced or removed meanwhile). */
  async #record(cellId: string, run: ScheduledRun, made?: ScheduledSnapshot[]): Promise<void> {
    const schedule = this.unit.store.getCellById(cellId)?.exportSchedule;
    if (!schedule) return;
    await this.unit.store.writeExportSchedule(cellId, { ...schedule, lastRun: run, made: made ?? schedule.made });
  }

  /** Adds the new zip to the schedule's own, then removes the oldest of its own beyond `keep`. */
  async #keepNewest(cellId: string, name: string, at: Date): Promise<void> {
    const area = this.unit.snapshots.of(cellId);
    const schedule = this.unit.store.getCellById(cellId)?.exportSchedule;
    const zip = await area.stat(`${name}.zip`);
    if (!schedule || !zip) return;
    const own = await this.#stillOwn(cellId, [...schedule.made, { name, etag: zip.etag, madeAt: at.toISOString() }]);
    const removed = own.splice(0, Math.max(0, own.length - schedule.keep));
    for (const old of removed) {
      await area.remove(`${old.name}.zip`).catch((error: unknown) => {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      });
    }
    if (removed.length) this.unit.logger.info({ cellId, removed: removed.map((old) => `${old.name}.zip`) }, 'removed scheduled snapshots beyond keep');
    await this.#record(cellId, { at: at.toISOString(), outcome: 'exported', name }, own);
  }
}
