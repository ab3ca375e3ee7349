// GET /__health: no auth, answers whether the unit's store is readable.
import type { Plugin } from '@hapi/hapi';
import Joi from 'joi';
import { optionsRoute } from '../../core/routes.ts';
import { servicesPluginName } from '../../core/services.ts';
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
      options: { auth: false, validate: { query: Joi.object({}) } },
      handler(request) {
        const { store } = request.server.cellar;
        return { status: 'ok', version: cellarVersion, cells: store.listCells().length };
      },
    });
  },
};
