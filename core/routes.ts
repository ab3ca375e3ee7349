// What every feature's routes share: the `Name` rule of a JSON body, and the answers to methods a
// URL does not serve (405 with the `Allow` header RFC 9110 §15.5.6 requires, OPTIONS with it).
import type { Request, ResponseToolkit, ServerRoute } from '@hapi/hapi';
import { cellOf, cellRoute, type CellAccess } from './cell-access.ts';
import { personiumError } from './errors.ts';
import { rawJsonPayload } from './json-body.ts';
import type { CellRecord } from './store.ts';

export interface NameRule {
  pattern: RegExp;
  /** The rule as Personium's message says it. */
  text: string;
}

/** Cells, boxes and the other OData entities. */
export const entityNameRule: NameRule = { pattern: /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/, text: '^[a-zA-Z0-9][a-zA-Z0-9-_]{0,127}$' };
/** Snapshot names of `__export` and `__import` (`{Name}.zip`). */
export const snapshotNameRule: NameRule = { pattern: /^[a-zA-Z0-9-_]{1,192}$/, text: '^[a-zA-Z0-9-_]{1,192}$' };

/** `value` when it is a string that keeps the rule, else 400 PR400-CM-0002 naming `field`. */
export function checkedName(value: unknown, rule: NameRule, field = 'Name'): string {
  if (typeof value !== 'string' || !rule.pattern.test(value)) throw personiumError('PR400-CM-0002', field, rule.text);
  return value;
}

/** The body's `Name`: 400 PR400-CM-0001 when it is missing, PR400-CM-0002 when it breaks the rule. */
export function requiredName(body: Record<string, unknown>, rule: NameRule): string {
  if (body.Name === undefined || body.Name === null) throw personiumError('PR400-CM-0001', 'Name');
  return checkedName(body.Name, rule);
}

/** 405 PR405-MC-0001 with `Allow`. */
export function notAllowed(allow: string) {
  const error = personiumError('PR405-MC-0001');
  error.output.headers.Allow = allow;
  return error;
}

/** A handler answering 405 PR405-MC-0001 with `Allow`. */
export function methodNotAllowed(allow: string) {
  return (): never => {
    throw notAllowed(allow);
  };
}

/**
 * OPTIONS on `path`: 200 with `Allow` (a fixed list, or one that depends on the request) and the
 * CORS headers conventions.ts adds. A browser's preflight carries no credentials, so none are
 * needed; a token that is sent must still be valid (401 otherwise). `extra` adds headers (`DAV`).
 */
export function optionsRoute(path: string, allow: string | ((request: Request) => string), extra: Record<string, string> = {}): ServerRoute {
  return {
    method: 'OPTIONS',
    path,
    options: { auth: { mode: 'optional' } },
    handler(request, h) {
      const response = h.response().code(200).header('Allow', typeof allow === 'string' ? allow : allow(request));
      for (const [name, value] of Object.entries(extra)) response.header(name, value);
      return response;
    },
  };
}

/**
 * The routes of a job's URL (`{CellURL}__export`, `__import`): POST with a JSON body starts the
 * job (`start` accepts it or throws) and answers 202 with `Location`; OPTIONS says what the URL
 * answers; any other method but GET (the status plugin's) gets 405. All need root; `access` says
 * how the cell status gates them.
 */
export function jobStartRoutes(
  job: '__export' | '__import',
  access: { start: CellAccess; other: CellAccess },
  start: (request: Request, cell: CellRecord) => Promise<void>,
): ServerRoute[] {
  const allow = 'OPTIONS, GET, POST';
  const path = `/{cell}/${job}`;
  const handler = async (request: Request, h: ResponseToolkit) => {
    const cell = cellOf(request);
    await start(request, cell);
    return h.response().code(202).header('Location', `${request.server.cellar.urls.cell(cell.name)}${job}`);
  };
  return [
    { method: 'POST', path, options: { payload: rawJsonPayload, ...cellRoute({ access: access.start, privilege: 'root', leavesContent: true }) }, handler },
    optionsRoute(path, allow),
    { method: '*', path, options: cellRoute({ access: access.other, privilege: 'root' }), handler: methodNotAllowed(allow) },
  ];
}
