// The one request-lifecycle extension that guards every cell request: it finds the cell, checks
// the route's privilege, and applies the cell status gates. Each route says once, in
// `options.plugins.cellar`, what kind of access it is; handlers never repeat these checks. Below
// the free-space floor (core/disk-space.ts) writes that add data are refused here too.
import type { Plugin, Request, RouteOptions } from '@hapi/hapi';
import { decideAccess } from './access-decision.ts';
import type { Acl } from './acl.ts';
import { param, type Privilege } from './auth.ts';
import { activityOf } from './cell-status.ts';
import { addsData, type DiskSpace } from './disk-space.ts';
import { personiumError } from './errors.ts';
import type { CellHolds } from './cell-holds.ts';
import type { CellWrites } from './cell-writes.ts';
import type { CellRecord, UnitStore } from './store.ts';

/**
 * - `read`/`write`: an ordinary read or write of the cell's content.
 * - `by-method`: WebDAV: GET, HEAD, PROPFIND and OPTIONS read, every other method writes.
 * - `import-read`/`import-write`: `__import`, which stays open while the cell is `import failed`.
 * - `token`: `__token`, also open while `import failed`.
 * - `cell-delete`: deleting the cell itself: open while `import failed`, refused while a job runs.
 * - `snapshot-read`/`snapshot-write`: the snapshot area, which stays open while `import failed` so
 *   that a good zip can be uploaded into the cell whose import failed (writes still wait for jobs).
 * - `unit-write`: a unit-level write that adds data (creating a cell): no cell, only the free-space floor.
 */
export type CellAccess = 'read' | 'write' | 'by-method' | 'import-read' | 'import-write' | 'token' | 'cell-delete' | 'snapshot-read' | 'snapshot-write' | 'unit-write';

export interface CellRouteSettings {
  access: CellAccess;
  /** The privilege a caller needs; for `by-method` routes, reads need `read` and writes `write`. */
  privilege?: Privilege | ((method: string) => Privilege);
  /** Only the unit master may (deleting the cell). */
  unitOnly?: boolean;
  /** The ACLs of the box resource the request names and of its ancestors, nearest first. */
  resourceAcls?: (request: Request, cell: CellRecord) => Promise<Acl[]>;
  /** Where the cell's name is in the request; default `request.params.cell`. */
  cellName?: (request: Request) => string | undefined;
  /** When the cell does not exist: `error` (404 Cell not found, the default) or `pass` (the handler decides). */
  missing?: 'error' | 'pass';
  /**
   * A write that leaves the cell's content alone (the snapshot area; POST `__export`/`__import`,
   * whose job itself waits for the cell's writes): an export or import does not wait for it.
   */
  leavesContent?: boolean;
}

declare module '@hapi/hapi' {
  interface PluginSpecificConfiguration {
    cellar?: CellRouteSettings;
  }
  interface RequestApplicationState {
    cell?: CellRecord;
  }
}

const readMethods = new Set(['get', 'head', 'propfind', 'options']);

interface Classified {
  settings: CellRouteSettings;
  isWrite(method: string): boolean;
  passesImportFailed: boolean;
  privilegeFor(method: string): Privilege;
}

function classify(settings: CellRouteSettings): Classified {
  const byMethod = settings.access === 'by-method';
  const isWrite = (method: string): boolean => {
    switch (settings.access) {
      case 'read':
      case 'import-read':
      case 'snapshot-read':
      case 'token':
        return false;
      case 'by-method':
        return !readMethods.has(method);
      default:
        return true;
    }
  };
  return {
    settings,
    isWrite,
    passesImportFailed: ['import-read', 'import-write', 'snapshot-read', 'snapshot-write', 'token', 'cell-delete'].includes(settings.access),
    privilegeFor: (method) => {
      if (typeof settings.privilege === 'function') return settings.privilege(method);
      return settings.privilege ?? (byMethod ? (isWrite(method) ? 'write' : 'read') : 'root');
    },
  };
}

/** The status gate for one request: 409 while a job runs, the cell is held or the import failed, by kind of access. */
function gateError(cell: CellRecord, classified: Pick<Classified, 'isWrite' | 'passesImportFailed'>, method: string, holds: CellHolds) {
  if (cell.status === 'import failed' && !classified.passesImportFailed) return personiumError('PR409-CM-0001');
  const activity = activityOf(cell);
  if (activity !== 'idle' && classified.isWrite(method)) {
    return personiumError('PR409-CM-0002', activity === 'exporting' ? 'cell export' : 'cell import');
  }
  const holder = holds.holderOf(cell.id);
  if (holder !== undefined && classified.isWrite(method)) return personiumError('PR409-CM-0002', holder);
  return undefined;
}

/**
 * A cell route. Authentication is tried, not required: the access decision answers the 401, so
 * that an ACL granting `all` can admit a caller without a (valid) token. `__token` needs none.
 */
export function cellRoute(settings: CellRouteSettings): Pick<RouteOptions, 'plugins' | 'auth'> {
  return { plugins: { cellar: settings }, auth: settings.access === 'token' ? false : { mode: 'try' } };
}

/** A unit-level route that adds data: refused below the free-space floor. */
export function unitWriteRoute(): Pick<RouteOptions, 'plugins'> {
  return { plugins: { cellar: { access: 'unit-write' } } };
}

/** Read-delete-only below the floor: writes that add data get 503, reads and deletions go on. */
async function checkFreeSpace(diskSpace: DiskSpace, method: string): Promise<void> {
  if (addsData(method) && (await diskSpace.belowFloor())) throw personiumError('PR503-SV-0005');
}

export const cellAccessPlugin: Plugin<{ store: UnitStore; writes: CellWrites; holds: CellHolds; diskSpace: DiskSpace }> = {
  name: 'cellar-cell-access',
  register(server, { store, writes, holds, diskSpace }) {
    const classifications = new WeakMap<object, Classified>();

    server.ext('onPostAuth', async (request, h) => {
      const settings = request.route.settings.plugins?.cellar;
      if (!settings) return h.continue;
      if (settings.access === 'unit-write') {
        await checkFreeSpace(diskSpace, request.method);
        return h.continue;
      }
      let classified = classifications.get(request.route);
      if (!classified) {
        classified = classify(settings);
        classifications.set(request.route, classified);
      }
      const name = settings.cellName ? settings.cellName(request) : param(request, 'cell') || undefined;
      // A caller without valid credentials learns nothing of which cells exist.
      const refusal = !request.auth.isAuthenticated && settings.access !== 'token' ? request.auth.error : undefined;
      // Names starting with `__` are the unit's own, never a cell's.
      if (name?.startsWith('__')) throw refusal ?? personiumError('PR404-MC-0001');
      const cell = name === undefined ? undefined : store.findCell(name);
      if (!cell) {
        if (refusal) throw refusal;
        if (settings.missing === 'pass') return h.continue;
        throw personiumError('PR404-DV-0003');
      }
      if (settings.access !== 'token') {
        await decideAccess(request, {
          cell,
          privilege: classified.privilegeFor(request.method),
          ...(settings.unitOnly ? { unitOnly: true } : {}),
          ...(settings.resourceAcls ? { resourceAcls: () => settings.resourceAcls!(request, cell) } : {}),
        });
      }
      const refused = gateError(cell, classified, request.method, holds);
      if (refused) throw refused;
      if (classified.isWrite(request.method)) await checkFreeSpace(diskSpace, request.method);
      request.app.cell = cell;
      if (classified.isWrite(request.method) && !settings.leavesContent) {
        // Until its answer is sent or the client is gone (box WebDAV answers outside hapi's cycle).
        const end = writes.begin(cell.id);
        request.raw.res.once('finish', end);
        request.raw.res.once('close', end);
      }
      return h.continue;
    });
  },
};

/** The cell the access extension found for this request. */
export function cellOf(request: Request): CellRecord {
  const cell = request.app.cell;
  if (!cell) throw new Error(`route ${request.route.path} has no cellar access settings`);
  return cell;
}
