// `cellar snapshot verify FILE.zip`: every check an import would make of a snapshot file, run here
// without a unit (the import's own code, plugins/import/verify.ts), with the import limits the unit
// would have in this environment (CELLAR_CONFIG, CELLAR_IMPORT_*). Exit code 0 only when the
// snapshot would import; 1 when it would be refused, naming why.
import { stat } from 'node:fs/promises';
import { loadConfig } from '../../../core/config.ts';
import { describeFindings, verifySnapshot } from '../../../plugins/import/verify.ts';
import { ServerError, UsageError } from '../errors.ts';

/** A snapshot the import would refuse: exit code 1 with its code, as the unit's own refusals. */
export class SnapshotRefusedError extends ServerError {}

export async function verifySnapshotFile(file: string, options: { json?: boolean }): Promise<void> {
  const found = await stat(file).catch(() => undefined);
  if (!found?.isFile()) throw new UsageError(`${file} is not a file that can be read`);
  let limits;
  try {
    limits = loadConfig().import;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const verdict = await verifySnapshot(file, limits);
  if (options.json) process.stdout.write(`${JSON.stringify({ ...verdict, limits }, null, 2)}\n`);
  else process.stdout.write(`${describeFindings(verdict).join('\n')}\n`);
  if (!verdict.importable) throw new SnapshotRefusedError(0, verdict.error.code, `${file} would not import: ${verdict.error.message.value}`);
}
