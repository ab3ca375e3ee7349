// What the process does with errors nobody caught. An uncaught exception leaves the process in an
// unknown state: it is logged, the unit stops taking requests, running jobs are aborted so each
// ends in its documented terminal state, and the process exits with 1 for its supervisor to
// restart it. An unhandled rejection is logged and the unit goes on; it never changes the exit
// code of a later clean stop.
import type { Server } from '@hapi/hapi';
import type { Logger } from 'pino';
import { personiumError } from './errors.ts';

export class FatalErrorHandling {
  #server: Server | undefined;
  #logger: Logger | undefined;
  #timeoutMs = 10_000;
  #stopping = false;

  constructor(private readonly exit: (code: number) => void = (code) => process.exit(code)) {
    process.on('uncaughtException', (error, origin) => this.#uncaught(error, origin));
    process.on('unhandledRejection', (reason) => this.#unhandled(reason));
  }

  /**
   * From now on errors are logged through the unit's logger and an uncaught one stops `server`;
   * call it before the server starts (it adds the request extension that refuses new requests).
   */
  attach(server: Server, logger: Logger, shutdownTimeoutMs: number): void {
    this.#server = server;
    this.#logger = logger;
    this.#timeoutMs = shutdownTimeoutMs;
    // hapi's stop lets the jobs end before it stops listening: meanwhile requests are refused.
    server.ext('onRequest', (_request, h) => {
      if (!this.#stopping) return h.continue;
      const error = personiumError('PR503-SV-0002');
      error.output.headers.Connection = 'close';
      throw error;
    });
  }

  #unhandled(reason: unknown): void {
    if (this.#logger) this.#logger.error({ err: reason }, 'unhandled rejection; the unit goes on');
    else process.stderr.write(`cellar: unhandled rejection: ${String((reason as Error)?.stack ?? reason)}\n`);
  }

  #uncaught(error: Error, origin: string): void {
    const server = this.#server;
    if (!server || !this.#logger) {
      process.stderr.write(`cellar: uncaught exception: ${String(error?.stack ?? error)}\n`);
      this.exit(1);
      return;
    }
    this.#logger.fatal({ err: error, origin }, 'uncaught exception: the unit stops taking requests, ends its jobs and exits');
    if (this.#stopping) return;
    this.#stopping = true;
    // Whatever happens during the stop, the process ends.
    const deadline = setTimeout(() => this.exit(1), this.#timeoutMs + 5_000);
    server.listener.closeIdleConnections();
    server.stop({ timeout: this.#timeoutMs })
      .catch((failure: unknown) => this.#logger!.error({ err: failure }, 'stop after an uncaught exception failed'))
      .finally(() => {
        clearTimeout(deadline);
        this.#logger!.info('stopped after an uncaught exception');
        this.exit(1);
      });
  }
}
