// Runs an export's zip writing (zip-job.ts) on a worker thread of its own: walking the tree,
// reading, hashing and deflating never hold up the event loop that answers requests, GET
// __export included. The thread reports progress; the main thread can stop it. The export service
// keeps a thread a while for the next export (ExportThreads).
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { build, stop } from 'esbuild';
import { personiumErrorOf } from '../../core/errors.ts';
import { KeptThreads, type Restable } from '../../core/kept-threads.ts';
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

/** An export thread, which serves one export after another (zip-thread-worker.ts). */
export class ExportThread implements Restable {
  #failure: Error | undefined;

  readonly worker: Worker;

  /** A new thread running `code` (compiledThread). */
  constructor(code: URL) {
    this.worker = new Worker(code, { workerData: { deflateWorker: repositoryFile('plugins/export/deflate-worker.mjs').href }, execArgv: [] });
    this.worker.on('error', (error) => { this.#failure ??= error; });
    this.worker.on('exit', (code) => { this.#failure ??= new Error(`the export thread ended with code ${code}`); });
  }

  get failed(): boolean {
    return this.#failure !== undefined;
  }

  /** Why the thread cannot go on, once it cannot. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  rest(): void {
    this.worker.unref();
  }

  wake(): void {
    this.worker.ref();
  }

  async close(): Promise<void> {
    this.#failure ??= new Error('the export thread was closed');
    await this.worker.terminate();
  }
}

/** Export threads kept a while from one export to the next (core/kept-threads.ts). */
export class ExportThreads {
  readonly #kept: KeptThreads<ExportThread>;
  #code: URL | undefined;

  constructor(idleMs: number) {
    this.#kept = new KeptThreads(() => new ExportThread(this.#code!), idleMs);
  }

  async take(): Promise<ExportThread> {
    this.#code ??= await compiledThread();
    return this.#kept.take();
  }

  give(thread: ExportThread): Promise<void> {
    return this.#kept.give(thread);
  }

  close(): Promise<void> {
    return this.#kept.close();
  }
}

/**
 * writeSnapshotZip on a thread of its own, kept in `threads` for the next export when given (else
 * closed after this one); resolves or throws as it would.
 */
export async function writeSnapshotZipInThread(input: ZipJobInput, hooks: ZipJobHooks, threads?: ExportThreads): Promise<void> {
  const thread = threads ? await threads.take() : new ExportThread(await compiledThread());
  const { worker } = thread;
  const send = (message: ToExportThread) => worker.postMessage(message);
  const abort = () => send({ type: 'abort' });
  let onMessage: ((message: FromExportThread) => void) | undefined;
  let onEnd: ((error?: Error) => void) | undefined;
  let onExit: ((code: number) => void) | undefined;
  try {
    return await new Promise<void>((resolve, reject) => {
      onMessage = (message: FromExportThread) => {
        if (message.type === 'progress') hooks.onProgress(message.percent);
        else if (message.type === 'done') resolve();
        else if (message.type === 'failed') reject(personiumErrorOf(message.body));
        else {
          hooks.beforeEntry!(message.entry).then(
            () => send({ type: 'go' }),
            (error: NodeJS.ErrnoException) => send({ type: 'refuse', message: error.message, code: error.code }),
          );
        }
      };
      onEnd = (error?: Error) => reject(error ?? thread.failure ?? new Error('the export thread ended before it was done'));
      worker.on('message', onMessage);
      onExit = (code: number) => onEnd!(new Error(`the export thread ended with code ${code} before it was done`));
      worker.once('error', onEnd);
      worker.once('exit', onExit);
      if (thread.failed) return onEnd();
      send({ type: 'job', input, hooked: hooks.beforeEntry !== undefined });
      // After the job: the thread hears a stop for the job under way only.
      if (hooks.signal.aborted) abort();
      else hooks.signal.addEventListener('abort', abort, { once: true });
    });
  } finally {
    hooks.signal.removeEventListener('abort', abort);
    if (onMessage) worker.off('message', onMessage);
    if (onEnd) worker.off('error', onEnd);
    if (onExit) worker.off('exit', onExit);
    if (threads) await threads.give(thread);
    else await thread.close();
  }
}
