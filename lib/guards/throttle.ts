// Work done at most once per interval however often it is asked for: at once when the interval
// since the last time has passed, else once when it has (the state at that time). A node's
// status under load, a block sealed for proofs on demand.

export interface Throttled {
  /** Runs now, or once the interval has passed (a request while one waits is merged into it). */
  request(): void;
  /** Drops a pending run (e.g. an error status was shown since and must stay). */
  cancel(): void;
}

export function throttle(run: () => void, everyMs: number): Throttled {
  let last = -Infinity;
  let pending: NodeJS.Timeout | undefined;
  const fire = (): void => {
    pending = undefined;
    last = Date.now();
    run();
  };
  return {
    request(): void {
      if (pending) return;
      const wait = last + everyMs - Date.now();
      if (wait <= 0) return fire();
      pending = setTimeout(fire, wait);
      // Nothing waited for keeps the process alive: the owner cancels or ends it.
      pending.unref();
    },
    cancel(): void {
      clearTimeout(pending);
      pending = undefined;
    },
  };
}
