// `cellar export` and `cellar import`: start the cell's job with POST, and with --wait follow
// GET __export / __import until it ends, then tell how it ended (exit code 0 only on success).
import type { Context } from '../context.ts';
import { isPersoniumErrorBody, JobFailedError, ServerError, type PersoniumErrorBody } from '../errors.ts';
import { createProgress } from '../progress.ts';

interface JobStatus {
  status: string;
  started_at?: string;
  progress?: string;
  exportation_name?: string;
  importation_name?: string;
  message?: PersoniumErrorBody;
}

/** The name the unit would choose itself: `{Cell}_yyyyMMdd_HHmmss` in UTC. */
export function defaultExportName(cell: string, now = new Date()): string {
  const iso = now.toISOString();
  return `${cell}_${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}_${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}`;
}

export async function exportCell(context: Context, cell: string, options: { name?: string; wait?: boolean }): Promise<void> {
  // Named here rather than by the unit, so the command always knows which file to look for.
  const name = options.name ?? defaultExportName(cell);
  const url = context.client.cellUrl(cell, '__export');
  await context.client.request('POST', url, { json: { Name: name }, expect: [202] });
  if (!options.wait) {
    context.result({ cell, name, status: 'started' }, `export ${name} of ${cell} started; ${name}.zip appears in its snapshot area when done`);
    return;
  }
  await followJob(context, url, { label: `export ${cell}`, running: 'exportation in progress' });
  const zip = await context.client.request('HEAD', context.client.snapshotUrl(cell, `${name}.zip`), { expect: [200, 404] });
  if (zip.status === 200) {
    const size = Number(zip.headers.get('content-length') ?? 0);
    context.result({ cell, name, status: 'done', file: `${name}.zip`, size }, `export ${name} of ${cell} done: ${name}.zip is in its snapshot area`);
    return;
  }
  const error = await exportError(context, cell, name);
  context.result({ cell, name, status: 'failed', file: `${name}.error`, error }, '');
  throw new JobFailedError(0, error.code, `export ${name} of ${cell} failed (${name}.error): ${error.message.value}`);
}

export async function importCell(context: Context, cell: string, name: string, options: { wait?: boolean }): Promise<void> {
  const url = context.client.cellUrl(cell, '__import');
  await context.client.request('POST', url, { json: { Name: name }, expect: [202] });
  if (!options.wait) {
    context.result({ cell, name, status: 'started' }, `import of ${name} into ${cell} started`);
    return;
  }
  const ended = await followJob(context, url, { label: `import ${cell}`, running: 'importation in progress' });
  if (ended.status === 'ready') {
    context.result({ cell, name, status: 'done' }, `import of ${name} into ${cell} done`);
    return;
  }
  const error = isPersoniumErrorBody(ended.message) ? ended.message : undefined;
  context.result({ cell, name, status: 'failed', error }, '');
  const reason = error ? error.message.value : `the unit reports "${ended.status}"`;
  throw new JobFailedError(0, error?.code, `import of ${name} into ${cell} failed: ${reason}`);
}

/** Polls the status URL, feeding the progress display, until the job is no longer running. */
async function followJob(context: Context, url: string, job: { label: string; running: string }): Promise<JobStatus> {
  const progress = createProgress(context.progress, { label: job.label, total: 100, kind: 'percent' });
  try {
    for (;;) {
      const status = await context.client.requestJson<JobStatus>('GET', url);
      if (!status || typeof status.status !== 'string') throw new ServerError(200, undefined, `GET ${url} did not answer with a status`);
      if (status.status !== job.running) {
        progress.stop(status.status === 'ready');
        return status;
      }
      progress.update(Number.parseInt(status.progress ?? '0', 10) || 0);
      await new Promise((resolve) => setTimeout(resolve, context.pollIntervalMs));
    }
  } finally {
    progress.stop();
  }
}

/** What `{name}.error` says, or an error of our own when the export left neither file. */
async function exportError(context: Context, cell: string, name: string): Promise<PersoniumErrorBody> {
  const response = await context.client.request('GET', context.client.snapshotUrl(cell, `${name}.error`), { expect: [200, 404] });
  const body: unknown = response.status === 200 ? await response.json().catch(() => undefined) : await response.body?.cancel();
  if (isPersoniumErrorBody(body)) return body;
  if (response.status === 200) return { code: 'unknown', message: { lang: 'en', value: `${name}.error is not a Personium error body` } };
  throw new ServerError(0, undefined, `export ${name} of ${cell} ended, but its snapshot area holds neither ${name}.zip nor ${name}.error`);
}
