// Time as the unit's timed work sees it (scheduled exports): the current time, and a call at a
// given time. The system clock is the default; tests give one they move by hand.

export interface Clock {
  now(): Date;
  /**
   * Calls `run` once when `at` has come (at once when it is past). A clock that follows the calls
   * it makes (a test's) may wait for the promise `run` returns. Returns a function that cancels it.
   */
  at(at: Date, run: () => Promise<void> | void): () => void;
}

/** node's timers take at most this many milliseconds; longer waits are made of several. */
const longestTimeout = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => new Date(),
  at(at, run) {
    let timer: NodeJS.Timeout | undefined;
    const wait = () => {
      const left = at.getTime() - Date.now();
      if (left <= 0) {
        timer = undefined;
        void run();
        return;
      }
      // Unreferenced: a pending scheduled export never keeps a stopping process alive.
      timer = setTimeout(wait, Math.min(left, longestTimeout)).unref();
    };
    wait();
    return () => clearTimeout(timer);
  },
};
