// `npm run bench`: every benchmark, one after the other, each against its reference tool in the
// same run. Data is generated into temporary folders and removed afterwards; nothing is committed.
import { boxDavBench } from './box-dav.ts';
import { exportBench } from './export.ts';
import { importBench } from './import.ts';
import { snapshotPropfindBench } from './snapshot-propfind.ts';

const benches: Array<[string, () => Promise<{ passed: boolean }>]> = [
  ['snapshot PROPFIND', () => snapshotPropfindBench()],
  ['box WebDAV', () => boxDavBench()],
  ['export', () => exportBench()],
  ['import', () => importBench()],
];

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
