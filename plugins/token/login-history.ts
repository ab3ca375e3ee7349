// What the token endpoint remembers of each account's logins, in memory as Personium keeps its
// lock counters: the last failure (the one-second interval lock, re-armed by every failure in
// it), the last success and the failures since, which the next successful login reports.
const validAuthnIntervalMs = 1000;
/** Accounts remembered at most; the oldest are forgotten first, so memory stays bounded. */
const maxAccounts = 100_000;

interface Entry {
  lastFailure: number;
  lastAuthenticated: number | null;
  failedCount: number;
}

export class LoginHistory {
  readonly #entries = new Map<string, Entry>();

  #entry(key: string): Entry {
    let entry = this.#entries.get(key);
    if (!entry) {
      entry = { lastFailure: 0, lastAuthenticated: null, failedCount: 0 };
      if (this.#entries.size >= maxAccounts) this.#entries.delete(this.#entries.keys().next().value!);
      this.#entries.set(key, entry);
    }
    return entry;
  }

  locked(key: string): boolean {
    const entry = this.#entries.get(key);
    return entry !== undefined && Date.now() - entry.lastFailure < validAuthnIntervalMs;
  }

  failed(key: string): void {
    const entry = this.#entry(key);
    entry.lastFailure = Date.now();
    entry.failedCount += 1;
  }

  /** Records a success; returns what the history said before it. */
  succeeded(key: string): { lastAuthenticated: number | null; failedCount: number } {
    const entry = this.#entry(key);
    const before = { lastAuthenticated: entry.lastAuthenticated, failedCount: entry.failedCount };
    entry.lastAuthenticated = Date.now();
    entry.failedCount = 0;
    return before;
  }
}
