// GET /__health: no token needed, answers `ok` while the unit serves; the unit master token also
// sees the version and the number of cells (which an anonymous caller has no business knowing).
import type { Plugin } from '@hapi/hapi';
import Joi from 'joi';
import { optionsRoute } from '../../core/routes.ts';
import { servicesPluginName } from '../../core/services.ts';
import { credentialsOf } from '../../core/auth.ts';
import { cellarVersion } from '../../core/version.ts';

export const healthPlugin: Plugin<void> = {
  name: 'cellar-health',
  version: cellarVersion,
  dependencies: [servicesPluginName],
  register(server) {
    server.route(optionsRoute('/__health', 'OPTIONS, GET'));
    server.route({
      method: 'GET',
      path: '/__health',
      options: { auth: { mode: 'try' }, validate: { query: Joi.object({}) } },
      handler(request) {
        if (credentialsOf(request)?.kind !== 'unit-master') return { status: 'ok' };
        const { store } = request.server.cellar;
        return { status: 'ok', version: cellarVersion, cells: store.listCells().length };
      },
    });
  },
};
