// The little of OData v2 the unit and cell control APIs speak: `Entity('key')` segments, the
// `{"d":{"results":...}}` envelope and `/Date(ms)/` timestamps.
import { personiumError } from './errors.ts';

export type EntityTarget = { kind: 'collection' } | { kind: 'entity'; key: string };

/** `Cell` → the collection, `Cell('cell1')` → one entity; anything else → 404 PR404-MC-0001. */
export function parseEntitySegment(segment: string, entitySet: string): EntityTarget {
  const decoded = safeDecode(segment);
  if (decoded === entitySet) return { kind: 'collection' };
  const match = new RegExp(`^${entitySet}\\('([^']*)'\\)$`).exec(decoded ?? '');
  if (match) return { kind: 'entity', key: match[1]! };
  throw personiumError('PR404-MC-0001');
}

function safeDecode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** The methods an entity set (`OPTIONS, GET, POST`) or one entity (`OPTIONS, GET, DELETE`) answers. */
export function entityAllow(target: EntityTarget): string {
  return target.kind === 'collection' ? 'OPTIONS, GET, POST' : 'OPTIONS, GET, DELETE';
}

/** The methods the entity URL `segment` of `entitySet` answers; only OPTIONS when it names none. */
export function entitySegmentAllow(segment: string, entitySet: string): string {
  try {
    return entityAllow(parseEntitySegment(segment, entitySet));
  } catch {
    return 'OPTIONS';
  }
}

export function odataDate(ms: number): string {
  return `/Date(${ms})/`;
}
