// A cell's identity API under {CellURL}__ctl/: Account, Role, and the Account↔Role `$links`.
// Writes need the cell privilege `auth`, reads `auth-read` (the access decision checks them).
import type { Plugin, ServerRoute } from '@hapi/hapi';
import { param } from '../../core/auth.ts';
import { cellRoute } from '../../core/cell-access.ts';
import { rawJsonPayload } from '../../core/json-body.ts';
import { methodNotAllowed, optionsRoute } from '../../core/routes.ts';
import { servicesPluginName } from '../../core/services.ts';
import { cellarVersion } from '../../core/version.ts';
import { collectionAllow, createAccount, deleteAccount, entityAllow, readAccounts, replaceAccount } from './accounts.ts';
import { createLink, deleteLink, readLinks, replaceLink } from './links.ts';
import { createRoleLink, deleteRoleLink, readRoleLinks } from './role-links.ts';
import { createRole, deleteRole, readRoles, roleCollectionAllow, roleEntityAllow } from './roles.ts';

const reads = new Set(['get', 'head', 'options', 'propfind']);
const access = cellRoute({ access: 'by-method', privilege: (method) => (reads.has(method) ? 'auth-read' : 'auth') });
const withBody = { ...access, payload: rawJsonPayload };

function entitySet(path: string, allow: { collection: string; entity: string }, handlers: Partial<Record<'POST' | 'GET' | 'PUT' | 'DELETE', ServerRoute['handler']>>): ServerRoute[] {
  const allowOf = (key: string) => (key === '' ? allow.collection : allow.entity);
  return [
    ...Object.entries(handlers).map(([method, handler]) => ({ method, path, options: method === 'GET' || method === 'DELETE' ? access : withBody, handler }) as ServerRoute),
    optionsRoute(path, (request) => allowOf(param(request, 'key'))),
    { method: '*', path, options: access, handler: (request) => methodNotAllowed(allowOf(param(request, 'key')))() },
  ];
}

export const identityPlugin: Plugin<void> = {
  name: 'cellar-identity',
  version: cellarVersion,
  dependencies: [servicesPluginName],
  register(server) {
    server.route([
      ...entitySet('/{cell}/__ctl/Account{key?}', { collection: collectionAllow, entity: entityAllow }, { POST: createAccount, GET: readAccounts, PUT: replaceAccount, DELETE: deleteAccount }),
      ...entitySet('/{cell}/__ctl/Role{key?}', { collection: roleCollectionAllow, entity: roleEntityAllow }, { POST: createRole, GET: readRoles, DELETE: deleteRole }),
      { method: 'POST', path: '/{cell}/__ctl/Account{key}/{nav*}', options: withBody, handler: createLink },
      { method: 'GET', path: '/{cell}/__ctl/Account{key}/{nav*}', options: access, handler: readLinks },
      { method: 'DELETE', path: '/{cell}/__ctl/Account{key}/{nav*}', options: access, handler: deleteLink },
      { method: 'PUT', path: '/{cell}/__ctl/Account{key}/{nav*}', options: withBody, handler: replaceLink },
      optionsRoute('/{cell}/__ctl/Account{key}/{nav*}', 'OPTIONS, GET, POST, DELETE'),
      { method: 'POST', path: '/{cell}/__ctl/Role{key}/{nav*}', options: withBody, handler: createRoleLink },
      { method: 'GET', path: '/{cell}/__ctl/Role{key}/{nav*}', options: access, handler: readRoleLinks },
      { method: 'DELETE', path: '/{cell}/__ctl/Role{key}/{nav*}', options: access, handler: deleteRoleLink },
      optionsRoute('/{cell}/__ctl/Role{key}/{nav*}', 'OPTIONS, GET, POST, DELETE'),
    ]);
  },
};
