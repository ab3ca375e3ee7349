import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import test from 'ava';
import { buildZip, importStatus, snapshotEntries, startImport, unitWithCell, upload } from './helpers/snapshot-zip.ts';

const run = promisify(execFile);

/** The folder's attribute letters (`lsattr -d`), or undefined where the file system has none. */
async function attributes(dir: string): Promise<string | undefined> {
  try {
    return (await run('lsattr', ['-d', dir])).stdout.split(' ')[0];
  } catch {
    return undefined;
  }
}

test('an import leaves the cell folder marked +T, so the next content folder starts in a block group of its own', async (t) => {
  const unit = await unitWithCell();
  t.teardown(() => unit.stop());
  const { store, contents } = unit.server.cellar;
  const cellDir = contents.cellDir(store.findCell('cell1')!.id);
  const before = await attributes(cellDir);
  if (before === undefined) {
    t.log(`the file system of ${cellDir} keeps no attributes: nothing to mark`);
    t.pass();
    return;
  }
  t.false(before.includes('T'), 'a new cell folder is not marked yet');
  await upload(unit, 'good', buildZip(snapshotEntries()));
  t.is((await startImport(unit, 'good')).statusCode, 202);
  t.is((await importStatus(unit)).status, 'ready');
  t.true((await attributes(cellDir))!.includes('T'));
});
