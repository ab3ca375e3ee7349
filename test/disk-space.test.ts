// The free-space floor is the smaller of a share of the file system and a fixed amount, read with
// a cached statfs.
import os from 'node:os';
import test from 'ava';
import { addsData, DiskSpace, floorBytes } from '../core/disk-space.ts';
import { defaults } from '../core/config.ts';

test('the default floor is 1% of a small file system and 256 MiB of a large one', (t) => {
  t.is(floorBytes(256 * 1024 ** 2, defaults.freeSpaceFloor), Math.floor(256 * 1024 ** 2 / 100));
  t.is(floorBytes(10 * 1024 ** 4, defaults.freeSpaceFloor), 256 * 1024 ** 2);
  t.is(floorBytes(10 * 1024 ** 4, { percent: 0, bytes: 256 * 1024 ** 2 }), 0, 'either set to 0 turns the floor off');
});

test('a reading of the real file system says how much is free and is reused within its age', async (t) => {
  const space = new DiskSpace(os.tmpdir(), { percent: 100, bytes: Number.MAX_SAFE_INTEGER }, 60_000);
  const first = await space.read();
  t.true(first!.sizeBytes > 0 && first!.freeBytes >= 0);
  t.true(first!.belowFloor, 'a floor of the whole size is always above what is free');
  t.is(await space.read(), first, 'the cached reading is reused');
  t.false(await new DiskSpace(os.tmpdir(), { percent: 0, bytes: 0 }).belowFloor());
});

test('only methods that add data are refused below the floor', (t) => {
  t.deepEqual(['PUT', 'POST', 'MKCOL', 'COPY', 'PROPPATCH', 'PATCH'].filter(addsData).length, 6);
  t.deepEqual(['GET', 'HEAD', 'DELETE', 'MOVE', 'PROPFIND', 'OPTIONS'].filter(addsData), []);
});
