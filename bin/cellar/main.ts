// `cellar`: the command-line client of a Cellar unit. Arguments are read with commander; every
// action gets a Context (unit client, output mode) and failures end here with their exit code:
// 0 success, 1 what the unit answered (or could not be reached), 2 a command line that cannot run.
import { Command, CommanderError, Option } from 'commander';
import { createCellWithOwner, grantPrivilege, revokePrivilege } from './commands/acl.ts';
import { createCell, deleteCell, listCells } from './commands/cell.ts';
import { createAccount, createRole, deleteAccount, deleteRole, grantRole, listAccounts, listRoles, loginCommand, logoutCommand, revokeRole } from './commands/identity.ts';
import { exportCell, importCell } from './commands/jobs.ts';
import { getSchedule, removeSchedule, setSchedule } from './commands/schedule.ts';
import { createContext, createOutput, type Context, type GlobalOptions, type Output } from './context.ts';
import { ServerError, UsageError } from './errors.ts';

// The commands whose modules are large or load packages of their own (the snapshot listing's XML
// parser; the snapshot verification's import checks, with joi, boom, lowdb and yauzl; the unit
// backup's reading and restoring) are imported when one of them runs, from chunks of the compiled
// module, so that no command loads what it does not use: with every package loaded, a start took
// 0.33 s, 0.2 s of it for those packages.
const snapshotCommands = () => import('./commands/snapshot.ts');
const snapshotVerify = () => import('./commands/snapshot-verify.ts');
const unitCommands = () => import('./commands/unit.ts');

/**
 * Wraps an action so it receives the Context built from the global options. For `cell`
 * commands the first argument is the cell, whose kept login stands for a token not given;
 * `anonymous` commands need no token.
 */
function withContext<A extends unknown[]>(action: (context: Context, ...args: A) => Promise<void>, kind: 'unit' | 'cell' | 'anonymous' = 'cell') {
  return async (...args: unknown[]) => {
    const command = args.at(-1) as Command;
    const cell = kind === 'cell' && typeof args[0] === 'string' ? args[0] : undefined;
    const context = createContext(command.optsWithGlobals<GlobalOptions>(), process.env, cell, kind === 'anonymous');
    await action(context, ...(args.slice(0, -1) as A));
  };
}

/** The same for commands that work offline, on files only: no unit URL or token needed. */
function withOutput<A extends unknown[]>(action: (output: Output, ...args: A) => Promise<void>) {
  return async (...args: unknown[]) => {
    const command = args.at(-1) as Command;
    await action(createOutput(command.optsWithGlobals<GlobalOptions>()), ...(args.slice(0, -1) as A));
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
  cell.command('create <name>').description('create a cell; with --owner also its owner account, a role owner granted root, and the link')
    .option('--owner <account>', 'the account that owns the cell (its password is asked for)')
    .option('--password-stdin', "read the owner's password from standard input")
    .action(withContext((context, name: string, options: { owner?: string; passwordStdin?: boolean }) =>
      (options.owner ? createCellWithOwner(context, name, options.owner, options) : createCell(context, name)), 'unit'));
  cell.command('list').description('list the cells of the unit').action(withContext(listCells, 'unit'));
  cell.command('delete <name>').description('delete a cell')
    .option('-r, --recursive', 'also delete everything it holds (X-Personium-Recursive: true)')
    .action(withContext((context, name: string, options: { recursive?: boolean }) => deleteCell(context, name, options), 'unit'));

  program.command('login <cell> <account>').description("log in to a cell's account; the tokens are kept (mode 0600) and refreshed when they expire")
    .option('--password-stdin', 'read the password from standard input instead of the terminal')
    .option('--scope <privileges>', 'space-separated cell privileges the token may use (default root)')
    .action(withContext((context, cellName: string, account: string, options: { passwordStdin?: boolean; scope?: string }) => loginCommand(context, cellName, account, options), 'anonymous'));
  program.command('logout [cell]').description('forget the login to a cell (every cell of the unit without CELL)')
    .action(withContext((context, cellName: string | undefined) => logoutCommand(context, cellName), 'anonymous'));

  const account = program.command('account').description("a cell's accounts");
  account.command('create <cell> <name>').description('create an account (its password is asked for)')
    .option('--password-stdin', 'read the password from standard input')
    .option('--no-password', 'an account without a password (it cannot log in)')
    .action(withContext((context, cellName: string, name: string, options: { passwordStdin?: boolean; password?: boolean }) => createAccount(context, cellName, name, options)));
  account.command('list <cell>').description('list the accounts').action(withContext(listAccounts));
  account.command('delete <cell> <name>').description('delete an account and its role links').action(withContext(deleteAccount));

  const role = program.command('role').description("a cell's roles and who holds them");
  const boxOption = ['--box <box>', 'the box the role is bound to'] as const;
  role.command('create <cell> <name>').description('create a role').option(...boxOption)
    .action(withContext((context, cellName: string, name: string, options: { box?: string }) => createRole(context, cellName, name, options)));
  role.command('list <cell>').description('list the roles').action(withContext(listRoles));
  role.command('delete <cell> <name>').description('delete a role and its links').option(...boxOption)
    .action(withContext((context, cellName: string, name: string, options: { box?: string }) => deleteRole(context, cellName, name, options)));
  role.command('grant <cell> <account> <role>').description('give an account a role').option(...boxOption)
    .action(withContext((context, cellName: string, name: string, roleName: string, options: { box?: string }) => grantRole(context, cellName, name, roleName, options)));
  role.command('revoke <cell> <account> <role>').description('take a role from an account').option(...boxOption)
    .action(withContext((context, cellName: string, name: string, roleName: string, options: { box?: string }) => revokeRole(context, cellName, name, roleName, options)));

  const acl = program.command('acl').description('what the cell ACL, or a box resource ACL, grants a role');
  const targetOption = ['--box <box[/path]>', 'a box resource instead of the cell'] as const;
  acl.command('grant <cell> <role> <privilege>').description('grant a role (or all) a privilege (root, auth, read, write, all, ...)').option(...targetOption)
    .action(withContext((context, cellName: string, roleName: string, privilege: string, options: { box?: string }) => grantPrivilege(context, cellName, roleName, privilege, options)));
  acl.command('revoke <cell> <role> <privilege>').description('take a privilege from a role').option(...targetOption)
    .action(withContext((context, cellName: string, roleName: string, privilege: string, options: { box?: string }) => revokePrivilege(context, cellName, roleName, privilege, options)));

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
  snapshot.command('ls <cell>').description('list the snapshot files')
    .action(withContext(async (context, cellName: string) => (await snapshotCommands()).listSnapshots(context, cellName)));
  snapshot.command('get <cell> <file> [out]').description('download a file; resumes when OUT is a partial copy')
    .action(withContext(async (context, cellName: string, file: string, out: string | undefined) => (await snapshotCommands()).getSnapshot(context, cellName, file, out)));
  snapshot.command('put <cell> <file>').description('upload a file (named as FILE without its folder)')
    .option('--as <name>', 'the name in the snapshot area')
    .action(withContext(async (context, cellName: string, file: string, options: { as?: string }) => (await snapshotCommands()).putSnapshot(context, cellName, file, options)));
  snapshot.command('rm <cell> <file>').description('delete a file')
    .action(withContext(async (context, cellName: string, file: string) => (await snapshotCommands()).removeSnapshot(context, cellName, file)));
  snapshot.command('verify <file>').description('check a local snapshot zip as an import would, without a unit; exit code 0 only when it would import')
    .action(async (file: string, _options: unknown, command: Command) => (await snapshotVerify()).verifySnapshotFile(file, command.optsWithGlobals<GlobalOptions>()));

  const unit = program.command('unit').description('the whole unit as one tar file: back up, verify, restore');
  unit.command('backup <file>').description('download a backup of the whole unit (cells, snapshots, registry, secrets) to FILE')
    .option('--no-snapshots', 'leave the snapshot areas out')
    .option('--verify', "also hold every entry to its SHA-256 while downloading (otherwise to its size and place; `unit verify` checks the hashes)")
    .action(withContext(async (context, file: string, options: { snapshots?: boolean; verify?: boolean }) => (await unitCommands()).backupUnit(context, file, options)));
  unit.command('verify <file>').description('check a unit backup without extracting it; exit code 0 only when it would restore')
    .action(withOutput(async (output, file: string) => (await unitCommands()).verifyUnit(output, file)));
  unit.command('restore <file>').description('restore a unit backup into an empty data directory (offline: no server may run on it)')
    .requiredOption('--data-dir <dir>', 'the data directory to restore into (must be empty or absent)')
    .action(withOutput(async (output, file: string, options: { dataDir: string }) => (await unitCommands()).restoreUnit(output, file, options)));

  for (const command of [program, cell, schedule, snapshot, account, role, acl, unit]) {
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
