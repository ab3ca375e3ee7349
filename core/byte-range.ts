// `Range: bytes=...` against a representation of `size` bytes (RFC 9110 §14.2). A header that
// does not parse, or another unit, is ignored (the whole file); several satisfiable ranges are
// answered with the whole file too, which the RFC allows; none satisfiable is 416.
export type RangeAnswer =
  | { kind: 'whole' }
  | { kind: 'unsatisfiable' }
  | { kind: 'partial'; start: number; end: number };

const rangeSpec = /^(\d*)-(\d*)$/;

export function parseByteRange(header: string | undefined, size: number): RangeAnswer {
  if (header === undefined) return { kind: 'whole' };
  const match = /^\s*bytes\s*=\s*(.*)$/i.exec(header);
  if (!match) return { kind: 'whole' };
  const specs = match[1]!.split(',').map((part) => part.trim()).filter((part) => part !== '');
  if (specs.length === 0) return { kind: 'whole' };
  const satisfiable: Array<{ start: number; end: number }> = [];
  for (const spec of specs) {
    const parts = rangeSpec.exec(spec);
    if (!parts) return { kind: 'whole' };
    const [, first, last] = parts as unknown as [string, string, string];
    if (first === '' && last === '') return { kind: 'whole' };
    if (first === '') {
      const suffix = Number(last);
      if (!Number.isSafeInteger(suffix)) return { kind: 'whole' };
      if (suffix > 0 && size > 0) satisfiable.push({ start: Math.max(0, size - suffix), end: size - 1 });
      continue;
    }
    const start = Number(first);
    const end = last === '' ? Number.MAX_SAFE_INTEGER : Number(last);
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return { kind: 'whole' };
    if (start < size) satisfiable.push({ start, end: Math.min(end, size - 1) });
  }
  if (satisfiable.length === 0) return { kind: 'unsatisfiable' };
  if (satisfiable.length > 1) return { kind: 'whole' };
  return { kind: 'partial', ...satisfiable[0]! };
}
