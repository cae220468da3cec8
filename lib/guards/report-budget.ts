// How many rejections a node hands to Catch nodes per second. During a flood, reporting every
// rejected message (Node-RED clones each for every Catch node and runs the flow behind it)
// would cost more than rejecting it; past the budget a rejection is still counted (status,
// security records) but finished without an error. A token bucket: `perSecond` tokens a
// second, at most `perSecond` saved up.
/** Rejections handed to Catch nodes per second by a node that anyone who can publish reaches. */
export const CATCH_REPORTS_PER_SECOND = 100;

export class ReportBudget {
  #tokens: number;
  #at: number;

  constructor(
    readonly perSecond: number,
    now = Date.now(),
  ) {
    this.#tokens = perSecond;
    this.#at = now;
  }

  /** True when this rejection may be reported. */
  take(now = Date.now()): boolean {
    this.#tokens = Math.min(this.perSecond, this.#tokens + ((now - this.#at) * this.perSecond) / 1000);
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens--;
    return true;
  }
}
