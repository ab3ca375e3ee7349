// WebDAV locks (RFC 4918 §6, §7): exclusive and shared write locks, depth 0 or infinity, with
// timeouts, kept in memory per unit (lost on restart, as Apache's mod_dav without a DavLockDB).
// The table is bounded: a resource holds at most `perResource` locks, the unit `total`, an owner
// at most `ownerBytes`. Locks bind to a path in a box folder; a request is judged by the tokens
// it submits, whoever sends it.
import { randomUUID } from 'node:crypto';
import { pathKey } from './box-path.ts';

export const lockLimits = { perResource: 32, total: 10_000, ownerBytes: 4096, defaultTimeoutSeconds: 3600, maxTimeoutSeconds: 86_400 } as const;

export interface Lock {
  token: string;
  box: string;
  root: string[];
  depth: 0 | 'infinity';
  scope: 'exclusive' | 'shared';
  /** The `DAV:owner` element as sent (XML), or empty. */
  owner: string;
  timeoutSeconds: number;
  expires: number;
}

export type LockRequest = Pick<Lock, 'depth' | 'scope' | 'owner' | 'timeoutSeconds'>;

function keyOf(box: string, segments: readonly string[]): string {
  return `${box}\0${pathKey(segments)}`;
}

function isPrefix(prefix: readonly string[], segments: readonly string[]): boolean {
  return prefix.length <= segments.length && prefix.every((segment, i) => segments[i] === segment);
}

/** `Timeout: Second-N, Infinite` (the first usable value), capped; absent or unusable: the default. */
export function parseTimeout(header: string | undefined): number {
  for (const part of (header ?? '').split(',')) {
    const value = part.trim();
    if (/^infinite$/i.test(value)) return lockLimits.maxTimeoutSeconds;
    const match = /^second-(\d{1,12})$/i.exec(value);
    if (match) return Math.max(1, Math.min(Number(match[1]), lockLimits.maxTimeoutSeconds));
  }
  return lockLimits.defaultTimeoutSeconds;
}

export class LockTable {
  readonly #byPath = new Map<string, Lock[]>();
  readonly #byToken = new Map<string, Lock>();

  constructor(readonly now: () => number = Date.now) {}

  get size(): number {
    return this.#byToken.size;
  }

  #alive(lock: Lock): boolean {
    if (lock.expires > this.now()) return true;
    this.#drop(lock);
    return false;
  }

  #drop(lock: Lock): void {
    this.#byToken.delete(lock.token);
    const key = keyOf(lock.box, lock.root);
    const rest = (this.#byPath.get(key) ?? []).filter((other) => other !== lock);
    if (rest.length) this.#byPath.set(key, rest);
    else this.#byPath.delete(key);
  }

  #purgeExpired(): void {
    for (const lock of [...this.#byToken.values()]) this.#alive(lock);
  }

  /** Locks rooted exactly at the path. */
  at(box: string, segments: readonly string[]): Lock[] {
    return (this.#byPath.get(keyOf(box, segments)) ?? []).filter((lock) => this.#alive(lock));
  }

  /** Locks that cover the path: its own and its ancestors' with depth infinity. */
  covering(box: string, segments: readonly string[]): Lock[] {
    const found = this.at(box, segments);
    for (let length = segments.length - 1; length >= 0; length -= 1) {
      found.push(...this.at(box, segments.slice(0, length)).filter((lock) => lock.depth === 'infinity'));
    }
    return found;
  }

  /** Locks rooted strictly below the path. */
  below(box: string, segments: readonly string[]): Lock[] {
    return [...this.#byToken.values()].filter((lock) => lock.box === box && lock.root.length > segments.length && isPrefix(segments, lock.root) && this.#alive(lock));
  }

  byToken(token: string): Lock | undefined {
    const lock = this.#byToken.get(token);
    return lock && this.#alive(lock) ? lock : undefined;
  }

  /** A new lock, or why not: `conflict` (423 for the client) or `full` (a limit is reached). */
  create(box: string, segments: readonly string[], request: LockRequest): Lock | 'conflict' | 'full' {
    const existing = [...this.covering(box, segments), ...(request.depth === 'infinity' ? this.below(box, segments) : [])];
    if (existing.some((lock) => lock.scope === 'exclusive' || request.scope === 'exclusive')) return 'conflict';
    if (this.at(box, segments).length >= lockLimits.perResource) return 'full';
    if (this.#byToken.size >= lockLimits.total) this.#purgeExpired();
    if (this.#byToken.size >= lockLimits.total) return 'full';
    const lock: Lock = { ...request, token: `urn:uuid:${randomUUID()}`, box, root: [...segments], expires: this.now() + request.timeoutSeconds * 1000 };
    const key = keyOf(box, segments);
    this.#byPath.set(key, [...(this.#byPath.get(key) ?? []), lock]);
    this.#byToken.set(lock.token, lock);
    return lock;
  }

  refresh(lock: Lock, timeoutSeconds: number): void {
    lock.timeoutSeconds = timeoutSeconds;
    lock.expires = this.now() + timeoutSeconds * 1000;
  }

  release(lock: Lock): void {
    this.#drop(lock);
  }

  /** Forgets every lock at or under the path (after it was deleted or moved away). */
  releaseUnder(box: string, segments: readonly string[]): void {
    for (const lock of [...this.#byToken.values()]) if (lock.box === box && isPrefix(segments, lock.root)) this.#drop(lock);
  }

  /**
   * The first lock the request may not pass: a lock holds unless its token, or for a shared lock
   * the token of another shared lock on the same root, is among the submitted tokens.
   */
  firstUnsatisfied(locks: readonly Lock[], submitted: ReadonlySet<string>): Lock | undefined {
    return locks.find((lock) => {
      if (submitted.has(lock.token)) return false;
      if (lock.scope !== 'shared') return true;
      return !this.at(lock.box, lock.root).some((other) => other.scope === 'shared' && submitted.has(other.token));
    });
  }
}
