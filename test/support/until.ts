// Waiting, bounded, for a condition a test cannot be told about: polled until it holds.
import { setTimeout as sleep } from 'node:timers/promises';

/** What a truthy test lets through. */
export type Truthy<T> = Exclude<T, false | 0 | 0n | '' | null | undefined>;

export interface UntilOptions {
  /** How long to keep polling, in ms (default 10 000). */
  timeoutMs?: number;
  /** The pause between two polls, in ms (default 20). */
  pollMs?: number;
  /**
   * Poll again when `cond` throws (a server not listening yet) instead of failing at once; a
   * timeout then names the last error.
   */
  retryErrors?: boolean;
}

/**
 * Polls `cond` (sync or async) until it returns a truthy value, and resolves to that value.
 * `cond` runs at least once, and once more when the time is up, so a slow poll still counts.
 * After `timeoutMs` it rejects with "timed out after <ms> ms waiting for <what>"; `what` may be
 * a function, called then, to name the state last seen. An error thrown by `cond` rejects at
 * once, unless `retryErrors`.
 */
export async function until<T>(what: string | (() => string), cond: () => T | Promise<T>, options: UntilOptions = {}): Promise<Truthy<T>> {
  const { timeoutMs = 10_000, pollMs = 20, retryErrors = false } = options;
  const end = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await cond();
      if (value) return value as Truthy<T>;
    } catch (err) {
      if (!retryErrors) throw err;
      lastError = err;
    }
    if (Date.now() > end) {
      const cause = lastError === undefined ? '' : ` (last error: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)})`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}${cause}`);
    }
    await sleep(pollMs);
  }
}

/** Asserts that `close()` resolves within `ms` (a close that waits for ever fails the test instead of hanging it). */
export async function assertClosesWithin(close: () => Promise<unknown>, ms = 10_000): Promise<void> {
  let deadline: NodeJS.Timeout | undefined;
  const stuck = new Promise<string>((resolve) => {
    deadline = setTimeout(() => resolve(`close() still waiting after ${ms / 1000} s`), ms);
  });
  const outcome = await Promise.race([close().then(() => 'closed'), stuck]).finally(() => clearTimeout(deadline));
  if (outcome !== 'closed') throw new Error(outcome);
}
