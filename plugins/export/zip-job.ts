// The part of an export that writes the zip: given the cell's WebDAV root and the small
// entries the main thread prepared (manifest, cell record, .pjson files), it walks the tree and
// writes it into a temporary file. It runs on the export's own thread (zip-thread.ts), so that
// its work never holds up the requests the unit serves meanwhile.
import { errorBody, isPersoniumError, personiumErrorOf, type PersoniumErrorBody } from '../../core/errors.ts';
import { cellEntry, checksumsEntry, manifestEntry, odataFolder, webdavFolder } from '../../core/export-format.ts';
import { measureTree, walkTree, type TreeTotals } from './cell-tree.mjs';
import { DeflateThread } from './deflate-thread.ts';
import { ExportProgress } from './progress.ts';
import { deflateMemLevel, SizeChangedError, SnapshotZipWriter } from './zip-writer.ts';

/** What the zip is made of; plain data, so that it can go to another thread. */
export interface ZipJobInput {
  davRoot: string;
  /** The temporary file the zip is written to. */
  temp: string;
  level: number;
  /** Milliseconds since the epoch, stamped on every entry. */
  createdAt: number;
  manifest: string;
  cellJson: string;
  odata: Array<{ file: string; text: string }>;
  /** URL of the deflating thread's code (deflate-worker.mjs); without it the export thread deflates every entry. */
  deflateWorker?: string;
}

export interface ZipJobHooks {
  signal: AbortSignal;
  onProgress: (percent: number) => void;
  /** Test seam (CellExporter.beforeEntry): awaited before each entry. */
  beforeEntry?: (entry: string) => Promise<void>;
  /** A deflating thread its caller keeps from export to export; else one is started from `input.deflateWorker` for this export alone. */
  deflater?: DeflateThread;
}

/** What a failed export writes to `{Name}.error`. File system paths never appear in it. */
export function failureBody(error: unknown, entry: string | undefined, signal: AbortSignal): PersoniumErrorBody {
  if (isPersoniumError(error)) return error.data!;
  if (signal.aborted) return errorBody('PR503-SV-0002');
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return errorBody('PR507-DV-0001');
  const where = entry ? ` at ${entry}` : '';
  if (code === 'ENOENT') return errorBody('PR500-CM-0002', [`cell export: a file vanished${where}`]);
  if (typeof code === 'string') return errorBody('PR500-CM-0002', [`cell export: ${code}${where}`]);
  if (error instanceof SizeChangedError) return errorBody('PR500-CM-0002', [`cell export: ${error.message}`]);
  return errorBody('PR500-SV-0000');
}

/** The messages between the main thread and the export thread (zip-thread.ts, zip-thread-worker.ts). */
export type FromExportThread =
  | { type: 'progress'; percent: number }
  | { type: 'before'; entry: string }
  | { type: 'done' }
  | { type: 'failed'; body: PersoniumErrorBody };

export type ToExportThread =
  | { type: 'job'; input: ZipJobInput; hooked: boolean }
  | { type: 'abort' }
  | { type: 'go' }
  | { type: 'refuse'; message: string; code: string | undefined };

/** Longest run of entries without a turn of the thread's event loop. */
const yieldAfterMs = 10;

/** Writes the zip into `input.temp`; throws a PersoniumError with the `.error` body, the temporary file then closed. */
export async function writeSnapshotZip(input: ZipJobInput, hooks: ZipJobHooks): Promise<void> {
  const { signal } = hooks;
  let position: string | undefined;
  let writer: SnapshotZipWriter | undefined;
  let owned: DeflateThread | undefined;
  try {
    owned = !hooks.deflater && input.deflateWorker ? new DeflateThread(new URL(input.deflateWorker), { level: input.level, memLevel: deflateMemLevel }) : undefined;
    const deflater = hooks.deflater ?? owned;
    const smallBytes = input.odata.reduce((sum, { text }) => sum + Buffer.byteLength(text), input.cellJson.length + 1024);
    const progress = new ExportProgress(hooks.onProgress);
    const counted = (tree: TreeTotals) => progress.total(tree.bytes + smallBytes, tree.files + tree.directories + input.odata.length + 4);
    // Measured on the deflating thread while this one starts; a tree that cannot be walked fails
    // the walk below. A large file waits for the totals, so that its progress climbs as it streams.
    const measured = deflater ? deflater.measure(input.davRoot).then(counted, () => {}) : Promise.resolve(counted(measureTree(input.davRoot)));
    // ZIP64 records are written where they are needed: on an entry past 4 GiB, at the end for more
    // than 65,535 entries or an archive past 4 GiB.
    const zip = new SnapshotZipWriter(input.temp, {
      level: input.level, forceZip64: false, date: new Date(input.createdAt), signal, onBytes: progress.addBytes, beforeStream: () => measured, ...(deflater ? { deflater } : {}),
    });
    writer = zip;
    let turnStarted = performance.now();
    /** Adds an entry; a promise only when it must be waited for (no promise per entry of a small cell). */
    const entry = (name: string, add: () => Promise<void> | undefined): Promise<void> | undefined => {
      position = name;
      if (hooks.beforeEntry || performance.now() - turnStarted > yieldAfterMs) {
        return (async () => {
          if (hooks.beforeEntry) await hooks.beforeEntry(name);
          else {
            // Lets the thread's messages in (a stop from the main thread) between runs of entries.
            await new Promise<void>((resolve) => setImmediate(resolve));
            turnStarted = performance.now();
          }
          signal.throwIfAborted();
          await add();
          progress.addEntry();
        })();
      }
      signal.throwIfAborted();
      const waiting = add();
      if (waiting) return waiting.then(() => progress.addEntry());
      progress.addEntry();
      return undefined;
    };
    await zip.opened();
    await entry(manifestEntry, () => zip.addBuffer(manifestEntry, input.manifest));
    await entry(odataFolder, () => zip.addDirectory(odataFolder));
    await entry(cellEntry, () => zip.addBuffer(cellEntry, input.cellJson));
    for (const { file, text } of input.odata) await entry(`${odataFolder}${file}`, () => zip.addBuffer(`${odataFolder}${file}`, text));
    for (const item of walkTree(input.davRoot)) {
      let waiting: Promise<void> | undefined;
      if (item.kind === 'directory') {
        const name = `${webdavFolder}${item.relative}${item.relative ? '/' : ''}`;
        waiting = entry(name, () => zip.addDirectory(name));
      } else {
        const name = `${webdavFolder}${item.relative}`;
        waiting = entry(name, () => zip.addFile(name, item.absolute));
      }
      if (waiting) await waiting;
    }
    position = checksumsEntry;
    // A cell small enough to be written before it was measured still reports its progress.
    await measured;
    await zip.finish(checksumsEntry);
  } catch (error) {
    // Files are read ahead of the archive, so a failure may belong to an entry before this one.
    const entry = writer?.failedEntry ?? position;
    await writer?.abort(error instanceof Error ? error : new Error(String(error)));
    throw personiumErrorOf(failureBody(error, entry, signal));
  } finally {
    await owned?.close();
    // A kept thread is ready for the next export once what this one left on it is done.
    await hooks.deflater?.settle().catch(() => {});
  }
}
