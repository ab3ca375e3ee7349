// Exporting a cell: accepting the request through the cell state machine, then, as a
// job, streaming the cell into a hidden temporary file of its snapshot area that becomes
// `{Name}.zip` only once it is complete and on disk. Any failure leaves `{Name}.error` instead.
import { rm } from 'node:fs/promises';
import { isPersoniumError, personiumError } from '../../core/errors.ts';
import { snapshotExportVersion, type SnapshotManifest } from '../../core/export-format.ts';
import type { CellRecord } from '../../core/store.ts';
import type { BeforeEntryHook } from '../../core/jobs.ts';
import { keptThreadsMs } from '../../core/kept-threads.ts';
import type { Services } from '../../core/services.ts';
import { cellarVersion } from '../../core/version.ts';
import { cellLine, pjsonContents } from './odata-entries.ts';
import { failureBody, type ZipJobInput } from './zip-job.ts';
import { ExportThreads, writeSnapshotZipInThread } from './zip-thread.ts';
import { temporariesOf } from './zip-writer.ts';

export interface ExportSettings {
  /** zlib level of deflated entries. */
  level: number;
  /** How long the start waits for writes already under way in the cell. */
  writeDrainMs: number;
  beforeEntry?: BeforeEntryHook | undefined;
}

type ExportServices = Pick<Services, 'store' | 'status' | 'jobs' | 'writes' | 'snapshots' | 'contents' | 'logger' | 'urls'>;

/** `{CellName}_yyyyMMdd_HHmmss` in UTC. */
export function defaultExportName(cellName: string, now: Date): string {
  const digits = now.toISOString().replace(/[-:]/g, '');
  return `${cellName}_${digits.slice(0, 8)}_${digits.slice(9, 15)}`;
}


export class CellExporter {
  /** The export thread (and its deflating thread), kept a minute after an export for the next one. */
  readonly #threads = new ExportThreads(keptThreadsMs);

  constructor(private readonly unit: ExportServices, readonly settings: ExportSettings) {}

  /** Ends the threads kept between exports (the server stops). */
  async close(): Promise<void> {
    await this.#threads.close();
  }

  /**
   * Accepts an export: refuses a taken name, then records the job through the state machine (the
   * record is on disk when this resolves, and new writes are refused from then on), waits for the
   * writes already under way, and queues it. Writes that do not end in time: 409 PR409-MC-0001.
   * `onEnd` is told, once the job has ended, whether `{name}.zip` was made.
   */
  async start(cell: CellRecord, name: string, onEnd?: (made: boolean) => void): Promise<void> {
    const { status, jobs, snapshots } = this.unit;
    if (await snapshots.of(cell.id).exists(`${name}.zip`)) throw personiumError('PR409-DV-0002', `${name}.zip`);
    try {
      await status.accept(cell.id, 'export', name, new Date());
    } catch (error) {
      if (!isPersoniumError(error)) throw error;
      // Two POSTs raced past the gate: the one that lost to an export of its own name is told so.
      const running = this.unit.store.getCellById(cell.id)?.job;
      if (running?.kind === 'export' && running.name === name) throw personiumError('PR409-DV-0002', `${name}.zip`);
      throw error;
    }
    if (!(await this.unit.writes.drained(cell.id, this.settings.writeDrainMs))) {
      await status.endExport(cell.id);
      throw personiumError('PR409-MC-0001');
    }
    jobs.submit({ cellId: cell.id, kind: 'export', name, run: async (signal) => {
      const made = await this.run(cell.id, name, signal);
      onEnd?.(made);
    } });
  }

  /** The job: never throws; it ends the export through the state machine however it goes, and says whether the zip was made. */
  async run(cellId: string, name: string, signal: AbortSignal): Promise<boolean> {
    const { status, snapshots, logger } = this.unit;
    const area = snapshots.of(cellId);
    let temp: string | undefined;
    try {
      signal.throwIfAborted();
      await area.ensure();
      temp = area.tempPath(`export-${name}`);
      await this.#writeZip(cellId, temp, signal);
      await area.commit(temp, `${name}.zip`, 'application/zip');
      status.reportProgress(cellId, 100);
      if (await area.exists(`${name}.error`)) await area.remove(`${name}.error`);
      logger.info({ cellId, name }, 'cell export done');
      return true;
    } catch (error) {
      const body = failureBody(error, undefined, signal);
      logger.warn({ cellId, name, err: error, code: body.code }, 'cell export failed');
      if (temp) for (const file of temporariesOf(temp)) await rm(file, { force: true }).catch(() => {});
      await area.writeSmallFile(`${name}.error`, JSON.stringify(body), 'application/json')
        .catch((writeError: unknown) => logger.error({ cellId, name, err: writeError }, 'could not write the export .error file'));
      return false;
    } finally {
      await status.endExport(cellId).catch((error: unknown) => logger.error({ cellId, name, err: error }, 'could not end the export'));
    }
  }

  /** Prepares the small entries here, then has the export thread write the zip into `temp`. */
  async #writeZip(cellId: string, temp: string, signal: AbortSignal): Promise<void> {
    const { contents, store, status } = this.unit;
    const cell = store.getCellById(cellId);
    if (!cell) throw personiumError('PR404-DV-0003');
    const document = (await contents.odata(cell)).data;
    const createdAt = new Date();
    const manifest: SnapshotManifest = {
      export_version: snapshotExportVersion,
      unit_url: this.unit.urls.unit(),
      create_date: createdAt.getTime(),
      cell_name: cell.name,
      generator: `cellar ${cellarVersion}`,
    };
    const input: ZipJobInput = {
      davRoot: contents.davRoot(cell),
      temp,
      level: this.settings.level,
      createdAt: createdAt.getTime(),
      manifest: JSON.stringify(manifest),
      cellJson: JSON.stringify(cellLine(cell, document)),
      odata: pjsonContents(cell, document),
    };
    const hook = this.settings.beforeEntry;
    await writeSnapshotZipInThread(input, {
      signal,
      onProgress: (percent) => status.reportProgress(cellId, percent),
      ...(hook ? { beforeEntry: (entry: string) => hook(entry, signal) } : {}),
    }, this.#threads);
  }
}
