// Runs an export's zip writing (zip-job.ts) on a worker thread of its own: walking the tree,
// hashing, archiver's bookkeeping and its central directory at the end (tens of milliseconds
// for thousands of entries, in one go) then never hold up the event loop that answers requests,
// GET __export included. The thread reports progress; the main thread can stop it.
import { Worker } from 'node:worker_threads';
import { personiumErrorOf, type PersoniumErrorBody } from '../../core/errors.ts';
import type { ZipJobHooks, ZipJobInput } from './zip-job.ts';

export type FromExportThread =
  | { type: 'progress'; percent: number }
  | { type: 'before'; entry: string }
  | { type: 'done' }
  | { type: 'failed'; body: PersoniumErrorBody };

export type ToExportThread =
  | { type: 'abort' }
  | { type: 'go' }
  | { type: 'refuse'; message: string; code: string | undefined };

/** writeSnapshotZip on its own thread; resolves or throws as it would. */
export async function writeSnapshotZipInThread(input: ZipJobInput, hooks: ZipJobHooks): Promise<void> {
  const worker = new Worker(new URL('./zip-thread.mjs', import.meta.url), { workerData: { ...input, hooked: hooks.beforeEntry !== undefined }, execArgv: [] });
  const send = (message: ToExportThread) => worker.postMessage(message);
  const abort = () => send({ type: 'abort' });
  try {
    return await new Promise<void>((resolve, reject) => {
      if (hooks.signal.aborted) abort();
      else hooks.signal.addEventListener('abort', abort, { once: true });
      worker.on('message', (message: FromExportThread) => {
        if (message.type === 'progress') hooks.onProgress(message.percent);
        else if (message.type === 'done') resolve();
        else if (message.type === 'failed') reject(personiumErrorOf(message.body));
        else {
          hooks.beforeEntry!(message.entry).then(
            () => send({ type: 'go' }),
            (error: NodeJS.ErrnoException) => send({ type: 'refuse', message: error.message, code: error.code }),
          );
        }
      });
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the export thread ended with code ${code} before it was done`)));
    });
  } finally {
    hooks.signal.removeEventListener('abort', abort);
    await worker.terminate();
  }
}
