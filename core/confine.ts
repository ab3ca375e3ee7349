// One path-confinement helper (inert's `confine` idea): resolve, then require the root itself or
// the root followed by a separator, so `/data/cells-evil` never passes for `/data/cells`.
import path from 'node:path';

export function confine(root: string, ...segments: string[]): string {
  // No file system takes NUL in a name; where paths are passed joined by NUL it would split one.
  if (segments.some((segment) => segment.includes('\0'))) throw new Error(`path escapes its root: NUL in ${JSON.stringify(segments.join('/'))}`);
  const resolvedRoot = path.resolve(root);
  const target = path.resolve(resolvedRoot, ...segments);
  if (target !== resolvedRoot && !target.startsWith(resolvedRoot + path.sep)) {
    throw new Error(`path escapes its root: ${segments.join('/')}`);
  }
  return target;
}

/**
 * `confine` for a root already resolved (`path.resolve(root) === root`) and many targets below it,
 * as an import makes one per entry: segments that are each one name (not empty, `.` or `..`, no
 * separator, no NUL) are joined as they are, which is what resolving them would give; any other
 * goes through confine.
 */
export function confineBelow(resolvedRoot: string, segments: readonly string[]): string {
  for (const segment of segments) {
    if (segment === '' || segment === '.' || segment === '..' || segment.includes('/') || segment.includes('\0')) return confine(resolvedRoot, ...segments);
  }
  if (segments.length === 0) return resolvedRoot;
  return `${resolvedRoot.endsWith(path.sep) ? resolvedRoot : resolvedRoot + path.sep}${segments.join(path.sep)}`;
}

/** File systems cap a name at 255 bytes, counted in UTF-8 (not in UTF-16 units as `length` does). */
export const maxNameBytes = 255;

/** A name that is one plain path segment: no separators, no NUL, not `.`/`..`, no leading dot, at most 255 bytes. */
export function isPlainSegment(name: string): boolean {
  return name.length > 0 && Buffer.byteLength(name, 'utf8') <= maxNameBytes && !name.startsWith('.') && !/[/\\\0]/.test(name);
}
