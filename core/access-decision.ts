// The one access decision: "may this caller do privilege P on this resource of this cell?".
// Every cell route asks it through the cell-access extension, and the unit's own routes through
// `requireUnitMaster`; no route looks at a token itself. The order is Personium's: the master
// token holds everything; a cell-local token must be this cell's (else 401 PR401-AU-0006) and its
// account must still exist (else 401 PR401-AU-0001); its roles, read now from the links, must be
// granted P by the resource's ACL, its ancestors' or the cell's (else 403 PR403-AU-0002); and for
// a cell privilege the token's scope must cover P (else 403 PR403-AU-0007). An ACL granting P to
// `all` admits anybody to a box resource, even with a bad or no token.
import type { Request } from '@hapi/hapi';
import type Boom from '@hapi/boom';
import { aclGrants, type Acl } from './acl.ts';
import { credentialsOf, holdsPrivilege, unauthorized } from './auth.ts';
import { personiumError } from './errors.ts';
import { includes, isCellPrivilege, type Privilege } from './privileges.ts';
import type { CellRecord } from './store.ts';

export interface AccessQuestion {
  cell: CellRecord;
  privilege: Privilege;
  /** Only the unit master may (deleting the cell). */
  unitOnly?: boolean;
  /** The ACLs of a box resource and its ancestors up to the box, nearest first. */
  resourceAcls?: () => Promise<Acl[]>;
}

const nobody: ReadonlySet<string> = new Set();

async function granted(request: Request, question: AccessQuestion, roles: ReadonlySet<string>): Promise<boolean> {
  const { identity } = request.server.cellar;
  if (aclGrants(await identity.cellAcl(question.cell), roles, question.privilege)) return true;
  if (!question.resourceAcls) return false;
  return (await question.resourceAcls()).some((acl) => aclGrants(acl, roles, question.privilege));
}

/** Resolves when the caller may; throws the 401 or 403 it gets otherwise. */
export async function decideAccess(request: Request, question: AccessQuestion): Promise<void> {
  const credentials = credentialsOf(request);
  const realm = request.server.cellar.urls.cell(question.cell.name);
  const cellLevel = isCellPrivilege(question.privilege);
  if (!credentials) {
    const refusal = (request.auth.error as Boom.Boom | null | undefined) ?? unauthorized('PR401-AU-0001', realm);
    if (!question.unitOnly && (await granted(request, question, nobody))) {
      // No token has a scope, and a cell privilege needs one.
      if (cellLevel) throw personiumError('PR403-AU-0007', question.privilege);
      return;
    }
    throw refusal;
  }
  if (credentials.kind === 'unit-master') return;
  if (question.unitOnly) throw personiumError('PR403-AU-0002');
  if (credentials.kind === 'cell') {
    if (!holdsPrivilege(credentials, question.cell.id, question.privilege)) throw personiumError('PR403-AU-0002');
    return;
  }
  if (credentials.cellId !== question.cell.id) throw unauthorized('PR401-AU-0006', realm);
  const { identity } = request.server.cellar;
  const account = await identity.account(question.cell, credentials.account);
  if (!account) throw unauthorized('PR401-AU-0001', realm);
  if (!(await granted(request, question, await identity.rolesOf(question.cell, account._id)))) throw personiumError('PR403-AU-0002');
  if (cellLevel && !credentials.scopes.some((scope) => isCellPrivilege(scope) && includes(scope, question.privilege))) {
    throw personiumError('PR403-AU-0007', question.privilege);
  }
}

/** The unit's own API: the master token only; a cell's token is no token here (401 PR401-AU-0006). */
export function requireUnitMaster(request: Request): void {
  const credentials = credentialsOf(request);
  const realm = request.server.cellar.urls.unit();
  if (!credentials) throw (request.auth.error as Boom.Boom | null | undefined) ?? unauthorized('PR401-AU-0001', realm);
  if (credentials.kind === 'account') throw unauthorized('PR401-AU-0006', realm);
  if (credentials.kind !== 'unit-master') throw personiumError('PR403-AU-0002');
}

/** The same decision as a yes or no, for what a response shows (the ACL in a PROPFIND). */
export async function mayAccess(request: Request, question: AccessQuestion): Promise<boolean> {
  return decideAccess(request, question).then(() => true, () => false);
}
