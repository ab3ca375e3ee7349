// Exporting a cell (spec §7, §8): accepting the request through the cell state machine, then, as a
// job, streaming the cell into a hidden temporary file of its snapshot area that becomes
// `{Name}.zip` only once it is complete and on disk. Any failure leaves `{Name}.error` instead.
import { rm } from 'node:fs/promises';
import { CellarError, asHttpError, errorBody, personiumError, type PersoniumErrorBody } from '../../core/errors.ts';
import { cellEntry, checksumsEntry, manifestEntry, odataFolder, snapshotExportVersion, webdavFolder, type SnapshotManifest } from '../../core/export-format.ts';
import type { CellRecord } from '../../core/store.ts';
import type { Unit } from '../../core/server.ts';
import { cellarVersion } from '../../core/version.ts';
import { measureTree, walkTree } from './cell-tree.ts';
import { cellLine, pjsonContents } from './odata-entries.ts';
import { ExportProgress } from './progress.ts';
import { SizeChangedError, SnapshotZipWriter, zip64Threshold } from './zip-writer.ts';

export interface ExportSettings {
  /** zlib level of deflated entries; incompressible files are stored whatever the level. */
  level: number;
}

/**
 * Test seam: awaited before each entry goes into the archive, with the entry's name and the job's
 * signal. Tests use it to hold an export in progress, or to make one fail, at a chosen point.
 */
export type BeforeEntryHook = (entry: string, signal: AbortSignal) => Promise<void>;

/** `{CellName}_yyyyMMdd_HHmmss` in UTC. */
export function defaultExportName(cellName: string, now: Date): string {
  const digits = now.toISOString().replace(/[-:]/g, '');
  return `${cellName}_${digits.slice(0, 8)}_${digits.slice(9, 15)}`;
}

/** What a failed export writes to `{Name}.error`. File system paths never appear in it. */
export function failureBody(error: unknown, entry: string | undefined, signal: AbortSignal): PersoniumErrorBody {
  if (error instanceof CellarError) return error.body;
  if (signal.aborted) return errorBody('PR503-SV-0002');
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return errorBody('PR507-DV-0001');
  const where = entry ? ` at ${entry}` : '';
  if (code === 'ENOENT') return errorBody('PR500-CM-0002', [`cell export: a file vanished${where}`]);
  if (typeof code === 'string') return errorBody('PR500-CM-0002', [`cell export: ${code}${where}`]);
  if (error instanceof SizeChangedError) return errorBody('PR500-CM-0002', [`cell export: ${error.message}`]);
  return errorBody('PR500-SV-0000');
}

export function interruptedExportBody(): PersoniumErrorBody {
  return errorBody('PR500-CM-0002', ['cell export (the server stopped while the export was running)']);
}

export class CellExporter {
  /** See BeforeEntryHook. */
  beforeEntry: BeforeEntryHook | undefined;

  constructor(private readonly unit: Unit, readonly settings: ExportSettings) {}

  /**
   * Accepts an export: refuses a taken name, then records the job through the state machine (the
   * record is on disk when this resolves) and queues it.
   */
  async start(cell: CellRecord, name: string): Promise<void> {
    const { status, jobs, snapshots } = this.unit;
    if (await snapshots.of(cell.id).exists(`${name}.zip`)) throw personiumError('PR409-DV-0002', `${name}.zip`);
    try {
      await status.accept(cell.id, 'export', name, new Date());
    } catch (error) {
      if (!(error instanceof CellarError)) throw error;
      // Two POSTs raced past the gate: the one that lost to an export of its own name is told so.
      const running = this.unit.store.getCellById(cell.id)?.job;
      if (running?.kind === 'export' && running.name === name) throw personiumError('PR409-DV-0002', `${name}.zip`);
      throw asHttpError(error);
    }
    jobs.submit({ cellId: cell.id, kind: 'export', name, run: (signal) => this.run(cell.id, name, signal) });
  }

  /** The job: never throws; it ends the export through the state machine however it goes. */
  async run(cellId: string, name: string, signal: AbortSignal): Promise<void> {
    const { status, snapshots, logger } = this.unit;
    const area = snapshots.of(cellId);
    let temp: string | undefined;
    let writer: SnapshotZipWriter | undefined;
    const position = { entry: undefined as string | undefined };
    try {
      signal.throwIfAborted();
      await area.ensure();
      temp = area.tempPath(`export-${name}`);
      writer = await this.#writeZip(cellId, temp, signal, position);
      await area.commit(temp, `${name}.zip`, 'application/zip');
      status.reportProgress(cellId, 100);
      if (await area.exists(`${name}.error`)) await area.remove(`${name}.error`);
      logger.info({ cellId, name }, 'cell export done');
    } catch (error) {
      const body = failureBody(error, position.entry, signal);
      logger.warn({ cellId, name, err: error, code: body.code }, 'cell export failed');
      await writer?.abort(error instanceof Error ? error : new Error(String(error)));
      if (temp) await rm(temp, { force: true }).catch(() => {});
      await area.writeSmallFile(`${name}.error`, JSON.stringify(body), 'application/json')
        .catch((writeError: unknown) => logger.error({ cellId, name, err: writeError }, 'could not write the export .error file'));
    } finally {
      await status.endExport(cellId).catch((error: unknown) => logger.error({ cellId, name, err: error }, 'could not end the export'));
    }
  }

  /** Start-up cleanup for an export a crash interrupted: its temporaries go, a `.error` stays. */
  async recoverInterrupted(cell: CellRecord, name: string): Promise<void> {
    const area = this.unit.snapshots.of(cell.id);
    await area.removeTemporaries();
    await area.writeSmallFile(`${name}.error`, JSON.stringify(interruptedExportBody()), 'application/json');
  }

  async #writeZip(cellId: string, temp: string, signal: AbortSignal, position: { entry: string | undefined }): Promise<SnapshotZipWriter> {
    const { contents, store, status } = this.unit;
    const cell = store.getCellById(cellId);
    if (!cell) throw new CellarError('PR404-DV-0003');
    const davRoot = contents.davRoot(cell);
    const document = (await contents.odata(cell)).data;
    const createdAt = new Date();
    const manifest: SnapshotManifest = {
      export_version: snapshotExportVersion,
      unit_url: this.unit.unitUrl(),
      create_date: createdAt.getTime(),
      cell_name: cell.name,
      generator: `cellar ${cellarVersion}`,
    };
    const odata = pjsonContents(cell, document);
    const cellJson = JSON.stringify(cellLine(cell, document));
    const tree = await measureTree(davRoot);
    const smallBytes = odata.reduce((sum, { text }) => sum + Buffer.byteLength(text), cellJson.length + 1024);
    const progress = new ExportProgress(tree.bytes + smallBytes, tree.files + tree.directories + odata.length + 4, (percent) => status.reportProgress(cellId, percent));
    // ZIP64 end records when the archive may pass 4 GiB (stored entries add headers to the data).
    const forceZip64 = tree.bytes + smallBytes + (tree.files + tree.directories) * 256 >= zip64Threshold;
    const writer = new SnapshotZipWriter(temp, { level: this.settings.level, forceZip64, date: createdAt, signal, onBytes: progress.addBytes });

    const entry = async (name: string, add: () => Promise<void>) => {
      position.entry = name;
      await this.beforeEntry?.(name, signal);
      signal.throwIfAborted();
      await add();
      progress.addEntry();
    };
    try {
      await writer.opened();
      await entry(manifestEntry, () => writer.addBuffer(manifestEntry, JSON.stringify(manifest)));
      await entry(odataFolder, () => writer.addDirectory(odataFolder));
      await entry(cellEntry, () => writer.addBuffer(cellEntry, cellJson));
      for (const { file, text } of odata) await entry(`${odataFolder}${file}`, () => writer.addBuffer(`${odataFolder}${file}`, text));
      for await (const item of walkTree(davRoot)) {
        const name = `${webdavFolder}${item.relative}${item.kind === 'directory' && item.relative ? '/' : ''}`;
        if (item.kind === 'directory') await entry(name, () => writer.addDirectory(name));
        else await entry(name, () => writer.addFile(name, item.absolute, item.size));
      }
      position.entry = checksumsEntry;
      await writer.finish(checksumsEntry);
    } catch (error) {
      // Files are read ahead of the archive, so a failure may belong to an entry before this one.
      position.entry = writer.failedEntry ?? position.entry;
      await writer.abort(error instanceof Error ? error : new Error(String(error)));
      throw error;
    }
    return writer;
  }
}
