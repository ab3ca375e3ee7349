// GET /__health: no auth, answers whether the unit's store is readable.
import type { Plugin } from '@hapi/hapi';
import Joi from 'joi';
import { cellarVersion } from '../../core/version.ts';

export const healthPlugin: Plugin<void> = {
  name: 'health',
  version: cellarVersion,
  register(server) {
    server.route({
      method: 'GET',
      path: '/__health',
      options: { auth: false, validate: { query: Joi.object({}) } },
      handler(request) {
        const { store } = request.server.app.unit;
        return { status: 'ok', version: cellarVersion, cells: store.listCells().length };
      },
    });
  },
};
