// The two kinds of failure the command reports, each with its exit code: 2 for a command line
// that cannot be run as written, 1 for what the unit (or the network) answered.

export class UsageError extends Error {
  readonly exitCode = 2;
}

export class ServerError extends Error {
  readonly exitCode = 1;
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }

  /** `PR404-DV-0001 Resource not found. [x.zip]. (HTTP 404)`, or without a code when the body had none. */
  describe(): string {
    const status = this.status ? ` (HTTP ${this.status})` : '';
    return `${this.code ? `${this.code} ` : ''}${this.message}${status}`;
  }
}

/** A job (export or import) that ended in failure; the unit's code and message explain why. */
export class JobFailedError extends ServerError {}

export interface PersoniumErrorBody {
  code: string;
  message: { lang?: string; value: string };
}

export function isPersoniumErrorBody(value: unknown): value is PersoniumErrorBody {
  const body = value as Partial<PersoniumErrorBody> | null;
  return typeof body?.code === 'string' && typeof body.message?.value === 'string';
}
