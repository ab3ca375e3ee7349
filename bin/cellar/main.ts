// `cellar`: the command-line client of a Cellar unit. Arguments are read with commander; every
// action gets a Context (unit client, output mode) and failures end here with their exit code:
// 0 success, 1 what the unit answered (or could not be reached), 2 a command line that cannot run.
import { Command, CommanderError, Option } from 'commander';
import { createCell, deleteCell, listCells } from './commands/cell.ts';
import { exportCell, importCell } from './commands/jobs.ts';
import { getSchedule, removeSchedule, setSchedule } from './commands/schedule.ts';
import { getSnapshot, listSnapshots, putSnapshot, removeSnapshot } from './commands/snapshot.ts';
import { verifySnapshotFile } from './commands/snapshot-verify.ts';
import { createContext, type Context, type GlobalOptions } from './context.ts';
import { ServerError, UsageError } from './errors.ts';

/** Wraps an action so it receives the Context built from the global options. */
function withContext<A extends unknown[]>(action: (context: Context, ...args: A) => Promise<void>) {
  return async (...args: unknown[]) => {
    const command = args.at(-1) as Command;
    const context = createContext(command.optsWithGlobals<GlobalOptions>());
    await action(context, ...(args.slice(0, -1) as A));
  };
}

function buildProgram(): Command {
  const program = new Command('cellar')
    .description('Command-line client of a Cellar unit: cells, export, import and the snapshot area.')
    .addOption(new Option('--unit <url>', 'the unit URL, e.g. http://localhost:8080/ (default: $CELLAR_URL)'))
    .addOption(new Option('--token <token>', 'a bearer token with root on the cell (default: $CELLAR_TOKEN)'))
    .option('--json', 'machine-readable output on stdout, no progress display')
    .option('-q, --quiet', 'no progress display')
    .showHelpAfterError('(cellar --help lists the commands)')
    .exitOverride();

  const cell = program.command('cell').description('create, list and delete cells');
  cell.command('create <name>').description('create a cell').action(withContext(createCell));
  cell.command('list').description('list the cells of the unit').action(withContext(listCells));
  cell.command('delete <name>').description('delete a cell')
    .option('-r, --recursive', 'also delete everything it holds (X-Personium-Recursive: true)')
    .action(withContext((context, name: string, options: { recursive?: boolean }) => deleteCell(context, name, options)));

  program.command('export <cell>').description("export a cell to {name}.zip in its snapshot area")
    .option('--name <name>', 'snapshot name, without .zip (default: {cell}_yyyyMMdd_HHmmss, UTC)')
    .option('--wait', 'follow the export until it ends; exit code 0 only when the .zip is there')
    .action(withContext((context, cellName: string, options: { name?: string; wait?: boolean }) => exportCell(context, cellName, options)));

  program.command('import <cell> <name>').description('import {name}.zip of the snapshot area into a cell')
    .option('--wait', 'follow the import until it ends; exit code 0 only when it succeeded')
    .action(withContext((context, cellName: string, name: string, options: { wait?: boolean }) => importCell(context, cellName, name, options)));

  const schedule = program.command('schedule').description("the cell's export schedule: exports that run by themselves, keeping the newest of them");
  schedule.command('get <cell>').description('show the schedule, its next and last run and the snapshots it made').action(withContext(getSchedule));
  schedule.command('set <cell>').description('set (or replace) the schedule')
    .requiredOption('--cron <pattern>', 'five-field cron pattern, e.g. "0 3 * * *" (03:00 every day)')
    .option('--keep <n>', 'how many of its own snapshots to keep (default 7)')
    .option('--time-zone <zone>', 'IANA time zone of the pattern, e.g. Europe/Berlin (default UTC)')
    .action(withContext((context, cellName: string, options: { cron: string; keep?: string; timeZone?: string }) => setSchedule(context, cellName, options)));
  schedule.command('rm <cell>').description('remove the schedule (the snapshots it made stay)').action(withContext(removeSchedule));

  const snapshot = program.command('snapshot').description("the cell's snapshot area: list, download, upload, delete; verify a local snapshot file");
  snapshot.command('ls <cell>').description('list the snapshot files').action(withContext(listSnapshots));
  snapshot.command('get <cell> <file> [out]').description('download a file; resumes when OUT is a partial copy')
    .action(withContext((context, cellName: string, file: string, out: string | undefined) => getSnapshot(context, cellName, file, out)));
  snapshot.command('put <cell> <file>').description('upload a file (named as FILE without its folder)')
    .option('--as <name>', 'the name in the snapshot area')
    .action(withContext((context, cellName: string, file: string, options: { as?: string }) => putSnapshot(context, cellName, file, options)));
  snapshot.command('rm <cell> <file>').description('delete a file').action(withContext(removeSnapshot));
  snapshot.command('verify <file>').description('check a local snapshot zip as an import would, without a unit; exit code 0 only when it would import')
    .action((file: string, _options: unknown, command: Command) => verifySnapshotFile(file, command.optsWithGlobals<GlobalOptions>()));

  for (const command of [program, cell, schedule, snapshot]) {
    command.exitOverride();
    for (const sub of command.commands) sub.exitOverride();
  }
  return program;
}

function report(error: unknown, json: boolean): number {
  if (error instanceof CommanderError) {
    // commander has printed its message already; asking for help is not a failure.
    return error.exitCode === 0 ? 0 : 2;
  }
  if (error instanceof UsageError || error instanceof ServerError) {
    const status = error instanceof ServerError ? error.status : undefined;
    const code = error instanceof ServerError ? error.code : undefined;
    const text = error instanceof ServerError ? error.describe() : error.message;
    process.stderr.write(json
      ? `${JSON.stringify({ error: { status: status || undefined, code, message: error.message } })}\n`
      : `cellar: ${text}\n`);
    return error.exitCode;
  }
  process.stderr.write(`cellar: ${(error as Error)?.message ?? String(error)}\n`);
  return 1;
}

const argv = process.argv;
try {
  await buildProgram().parseAsync(argv);
} catch (error) {
  process.exitCode = report(error, argv.includes('--json'));
}
