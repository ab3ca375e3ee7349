// The unit's HTTP API as the command sees it: URLs built from the unit URL, the bearer token on
// every request, and any answer outside the expected statuses turned into a ServerError that
// carries the unit's Personium code and message.
import { isPersoniumErrorBody, ServerError, UsageError } from './errors.ts';
import { AnswerError, RequestError, SocketDownload } from './socket-download.ts';
import { putFile } from './transfer.ts';

export interface RequestOptions {
  headers?: Record<string, string>;
  /** Sent as JSON with `Content-Type: application/json`. */
  json?: unknown;
  /** Sent as it is (an XML body, say). */
  body?: string;
  /** Statuses that count as success: any 2xx when omitted, every status with 'any'. */
  expect?: readonly number[] | 'any';
}

/** The bearer token, or where to get it when a request is made (a stored login, refreshed if needed). */
export type TokenSource = string | (() => Promise<string>);

export class UnitClient {
  readonly unitUrl: string;

  constructor(unitUrl: string, readonly token: TokenSource) {
    this.unitUrl = normalizeUnitUrl(unitUrl);
  }

  /** `{UnitURL}{path}`; `path` must already be encoded. */
  url(path: string): string {
    return new URL(path, this.unitUrl).href;
  }

  /** `{CellURL}{path}` where CellURL is `{UnitURL}{cell}/`. */
  cellUrl(cell: string, path = ''): string {
    return this.url(`${encodeURIComponent(cell)}/${path}`);
  }

  snapshotUrl(cell: string, file?: string): string {
    return this.cellUrl(cell, file === undefined ? '__snapshot' : `__snapshot/${encodeURIComponent(file)}`);
  }

  async request(method: string, url: string, options: RequestOptions = {}): Promise<Response> {
    const headers = await this.#headers(options.headers);
    let body = options.body;
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    }
    let response: Response;
    try {
      response = await fetch(url, { method, headers, body });
    } catch (error) {
      throw unreachable(this.unitUrl, error);
    }
    return checked(response, options.expect);
  }

  /** PUT of a local file, streamed from disk; `onBytes` hears how much has been sent. */
  async upload(url: string, file: string, options: RequestOptions & { onBytes: (total: number) => void }): Promise<Response> {
    let response: Response;
    try {
      response = await putFile(url, await this.#headers(options.headers), file, options.onBytes);
    } catch (error) {
      const readingFile = (error as NodeJS.ErrnoException).path === file;
      throw readingFile ? new UsageError(`cannot read ${file}: ${(error as Error).message}`) : unreachable(this.unitUrl, error);
    }
    return checked(response, options.expect);
  }

  /**
   * GET whose body is read straight from the socket (a large download); any status but `expect`
   * is a ServerError.
   */
  async download(url: string, expect: readonly number[]): Promise<SocketDownload> {
    let download: SocketDownload;
    try {
      download = await SocketDownload.open(url, await this.#headers());
    } catch (error) {
      if (error instanceof RequestError) throw new UsageError(`cannot send the request: ${error.message}`);
      throw error instanceof AnswerError ? new ServerError(0, undefined, `the unit at ${this.unitUrl} answered with something that is not HTTP: ${error.message}`) : unreachable(this.unitUrl, error);
    }
    const { status, statusText } = download.head;
    if (expect.includes(status)) return download;
    const text = await download.text();
    throw await errorFromResponse(new Response(text, { status, statusText }));
  }

  async #headers(extra: Record<string, string> = {}): Promise<Record<string, string>> {
    const token = typeof this.token === 'string' ? this.token : await this.token();
    return { authorization: `Bearer ${token}`, ...extra };
  }

  /** A request whose answer is JSON (or nothing, for 201/202/204 without a body). */
  async requestJson<T>(method: string, url: string, options: RequestOptions = {}): Promise<T | undefined> {
    const response = await this.request(method, url, { ...options, headers: { accept: 'application/json', ...options.headers } });
    const text = await response.text();
    if (!text) return undefined;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ServerError(response.status, undefined, `the unit answered ${method} ${url} with something that is not JSON`);
    }
  }
}

export function normalizeUnitUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`the unit URL ${JSON.stringify(value)} is not a URL (expected e.g. http://localhost:8080/)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`the unit URL must be http or https, not ${url.protocol}`);
  }
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url.href;
}

async function checked(response: Response, expect: RequestOptions['expect']): Promise<Response> {
  const expected = expect === 'any' || (expect ? expect.includes(response.status) : response.ok);
  if (!expected) throw await errorFromResponse(response);
  return response;
}

/** The unit's error body as a ServerError; a body that is not Personium's still gives the status. */
export async function errorFromResponse(response: Response): Promise<ServerError> {
  const text = await response.text().catch(() => '');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (isPersoniumErrorBody(parsed)) return new ServerError(response.status, parsed.code, parsed.message.value);
  const detail = text && text.length <= 200 && !text.includes('<') ? `: ${text.trim()}` : '';
  return new ServerError(response.status, undefined, `${response.statusText || 'request failed'}${detail}`);
}

function unreachable(unitUrl: string, error: unknown): ServerError {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const reason = cause?.code ?? cause?.message ?? (error as { code?: string }).code ?? (error as Error).message;
  return new ServerError(0, undefined, `cannot reach the unit at ${unitUrl}: ${reason}`);
}
