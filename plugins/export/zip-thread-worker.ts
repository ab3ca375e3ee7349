// The export thread's own code (started by zip-thread.ts through zip-thread.mjs): runs
// writeSnapshotZip on the input it was given and reports progress and the outcome as messages.
import { parentPort, workerData } from 'node:worker_threads';
import type { PersoniumError } from '../../core/errors.ts';
import { writeSnapshotZip, type ZipJobInput, type FromExportThread, type ToExportThread } from './zip-job.ts';

const port = parentPort!;
const input = workerData as ZipJobInput & { hooked: boolean };
const controller = new AbortController();
/** The answer to the entry the main thread's test hook is looking at, when there is one. */
let answer: ((message: ToExportThread) => void) | undefined;

function post(message: FromExportThread): void {
  port.postMessage(message);
}

port.on('message', (message: ToExportThread) => {
  if (message.type === 'abort') controller.abort(new Error('the export was stopped'));
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

try {
  await writeSnapshotZip(input, {
    signal: controller.signal,
    onProgress: (percent) => post({ type: 'progress', percent }),
    ...(input.hooked ? { beforeEntry } : {}),
  });
  post({ type: 'done' });
} catch (error) {
  post({ type: 'failed', body: (error as PersoniumError).data! });
} finally {
  port.close();
}
