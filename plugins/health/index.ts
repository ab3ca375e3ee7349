// GET /__health: no token needed, answers `ok` while the unit serves; the unit master token also
// sees the version and the number of cells (which an anonymous caller has no business knowing).
import type { Plugin } from '@hapi/hapi';
import Joi from 'joi';
import { credentialsOf } from '../../core/auth.ts';
import { cellarVersion } from '../../core/version.ts';

export const healthPlugin: Plugin<void> = {
  name: 'health',
  version: cellarVersion,
  register(server) {
    server.route({
      method: 'GET',
      path: '/__health',
      options: { auth: { mode: 'try' }, validate: { query: Joi.object({}) } },
      handler(request) {
        if (credentialsOf(request)?.kind !== 'unit-master') return { status: 'ok' };
        const { store } = request.server.app.unit;
        return { status: 'ok', version: cellarVersion, cells: store.listCells().length };
      },
    });
  },
};
