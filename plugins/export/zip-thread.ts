// Runs an export's zip writing (zip-job.ts) on a worker thread of its own: walking the tree,
// reading, hashing and deflating never hold up the event loop that answers requests, GET
// __export included. The thread reports progress; the main thread can stop it.
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { build, stop } from 'esbuild';
import { personiumErrorOf } from '../../core/errors.ts';
import { repositoryFile } from '../../core/repository-files.ts';
import type { FromExportThread, ToExportThread, ZipJobHooks, ZipJobInput } from './zip-job.ts';

let threadCode: Promise<URL> | undefined;

/**
 * The thread's code, compiled once per process into one JavaScript module (esbuild, which tsx
 * runs on): a thread that loaded the TypeScript sources through tsx's loader took 0.5-0.7 s to
 * start, against about 50 ms (measured), and a cell of 10,000 small files exports in about 1 s.
 */
function compiledThread(): Promise<URL> {
  threadCode ??= build({
    entryPoints: [fileURLToPath(repositoryFile('plugins/export/zip-thread-worker.ts'))],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    write: false,
    logLevel: 'silent',
  }).then(async (result) => {
    // esbuild's service is a process of its own (~30 MB), idle from here on.
    await stop();
    return new URL(`data:text/javascript,${encodeURIComponent(result.outputFiles[0]!.text)}`);
  });
  threadCode.catch(() => { threadCode = undefined; });
  return threadCode;
}

/** writeSnapshotZip on its own thread; resolves or throws as it would. */
export async function writeSnapshotZipInThread(input: ZipJobInput, hooks: ZipJobHooks): Promise<void> {
  const worker = new Worker(await compiledThread(), { workerData: { ...input, deflateWorker: repositoryFile('plugins/export/deflate-worker.mjs').href, hooked: hooks.beforeEntry !== undefined }, execArgv: [] });
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
