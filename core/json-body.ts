// Personium treats every request body of its JSON APIs as JSON whatever the Content-Type says,
// so routes take the raw bytes and parse them here: invalid JSON → 400 PR400-CM-0004.
import { personiumError } from './errors.ts';

/** Parses a JSON object body. `undefined` when the body is empty and `optional` is set. */
export function parseJsonObject(payload: unknown, optional: boolean): Record<string, unknown> | undefined {
  const text = Buffer.isBuffer(payload) ? payload.toString('utf8') : typeof payload === 'string' ? payload : '';
  if (text.trim() === '') {
    if (optional) return undefined;
    throw personiumError('PR400-CM-0004', '');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw personiumError('PR400-CM-0004', text.length > 200 ? `${text.slice(0, 200)}...` : text);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw personiumError('PR400-CM-0004', text.length > 200 ? `${text.slice(0, 200)}...` : text);
  }
  return parsed as Record<string, unknown>;
}

/** Route payload settings for those JSON APIs: raw bytes, any content type, small. */
export const rawJsonPayload = { parse: false, output: 'data', maxBytes: 64 * 1024 } as const;
