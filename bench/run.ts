// `npm run bench`: every benchmark, one after the other, each against its reference tool in the
// same run. Data is generated into temporary folders and removed afterwards; nothing is committed.
// `CELLAR_BENCH=export,small-files` (names below, comma-separated) runs only those.
import { exportStatusBench } from './export-status.ts';
import { exportBench } from './export.ts';
import { importBench } from './import.ts';
import { smallFilesBench } from './small-files.ts';
import { snapshotPropfindBench } from './snapshot-propfind.ts';

const benches: Array<[string, () => Promise<{ passed: boolean }>]> = [
  ['snapshot-propfind', () => snapshotPropfindBench()],
  ['export', () => exportBench()],
  ['import', () => importBench()],
  ['small-files', () => smallFilesBench()],
  ['export-status', () => exportStatusBench()],
];

const chosen = process.env.CELLAR_BENCH?.split(',').map((name) => name.trim()).filter(Boolean);
const unknown = chosen?.filter((name) => !benches.some(([known]) => known === name)) ?? [];
if (unknown.length) {
  console.error(`unknown bench ${unknown.join(', ')}; the benches are ${benches.map(([name]) => name).join(', ')}`);
  process.exit(2);
}
const missed: string[] = [];
for (const [name, bench] of benches) {
  if (chosen && !chosen.includes(name)) continue;
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
