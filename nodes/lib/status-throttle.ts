// A node's status shown at most every few hundred ms: under load a status per message costs
// the runtime an event and a formatted text each, for a display nobody can read that fast.

export interface ThrottledStatus {
  /** Shows the status now, or once the interval has passed (the state at that time). */
  request(): void;
  /** Drops a pending update (e.g. an error status was shown since and must stay). */
  cancel(): void;
}

export function throttleStatus(show: () => void, everyMs = 250): ThrottledStatus {
  let shown = 0;
  let pending: NodeJS.Timeout | undefined;
  const render = (): void => {
    pending = undefined;
    shown = Date.now();
    show();
  };
  return {
    request(): void {
      if (pending) return;
      const wait = shown + everyMs - Date.now();
      if (wait <= 0) render();
      else pending = setTimeout(render, wait);
    },
    cancel(): void {
      if (pending) clearTimeout(pending);
      pending = undefined;
    },
  };
}
