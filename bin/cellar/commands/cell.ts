// `cellar cell create|list|delete`: the unit-level cell API (`/__ctl/Cell`).
import type { Context } from '../context.ts';
import { ServerError } from '../errors.ts';

interface CellRecord {
  Name: string;
  __published?: string;
  __updated?: string;
  [key: string]: unknown;
}

interface ODataOne { d: { results: CellRecord } }
interface ODataMany { d: { results: CellRecord[] } }

const cellEntity = (name: string) => `__ctl/Cell('${encodeURIComponent(name)}')`;

export async function createCell(context: Context, name: string): Promise<void> {
  const body = await context.client.requestJson<ODataOne>('POST', context.client.url('__ctl/Cell'), { json: { Name: name }, expect: [201] });
  context.result(body?.d.results ?? { Name: name }, `created cell ${name}`);
}

export async function listCells(context: Context): Promise<void> {
  const body = await context.client.requestJson<ODataMany>('GET', context.client.url('__ctl/Cell'));
  const cells = body?.d.results ?? [];
  context.result(cells, cells.map((cell) => cell.Name).join('\n'));
}

export async function deleteCell(context: Context, name: string, options: { recursive?: boolean }): Promise<void> {
  const headers: Record<string, string> = options.recursive ? { 'x-personium-recursive': 'true' } : {};
  try {
    await context.client.request('DELETE', context.client.url(cellEntity(name)), { headers, expect: [204] });
  } catch (error) {
    if (error instanceof ServerError && error.code === 'PR409-OD-0001') error.message += ' Delete it with --recursive to remove everything it holds.';
    throw error;
  }
  context.result({ Name: name, deleted: true }, `deleted cell ${name}`);
}
