// Compact sets and tables keyed by entry names, for snapshots of hundreds of thousands of entries:
// a name is kept as the first 128 bits of its SHA-256 (no one can make two names collide there),
// in typed arrays with open addressing, so memory is a few dozen bytes an entry in a handful of
// allocations instead of a string and an object each, and is all freed with the table.
import { hash } from 'node:crypto';

/** A name's key: 16 bytes of its SHA-256. */
export function nameKey(name: string): Buffer {
  return hash('sha256', name, 'buffer').subarray(0, 16);
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
  insert(key: Buffer): { slot: number; existed: boolean } {
    const slot = this.#find(key);
    if (this.#used[slot]) return { slot, existed: true };
    if (this.#size >= this.capacity) throw new RangeError('the key table is full');
    this.#used[slot] = 1;
    for (let word = 0; word < 4; word += 1) this.#words[slot * 4 + word] = key.readUInt32LE(word * 4);
    this.#size += 1;
    return { slot, existed: false };
  }

  /** The key's slot, or -1. */
  slotOf(key: Buffer): number {
    const slot = this.#find(key);
    return this.#used[slot] ? slot : -1;
  }

  has(key: Buffer): boolean {
    return this.slotOf(key) !== -1;
  }

  /** The slot holding `key`, or the empty slot where it would go. */
  #find(key: Buffer): number {
    const a = key.readUInt32LE(0);
    const b = key.readUInt32LE(4);
    const c = key.readUInt32LE(8);
    const d = key.readUInt32LE(12);
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
  /** Whether the slot's line held a size and a 64-digit hex SHA-256 (a line that did not matches no file). */
  readonly #valid: Uint8Array;

  constructor(capacity: number) {
    this.#keys = new KeySet(capacity);
    const slots = this.#keys.slots;
    this.#sizes = new Float64Array(slots);
    this.#digests = new Uint8Array(slots * 32);
    this.#valid = new Uint8Array(slots);
  }

  get size(): number {
    return this.#keys.size;
  }

  /** Records a line; a name listed twice keeps its last line, as JSON.parse would. */
  set(key: Buffer, size: unknown, sha256: unknown): void {
    const { slot } = this.#keys.insert(key);
    const valid = typeof size === 'number' && typeof sha256 === 'string' && /^[0-9a-f]{64}$/.test(sha256);
    this.#valid[slot] = valid ? 1 : 0;
    this.#sizes[slot] = valid ? size : -1;
    if (valid) this.#digests.set(Buffer.from(sha256, 'hex'), slot * 32);
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
