// Compact sets and tables keyed by entry names, for snapshots of hundreds of thousands of entries:
// a name is kept as a 128-bit key, in typed arrays with open addressing, so memory is a few dozen
// bytes an entry in a handful of allocations instead of a string and an object each, and is all
// freed with the table. The key is MurmurHash3's 128-bit mix (x86 variant) of the name's UTF-16
// code units, seeded at random per process: an accidental collision is out of reach (about n²/2¹²⁹
// for n names), and what a contrived one could do is no more than the snapshot's author can do
// anyway (refuse their own import as a duplicate, or hold a file to another's line of their own
// checksum list). A SHA-256 per name cost 2-3 µs, a sixth of the import of a small file;
// this costs a tenth of that.
import { randomInt } from 'node:crypto';

/** A name's key: four 32-bit words. */
export type NameKey = Uint32Array;

const seed = randomInt(0x7fffffff) >>> 0;
const c1 = 0x239b961b;
const c2 = 0xab0e9789;
const c3 = 0x38b34ae5;
const c4 = 0xa1e38b93;

function rotl(value: number, bits: number): number {
  return (value << bits) | (value >>> (32 - bits));
}

function fmix(value: number): number {
  let h = value;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** The 32-bit word of code units `at` and `at + 1` of `name` (zero past its end). */
function wordAt(name: string, at: number): number {
  const low = at < name.length ? name.charCodeAt(at) : 0;
  const high = at + 1 < name.length ? name.charCodeAt(at + 1) : 0;
  return low | (high << 16);
}

/** A name's key (see above). */
export function nameKey(name: string): NameKey {
  let h1 = seed;
  let h2 = seed;
  let h3 = seed;
  let h4 = seed;
  const units = name.length;
  // Blocks of 8 code units (16 bytes); the last one padded with zeros, the length mixed in below.
  for (let at = 0; at < units; at += 8) {
    let k1 = wordAt(name, at);
    let k2 = wordAt(name, at + 2);
    let k3 = wordAt(name, at + 4);
    let k4 = wordAt(name, at + 6);
    k1 = Math.imul(rotl(Math.imul(k1, c1), 15), c2);
    h1 ^= k1;
    h1 = (Math.imul(rotl(h1, 19) + h2, 5) + 0x561ccd1b) | 0;
    k2 = Math.imul(rotl(Math.imul(k2, c2), 16), c3);
    h2 ^= k2;
    h2 = (Math.imul(rotl(h2, 17) + h3, 5) + 0x0bcaa747) | 0;
    k3 = Math.imul(rotl(Math.imul(k3, c3), 17), c4);
    h3 ^= k3;
    h3 = (Math.imul(rotl(h3, 15) + h4, 5) + 0x96cd1c35) | 0;
    k4 = Math.imul(rotl(Math.imul(k4, c4), 18), c1);
    h4 ^= k4;
    h4 = (Math.imul(rotl(h4, 13) + h1, 5) + 0x32ac3b17) | 0;
  }
  h1 ^= units;
  h2 ^= units;
  h3 ^= units;
  h4 ^= units;
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  h1 = fmix(h1);
  h2 = fmix(h2);
  h3 = fmix(h3);
  h4 = fmix(h4);
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  const key = new Uint32Array(4);
  key[0] = h1;
  key[1] = h2;
  key[2] = h3;
  key[3] = h4;
  return key;
}

/** An open-addressing set of 128-bit keys, sized once for at most `capacity` keys. */
export class KeySet {
  readonly #words: Uint32Array;
  readonly #used: Uint8Array;
  readonly #mask: number;
  #size = 0;

  constructor(readonly capacity: number) {
    let slots = 16;
    while (slots < capacity * 1.4) slots *= 2;
    this.#words = new Uint32Array(slots * 4);
    this.#used = new Uint8Array(slots);
    this.#mask = slots - 1;
  }

  get size(): number {
    return this.#size;
  }

  /** Slots of the table: every slot number is below this. */
  get slots(): number {
    return this.#mask + 1;
  }

  /** The key's slot, and whether it was there already; a new key is added. */
  insert(key: NameKey): { slot: number; existed: boolean } {
    const slot = this.#find(key);
    if (this.#used[slot]) return { slot, existed: true };
    if (this.#size >= this.capacity) throw new RangeError('the key table is full');
    this.#used[slot] = 1;
    this.#words.set(key, slot * 4);
    this.#size += 1;
    return { slot, existed: false };
  }

  /** The key's slot, or -1. */
  slotOf(key: NameKey): number {
    const slot = this.#find(key);
    return this.#used[slot] ? slot : -1;
  }

  has(key: NameKey): boolean {
    return this.slotOf(key) !== -1;
  }

  /** The slot holding `key`, or the empty slot where it would go. */
  #find(key: NameKey): number {
    const a = key[0]!;
    const b = key[1]!;
    const c = key[2]!;
    const d = key[3]!;
    const words = this.#words;
    for (let slot = a & this.#mask; ; slot = (slot + 1) & this.#mask) {
      if (!this.#used[slot]) return slot;
      const at = slot * 4;
      if (words[at] === a && words[at + 1] === b && words[at + 2] === c && words[at + 3] === d) return slot;
    }
  }
}

export interface ListedChecksum {
  size: number;
  /** Hex, as 00_checksums.json gives it. */
  sha256: string;
}

/** 00_checksums.json as a compact table: a size and a SHA-256 per listed name. */
export class ChecksumTable {
  readonly #keys: KeySet;
  readonly #sizes: Float64Array;
  readonly #digests: Uint8Array;
  /** The same bytes, for hex to be written straight into them. */
  readonly #digestBytes: Buffer;
  /** Whether the slot's line held a size and a 64-digit hex SHA-256 (a line that did not matches no file). */
  readonly #valid: Uint8Array;

  constructor(capacity: number) {
    this.#keys = new KeySet(capacity);
    const slots = this.#keys.slots;
    this.#sizes = new Float64Array(slots);
    this.#digests = new Uint8Array(slots * 32);
    this.#digestBytes = Buffer.from(this.#digests.buffer, this.#digests.byteOffset, this.#digests.byteLength);
    this.#valid = new Uint8Array(slots);
  }

  get size(): number {
    return this.#keys.size;
  }

  /** Records a line; a name listed twice keeps its last line, as JSON.parse would. */
  set(key: NameKey, size: unknown, sha256: unknown): void {
    const { slot } = this.#keys.insert(key);
    const valid = typeof size === 'number' && typeof sha256 === 'string' && /^[0-9a-f]{64}$/.test(sha256);
    this.#valid[slot] = valid ? 1 : 0;
    this.#sizes[slot] = valid ? size : -1;
    if (valid) this.#digestBytes.write(sha256, slot * 32, 32, 'hex');
  }

  /** Whether `name` is listed with this size and this SHA-256 (raw bytes). */
  matches(name: string, size: number, sha256: Buffer): boolean {
    return this.slotMatches(this.slotOf(name), size, sha256);
  }

  /** The slot of `name`'s line, or -1 when it is not listed. */
  slotOf(name: string): number {
    return this.#keys.slotOf(nameKey(name));
  }

  /** Whether the line in `slot` (from slotOf) holds this size and this SHA-256. */
  slotMatches(slot: number, size: number, sha256: Buffer): boolean {
    if (slot === -1 || !this.#valid[slot] || this.#sizes[slot] !== size) return false;
    return Buffer.from(this.#digests.buffer, slot * 32, 32).equals(sha256);
  }

  has(name: string): boolean {
    return this.#keys.has(nameKey(name));
  }

  /** Copies the SHA-256 of the line in `slot` into `into` at `at`; the line's size, or -1 when the line holds none (and matches nothing). */
  copyLine(slot: number, into: Uint8Array, at: number): number {
    if (slot === -1 || !this.#valid[slot]) return -1;
    into.set(this.#digests.subarray(slot * 32, slot * 32 + 32), at);
    return this.#sizes[slot]!;
  }
}
