// Drives exports in tests: start one, hold it in progress at a chosen entry through the export
// job's `beforeEntry` seam, wait for the cell to be ready again, and find its snapshot files.
import { readdir } from 'node:fs/promises';
import { json, type TestUnit } from './unit.ts';

export function areaDirOf(unit: TestUnit, cellName: string): string {
  const { store, snapshots } = unit.server.cellar;
  return snapshots.of(store.findCell(cellName)!.id).dir;
}

/** Every name in the snapshot area's folder, hidden ones included. */
export async function areaFiles(unit: TestUnit, cellName: string): Promise<string[]> {
  return (await readdir(areaDirOf(unit, cellName)).catch(() => [])).sort();
}

export interface Hold {
  /** Resolves with the entry the export stopped before. */
  reached: Promise<string>;
  release(): void;
}

/** Holds the next export before the first entry `matches` accepts, until `release()` (or its abort). */
export function holdExportAt(unit: TestUnit, matches: (entry: string) => boolean = () => true): Hold {
  let reach!: (entry: string) => void;
  let release!: () => void;
  const reached = new Promise<string>((resolve) => { reach = resolve; });
  const released = new Promise<void>((resolve) => { release = resolve; });
  let held = false;
  unit.hooks.export = async (entry, signal) => {
    if (held || !matches(entry)) return;
    held = true;
    reach(entry);
    await new Promise<void>((resolve) => {
      void released.then(resolve);
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
  };
  return { reached, release };
}

export async function postExport(unit: TestUnit, cellName: string, body?: unknown) {
  return unit.as({ method: 'POST', url: `/${cellName}/__export`, payload: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
}

export async function exportStatus(unit: TestUnit, cellName: string): Promise<Record<string, string>> {
  return json(await unit.as({ method: 'GET', url: `/${cellName}/__export` }));
}

/** Polls GET __export until it says ready. */
export async function untilReady(unit: TestUnit, cellName: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await exportStatus(unit, cellName)).status !== 'ready') {
    if (Date.now() > deadline) throw new Error(`export of ${cellName} still running after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
