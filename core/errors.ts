// The one error catalogue and the one error type: every error Cellar answers with, Personium's codes first, then
// Cellar's own (family SN for snapshot safety, SC for export schedules). Messages are templates with {0}, {1}... slots.
import Boom from '@hapi/boom';

export const catalogue = {
  'PR400-CM-0001': [400, 'Required key [{0}] missing.'],
  'PR400-CM-0002': [400, 'Field [{0}] format error. Must be [{1}].'],
  'PR400-CM-0004': [400, 'JSON parse error. [{0}].'],
  'PR400-AN-0001': [400, 'Unsupported grant type. [{0}]'],
  'PR400-AN-0009': [400, 'Token parse error.'],
  'PR400-AN-0010': [400, 'Token expired or invalid.'],
  'PR400-AN-0013': [400, 'Not a refresh token.'],
  'PR400-AN-0016': [400, 'Required parameter [{0}] missing.'],
  'PR400-AN-0017': [400, 'Authentication failed.'],
  'PR400-AN-0018': [400, 'Authorization header is invalid.'],
  'PR400-AU-0001': [400, 'Password format is invalid.'],
  'PR400-EV-0002': [400, 'Request header is invalid [{0}].'],
  'PR400-MC-0001': [400, '[{0}] does not exist in the snapshot file.'],
  'PR400-MC-0002': [400, 'Path based CellUrl access is not allowed.'],
  'PR400-MC-0003': [400, 'Version of the snapshot file is invalid. Expected [{0}] but was [{1}].'],
  'PR400-MC-0004': [400, 'The specified snapshot file is not zip file.'],
  'PR400-DV-0001': [400, 'XML parse error.'],
  'PR400-DV-0002': [400, 'XML content error.'],
  'PR400-DV-0003': [400, 'Invalid depth header value:[{0}].'],
  'PR400-DV-0004': [400, 'Role not found.'],
  'PR400-DV-0005': [400, 'Box not found url:[{0}].'],
  'PR400-DV-0006': [400, 'XML validate error. Cause:[{0}]'],
  'PR400-DV-0007': [400, 'Cannot add any more child resources.'],
  'PR400-DV-0008': [400, 'Invalid resource name [{0}].'],
  'PR400-DV-0009': [400, 'Request body is shorter than its Content-Length.'],
  'PR400-OD-0001': [400, 'Request body is invalid: {0}.'],
  'PR400-OD-0006': [400, 'request body format error. field [{0}]'],
  'PR400-OD-0010': [400, 'Key for Navigation Property should not be specified in $links POST.'],
  'PR400-OD-0011': [400, 'Key for Navigation Property should be specified in $links.'],
  'PR400-OD-0024': [400, '[{0}] does not exist.'],
  'PR400-SN-0001': [400, 'Unsafe entry [{0}] in the snapshot file: {1}.'],
  'PR400-SN-0002': [400, 'The snapshot file has more entries than the limit [{0}].'],
  'PR400-SN-0003': [400, 'The snapshot file expands to more bytes than the limit [{0}].'],
  'PR400-SN-0004': [400, 'Entry [{0}] has a compression ratio above the limit [{1}].'],
  'PR400-SN-0005': [400, 'Entry [{0}] does not match its checksum in 00_checksums.json.'],
  'PR400-SN-0006': [400, 'The snapshot file is damaged: {0}.'],
  'PR400-SN-0007': [400, 'Destination [{0}] is not one file name of this snapshot area.'],
  'PR400-SC-0001': [400, 'Export schedule field [{0}] is invalid: {1}.'],
  'PR404-SC-0001': [404, 'The cell has no export schedule.'],
  'PR401-AU-0001': [401, 'Authorization required.'],
  'PR401-AU-0002': [401, 'Access token expired.'],
  'PR401-AU-0003': [401, 'Invalid authentication scheme.'],
  'PR401-AU-0006': [401, 'Token parse error.'],
  'PR401-AU-0007': [401, 'Can not access with refresh token.'],
  'PR401-AU-0009': [401, 'Authentication failed.'],
  'PR403-AU-0002': [403, 'Necessary privilege is lacking.'],
  'PR403-AU-0007': [403, 'Insufficient scope is granted for the access token. [{0}] Privilege is required.'],
  'PR403-DV-0001': [403, 'Infinite depth is not supported.'],
  'PR403-DV-0002': [403, 'Operation not allowed on [{0}].'],
  'PR403-DV-0005': [403, 'Destination header value [{0}] equals request URL.'],
  'PR404-DV-0001': [404, 'Resource not found. [{0}].'],
  'PR404-DV-0003': [404, 'Cell not found.'],
  'PR400-DV-0010': [400, 'Bad WebDAV request for [{0}].'],
  'PR409-DV-0003': [409, 'The request conflicts with the state of [{0}].'],
  'PR412-DV-0002': [412, 'Overwrite header is "F" and the destination URL is already mapped to a resource.'],
  'PR423-DV-0001': [423, 'Resource [{0}] is locked.'],
  'PR423-DV-0002': [423, 'Resource [{0}] cannot take more locks (limit [{1}]).'],
  'PR400-DV-0011': [400, 'Lock owner is larger than the limit [{0}] bytes.'],
  'PR502-DV-0001': [502, 'Destination [{0}] is outside this box.'],
  'PR502-SN-0001': [502, 'Destination [{0}] is on another server.'],
  'PR507-DV-0001': [507, 'Insufficient storage.'],
  'PR404-MC-0001': [404, 'URI is not recognized.'],
  'PR404-OD-0002': [404, 'The requested resource does not exist.'],
  'PR405-MC-0001': [405, 'Method not allowed.'],
  'PR409-CM-0001': [409, "Cell status is [import failed]. Only Unit Level's APIs, CellImport and GetToken are executable."],
  'PR409-CM-0002': [409, 'Because [{0}] is being executed, writing to cell can not be done.'],
  'PR409-DV-0002': [409, 'File [{0}] already exists.'],
  'PR409-MC-0001': [409, 'Cell to be processed is being accessed by other requests.'],
  'PR409-OD-0001': [409, 'This entity has related data.'],
  'PR409-OD-0002': [409, 'Links exists already.'],
  'PR409-OD-0003': [409, 'The entity already exists.'],
  'PR412-DV-0001': [412, 'ETag does not match.'],
  'PR412-OD-0002': [412, 'ETag does not match.'],
  'PR412-MC-0001': [412, 'Precondition failed [Header: {0}].'],
  'PR413-DV-0001': [413, 'Request body is larger than the limit [{0}] bytes.'],
  'PR415-MC-0001': [415, 'Unsupported media type.'],
  'PR416-DV-0001': [416, 'Requested range not satisfiable.'],
  'PR431-CM-0001': [431, 'Too many request headers; at most [{0}] are accepted.'],
  'PR500-CM-0002': [500, 'Files I/O error caused [{0}] to fail.'],
  'PR501-MC-0001': [501, 'Method not implemented.'],
  'PR500-SV-0000': [500, 'Unknown error.'],
  'PR500-SV-9999': [500, 'Unknown Exception [{0}]'],
  'PR503-SV-0002': [503, 'The server is shutting down.'],
  'PR503-SV-0005': [503, 'Operation is prohibited as one or more disks are almost full.'],
} as const satisfies Record<string, readonly [number, string]>;

export type ErrorCode = keyof typeof catalogue;

export interface PersoniumErrorBody {
  code: string;
  message: { lang: 'en'; value: string };
}

export function formatMessage(code: ErrorCode, params: readonly unknown[] = []): string {
  return catalogue[code][1].replace(/\{(\d+)\}/g, (_match, index: string) => String(params[Number(index)] ?? 'null'));
}

export function errorBody(code: ErrorCode, params: readonly unknown[] = []): PersoniumErrorBody {
  return { code, message: { lang: 'en', value: formatMessage(code, params) } };
}

/**
 * The one error type, from route to job: a Boom carrying its catalogue code and Personium body.
 * onPreResponse renders it for a client; jobs write its body to `.error` files and the import status.
 */
export type PersoniumError = Boom.Boom<PersoniumErrorBody>;

export function personiumError(code: ErrorCode, ...params: unknown[]): PersoniumError {
  return personiumErrorOf(errorBody(code, params));
}

/** The body for any error: a catalogued one as it is, hapi's own ones mapped to the nearest code. */
export function bodyForError(error: Boom.Boom): PersoniumErrorBody {
  const data = error.data as Partial<PersoniumErrorBody> | null | undefined;
  if (data && typeof data.code === 'string' && data.message) return data as PersoniumErrorBody;
  switch (error.output.statusCode) {
    case 400: return errorBody('PR400-OD-0001', [error.message.replace(/[.\s]+$/, '')]);
    case 401: return errorBody('PR401-AU-0001');
    case 403: return errorBody('PR403-AU-0002');
    case 404: return errorBody('PR404-MC-0001');
    case 405: return errorBody('PR405-MC-0001');
    case 413: return errorBody('PR413-DV-0001', [(error.data as { limit?: number } | null)?.limit ?? 'configured']);
    case 415: return errorBody('PR415-MC-0001');
    default: return errorBody('PR500-SV-0000');
  }
}

/** An error whose body was made elsewhere (in the export thread, say): its status from the catalogue. */
export function personiumErrorOf(body: PersoniumErrorBody): PersoniumError {
  const status = catalogue[body.code as ErrorCode]?.[0] ?? 500;
  return new Boom.Boom<PersoniumErrorBody>(body.message.value, { statusCode: status, data: body });
}

export function isPersoniumError(error: unknown): error is PersoniumError {
  return Boom.isBoom(error) && typeof (error.data as Partial<PersoniumErrorBody> | null)?.code === 'string';
}

/**
 * The one mapping from a file system's errno to a client's error: a full disk or an exhausted
 * quota is 507 Insufficient storage wherever it happens (a PUT, a cell's creation, an import),
 * also when wrapped as another error's `cause`.
 */
export function isOutOfSpace(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 5; current = (current as { cause?: unknown }).cause, depth++) {
    const code = (current as { code?: unknown }).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') return true;
  }
  return false;
}

/** A thrown error as the 507 to answer when the disk is full; undefined otherwise. */
export function outOfSpaceHttpError(error: unknown): PersoniumError | undefined {
  if (Boom.isBoom(error) && error.output.statusCode < 500) return undefined;
  return isOutOfSpace(error) ? personiumError('PR507-DV-0001') : undefined;
}

/** The Personium body for anything thrown: a catalogued error's own, a full disk 507, else the nearest code. */
export function bodyOf(error: unknown): PersoniumErrorBody {
  if (isPersoniumError(error)) return error.data!;
  if (isOutOfSpace(error)) return errorBody('PR507-DV-0001');
  return Boom.isBoom(error) ? bodyForError(error) : errorBody('PR500-SV-0000');
}
