// {CellURL}__ctl/Account: POST and GET the set, GET, PUT and DELETE one account. The password
// comes in `X-Personium-Credential`, is held to Personium's default rule and kept only as an
// scrypt hash; deleting an account removes its role links.
import type { Request, ResponseToolkit } from '@hapi/hapi';
import { cellOf } from '../../core/cell-access.ts';
import type { AccountRecord } from '../../core/cell-identity.ts';
import { newId } from '../../core/cell-content.ts';
import { personiumError } from '../../core/errors.ts';
import { hashPassword, isValidPassword } from '../../core/password-hash.ts';
import { param } from '../../core/auth.ts';
import { notAllowed } from '../../core/routes.ts';
import { accountEntity, accountKey, etagOf, odataBody, page } from './odata-keys.ts';

const accountNameRule = /^[a-zA-Z0-9][a-zA-Z0-9\-_!$*=^`{|}~.@]{0,127}$/;
const statusRule = /^(active|deactivated|passwordChangeRequired)$/;
const addressRange = /^(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}(?:\/(?:3[0-2]|[12]?\d))?)$/;

export const collectionAllow = 'OPTIONS, GET, POST';
export const entityAllow = 'OPTIONS, GET, PUT, DELETE';

function fieldError(field: string): never {
  throw personiumError('PR400-OD-0006', field);
}

type AccountFields = Pick<AccountRecord, 'Name' | 'Type' | 'Status' | 'IPAddressRange' | 'Cell'>;

/** The fields of a POST or PUT body; omitted ones take Personium's defaults. */
function accountFields(body: Record<string, unknown>): AccountFields {
  for (const forbidden of ['__published', '__updated', '__metadata']) if (forbidden in body) fieldError(forbidden);
  const name = body.Name;
  if (typeof name !== 'string' || !accountNameRule.test(name)) fieldError('Name');
  const type = body.Type ?? 'basic';
  if (typeof type !== 'string') fieldError('Type');
  const types = type.split(' ');
  if (types.some((one) => one !== 'basic') || new Set(types).size !== types.length) fieldError('Type');
  const status = body.Status ?? 'active';
  if (typeof status !== 'string' || !statusRule.test(status)) fieldError('Status');
  const range = body.IPAddressRange ?? null;
  if (range !== null && (typeof range !== 'string' || !range.split(',').every((part) => addressRange.test(part)))) fieldError('IPAddressRange');
  const cell = body.Cell ?? null;
  if (cell !== null && typeof cell !== 'string') fieldError('Cell');
  return { Name: name, Type: type, Status: status, IPAddressRange: range, Cell: cell };
}

/** The hash of the password in `X-Personium-Credential`; undefined when the header is absent. */
async function credentialOf(request: Request) {
  const header = request.headers['x-personium-credential'];
  if (header === undefined) return undefined;
  if (typeof header !== 'string' || !isValidPassword(header)) throw personiumError('PR400-AU-0001');
  return hashPassword(header);
}

async function records(request: Request) {
  return request.server.cellar.identity.records(cellOf(request));
}

export async function createAccount(request: Request, h: ResponseToolkit) {
  if (accountKey(param(request, 'key')) !== undefined) throw notAllowed(entityAllow);
  const fields = accountFields(odataBody(request.payload));
  const hash = await credentialOf(request);
  const { document, accounts } = await records(request);
  if (accounts.some((account) => account.Name === fields.Name)) throw personiumError('PR409-OD-0003');
  const now = Date.now();
  const account: AccountRecord = { _id: newId(), ...fields, __published: now, __updated: now, ...(hash ? { h: hash } : {}) };
  accounts.push(account);
  await document.write();
  const entity = accountEntity(request, account, false);
  return h.response({ d: { results: entity } }).code(201).header('Location', entity.__metadata.uri)
    .header('ETag', entity.__metadata.etag).header('DataServiceVersion', '2.0');
}

async function existing(request: Request) {
  const name = accountKey(param(request, 'key'));
  const found = await records(request);
  if (name === undefined) return { ...found, account: undefined };
  const account = found.accounts.find((candidate) => candidate.Name === name);
  if (!account) throw personiumError('PR404-OD-0002');
  return { ...found, account };
}

export async function readAccounts(request: Request, h: ResponseToolkit) {
  const { accounts, account } = await existing(request);
  if (!account) return h.response({ d: { results: page(request, accounts).map((one) => accountEntity(request, one, true)) } }).header('DataServiceVersion', '2.0');
  return h.response({ d: { results: accountEntity(request, account, true) } }).header('ETag', etagOf(account.__updated)).header('DataServiceVersion', '2.0');
}

function checkIfMatch(request: Request, updated: number): void {
  const header = request.headers['if-match'] as string | undefined;
  if (header === undefined || header.trim() === '*') return;
  if (!header.split(',').some((tag) => tag.trim() === etagOf(updated))) throw personiumError('PR412-OD-0002');
}

export async function replaceAccount(request: Request, h: ResponseToolkit) {
  const { document, accounts, account } = await existing(request);
  if (!account) throw notAllowed(collectionAllow);
  checkIfMatch(request, account.__updated);
  const fields = accountFields(odataBody(request.payload));
  const hash = await credentialOf(request);
  if (fields.Name !== account.Name && accounts.some((other) => other.Name === fields.Name)) throw personiumError('PR409-OD-0003');
  Object.assign(account, fields, { __updated: Math.max(Date.now(), account.__updated + 1) }, hash ? { h: hash } : {});
  await document.write();
  return h.response().code(204).header('ETag', etagOf(account.__updated)).header('DataServiceVersion', '2.0');
}

export async function deleteAccount(request: Request, h: ResponseToolkit) {
  const { document, accounts, links, account } = await existing(request);
  if (!account) throw notAllowed(collectionAllow);
  checkIfMatch(request, account.__updated);
  accounts.splice(accounts.indexOf(account), 1);
  const kept = links.filter((link) => link.accountId !== account._id);
  links.splice(0, links.length, ...kept);
  await document.write();
  return h.response().code(204).header('DataServiceVersion', '2.0');
}
