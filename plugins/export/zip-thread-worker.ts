// The export thread's own code (started by zip-thread.ts through zip-thread.mjs): runs
// writeSnapshotZip on each job it is given, one at a time, and reports progress and the outcome as
// messages. It keeps its deflating thread from one export to the next, as zip-thread.ts keeps it.
import { parentPort, workerData } from 'node:worker_threads';
import type { PersoniumError } from '../../core/errors.ts';
import { DeflateThread } from './deflate-thread.ts';
import { writeSnapshotZip, type FromExportThread, type ToExportThread, type ZipJobInput } from './zip-job.ts';
import { deflateMemLevel } from './zip-writer.ts';

const port = parentPort!;
const { deflateWorker } = workerData as { deflateWorker: string };
/** The job under way, if any. */
let controller: AbortController | undefined;
/** The answer to the entry the main thread's test hook is looking at, when there is one. */
let answer: ((message: ToExportThread) => void) | undefined;
let deflater: DeflateThread | undefined;

function post(message: FromExportThread): void {
  port.postMessage(message);
}

port.on('message', (message: ToExportThread) => {
  if (message.type === 'job') void run(message.input, message.hooked);
  else if (message.type === 'abort') controller?.abort(new Error('the export was stopped'));
  else answer?.(message);
});

async function beforeEntry(entry: string): Promise<void> {
  const reply = await new Promise<ToExportThread>((resolve) => {
    answer = resolve;
    post({ type: 'before', entry });
  });
  answer = undefined;
  if (reply.type === 'refuse') throw Object.assign(new Error(reply.message), { code: reply.code });
}

/** The deflating thread for an export at `level`: the one kept when it is sound and deflates at that level. */
async function deflaterFor(level: number): Promise<DeflateThread> {
  if (deflater && !deflater.failed && deflater.options.level === level) return deflater;
  await deflater?.close();
  deflater = new DeflateThread(new URL(deflateWorker), { level, memLevel: deflateMemLevel });
  return deflater;
}

async function run(input: ZipJobInput, hooked: boolean): Promise<void> {
  const job = new AbortController();
  controller = job;
  try {
    await writeSnapshotZip(input, {
      signal: job.signal,
      onProgress: (percent) => post({ type: 'progress', percent }),
      deflater: await deflaterFor(input.level),
      ...(hooked ? { beforeEntry } : {}),
    });
    post({ type: 'done' });
  } catch (error) {
    post({ type: 'failed', body: (error as PersoniumError).data! });
  } finally {
    controller = undefined;
  }
}
