// `npm run bench`: every benchmark, one after the other, each against its reference tool in the
// same run (the soak against its goals). Data is generated into temporary folders and removed
// afterwards; nothing is committed. `npm run bench -- soak import` runs only the benches named.
import { authBench } from './auth.ts';
import { backupBench } from './backup.ts';
import { boxDavBench } from './box-dav.ts';
import { exportStatusBench } from './export-status.ts';
import { exportBench } from './export.ts';
import { importBench } from './import.ts';
import { smallFilesBench } from './small-files.ts';
import { snapshotGetBench } from './snapshot-get.ts';
import { snapshotPropfindBench } from './snapshot-propfind.ts';
import { soakBench } from './soak.ts';

const all: Array<[string, string, () => Promise<{ passed: boolean }>]> = [
  ['propfind', 'snapshot PROPFIND', () => snapshotPropfindBench()],
  ['snapshot-get', 'snapshot GET', () => snapshotGetBench()],
  ['box', 'box WebDAV', () => boxDavBench()],
  ['export', 'export', () => exportBench()],
  ['import', 'import', () => importBench()],
  ['small-files', 'many small files', () => smallFilesBench()],
  ['export-status', 'GET __export during a 3 GB export', () => exportStatusBench()],
  ['auth', 'authenticated GET and login', () => authBench()],
  ['backup', 'unit backup and restore', () => backupBench()],
  ['soak', 'soak', () => soakBench()],
];
const chosen = process.argv.slice(2);
const unknown = chosen.filter((key) => !all.some(([known]) => known === key));
if (unknown.length) {
  console.error(`unknown bench ${unknown.join(', ')}; known: ${all.map(([key]) => key).join(', ')}`);
  process.exit(2);
}
const benches = all.filter(([key]) => chosen.length === 0 || chosen.includes(key)).map(([, name, bench]) => [name, bench] as const);

const missed: string[] = [];
for (const [name, bench] of benches) {
  try {
    if (!(await bench()).passed) missed.push(name);
  } catch (error) {
    console.error(`${name} bench failed: ${(error as Error).message}`);
    missed.push(name);
  }
  console.log('');
}
console.log(missed.length ? `targets missed: ${missed.join(', ')}` : 'all targets met');
process.exitCode = missed.length ? 1 : 0;
