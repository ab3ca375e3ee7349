// Where a cell lives on the web. Path-based (the default): `{UnitURL}{cell}/`. Per-cell FQDN, as
// Personium's pages show every call: `https://{cell}.{unit host}/`; a request to a cell's host
// is routed as the path-based one would be (`/{cell}/...`, the raw URL too), so every route, gate
// and lock works by the cell either way, and every URL the unit writes (Location, href, realm)
// takes the configured form. On an FQDN unit the unit host serves only the unit's own API.
import type { Plugin } from '@hapi/hapi';
import { unitUrlFor, type Config } from './config.ts';
import { personiumError } from './errors.ts';
import type { UnitStore } from './store.ts';
import { cellarVersion } from './version.ts';

export interface UnitUrls {
  /** The unit URL, ending in '/'. */
  unit(): string;
  /** `{UnitURL}{cellName}/`, or `{scheme}://{cellName}.{unit host}/` on an FQDN unit. */
  cell(cellName: string): string;
}

export function unitUrls(config: Config, listeningPort: () => number): UnitUrls {
  const unit = () => unitUrlFor(config, listeningPort());
  if (config.cellUrl === 'path') return { unit, cell: (cellName) => `${unit()}${encodeURIComponent(cellName)}/` };
  return {
    unit,
    cell(cellName) {
      const url = new URL(unit());
      url.hostname = `${cellName}.${url.hostname}`;
      url.pathname = '/';
      return url.toString();
    },
  };
}

/** The host name a request came to, lower case, without the port. */
function hostOf(header: string | undefined): string {
  const host = (header ?? '').trim().toLowerCase();
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  return host.replace(/:\d*$/, '');
}

/**
 * On an FQDN unit: a request to `{cell}.{unit host}` is routed as `/{cell}{path}`; on the unit host,
 * a path that would name a cell gets 400 PR400-MC-0002 (the unit's own `/__...` URLs stay).
 */
export const cellHostPlugin: Plugin<{ config: Config; urls: UnitUrls; store: UnitStore }> = {
  name: 'cellar-cell-host',
  version: cellarVersion,
  register(server, { config, urls, store }) {
    if (config.cellUrl !== 'fqdn') return;
    server.ext('onRequest', (request, h) => {
      const unitHost = new URL(urls.unit()).hostname.toLowerCase();
      const host = hostOf(request.headers.host as string | undefined);
      const raw = request.raw.req.url ?? '/';
      if (host.endsWith(`.${unitHost}`)) {
        // Host names are case-insensitive; cell names are not, but no two may differ by case alone.
        const label = host.slice(0, -unitHost.length - 1);
        const cell = store.listCells().find((candidate) => candidate.name.toLowerCase() === label);
        if (!cell) throw personiumError('PR404-DV-0003');
        const routed = `/${encodeURIComponent(cell.name)}${raw.startsWith('/') ? raw : `/${raw}`}`;
        request.raw.req.url = routed;
        request.setUrl(routed);
        return h.continue;
      }
      const first = request.path.split('/')[1] ?? '';
      if (first !== '' && !first.startsWith('__')) throw personiumError('PR400-MC-0002');
      return h.continue;
    });
  },
};
