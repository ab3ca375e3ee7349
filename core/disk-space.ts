// The free-space floor: below it the unit refuses new writes (503 PR503-SV-0005, Personium's
// read-delete-only mode) so that the registry, deletions and running jobs always have room to
// finish. The file system is asked with one statfs at most once per `maxAgeMs`, shared by every
// request that asks meanwhile.
import { statfs } from 'node:fs/promises';

export interface FreeSpaceFloorConfig {
  /** Percent of the file system's size. */
  percent: number;
  /** Bytes; the floor is the smaller of the two, so large disks keep 256 MB, small ones 1%. */
  bytes: number;
}

export interface DiskSpaceReading {
  freeBytes: number;
  sizeBytes: number;
  floorBytes: number;
  belowFloor: boolean;
}

export function floorBytes(sizeBytes: number, floor: FreeSpaceFloorConfig): number {
  return Math.min(Math.floor((sizeBytes * floor.percent) / 100), floor.bytes);
}

export class DiskSpace {
  #reading: DiskSpaceReading | undefined;
  #readAt = 0;
  #pending: Promise<DiskSpaceReading> | undefined;

  constructor(readonly dir: string, private readonly floor: FreeSpaceFloorConfig, private readonly maxAgeMs = 1000) {}

  /** The last reading if it is fresh, else a new one. A statfs that fails counts as room enough. */
  async read(): Promise<DiskSpaceReading | undefined> {
    if (this.#reading && Date.now() - this.#readAt < this.maxAgeMs) return this.#reading;
    this.#pending ??= statfs(this.dir).then((stats) => {
      const sizeBytes = stats.blocks * stats.bsize;
      const freeBytes = stats.bavail * stats.bsize;
      const floor = floorBytes(sizeBytes, this.floor);
      return { freeBytes, sizeBytes, floorBytes: floor, belowFloor: floor > 0 && freeBytes < floor };
    }).finally(() => {
      this.#pending = undefined;
    });
    try {
      this.#reading = await this.#pending;
      this.#readAt = Date.now();
      return this.#reading;
    } catch {
      return undefined;
    }
  }

  async belowFloor(): Promise<boolean> {
    return (await this.read())?.belowFloor ?? false;
  }
}

/** Methods that add data; deletions, moves and reads go on below the floor. */
const addingMethods = new Set(['post', 'put', 'patch', 'mkcol', 'copy', 'proppatch']);

export function addsData(method: string): boolean {
  return addingMethods.has(method.toLowerCase());
}
