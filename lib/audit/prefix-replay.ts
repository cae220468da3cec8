// The counter and time a device reached before an incremental audit's checkpoint, as the full
// audit's ReplayGuard reaches them: its signed records taken in order, each accepted when its
// envelope verifies and it is newer than what was accepted before it (isNewer, mergeAccepted).
// Followed one record at a time, in constant memory per device, whatever the number of records.
import { isNewer, mergeAccepted, type Freshness } from '../registry/freshness';

/** Verifies the device's record at `index`: what it brings, or undefined when it does not verify. */
export type VerifyAt = (index: number) => Promise<Freshness | undefined>;

/** Follows a device's records verifying each (the reference: what ReplayGuard does). */
export class VerifiedOrder {
  state: Freshness | undefined;

  /** Record with `verified` freshness, or undefined when it does not verify. */
  take(verified: Freshness | undefined): void {
    if (verified && isNewer(verified, this.state)) this.state = mergeAccepted(this.state, verified);
  }
}

/**
 * Follows a device's records on what their payloads claim, unverified, and verifies only the
 * records that give the state its counter and time, and the first that brought a counter (records
 * with one are taken on their counters after it): when those verify, the state is the one the
 * verified order reaches (a record that does not verify, taken here, either changed nothing it
 * decides or is one of them). In a ledger the gateway wrote every record is newer than the one
 * before, and one or two signatures per device are checked, at the end. A record not newer than
 * the claimed state is refused as the verified order refuses it once that state is proven, so
 * any number of replays in a row cost the same few signatures. When a deciding record does not
 * verify the state is unknown (`lost`): the caller follows the device again with VerifiedOrder.
 */
export class ClaimedOrder {
  #state: Freshness | undefined;
  #counterFrom = -1;
  #timeFrom = -1;
  #counterSince = -1;
  /** The verified deciding records (three at most). */
  #verified = new Map<number, Freshness | undefined>();
  lost = false;

  /** Takes record `index`; a promise only when it has to verify something (a record not newer than the claims before it). */
  take(index: number, claim: Freshness, verify: VerifyAt): Promise<void> | undefined {
    if (this.lost) return undefined;
    if (isNewer(claim, this.#state)) {
      this.#state = mergeAccepted(this.#state, claim);
      if (claim.counter !== undefined) {
        this.#counterFrom = index;
        if (this.#counterSince < 0) this.#counterSince = index;
      }
      if (claim.time !== undefined) this.#timeFrom = index;
      return undefined;
    }
    return this.#refuse(verify);
  }

  async #refuse(verify: VerifyAt): Promise<void> {
    if (!(await this.#proven(verify))) this.lost = true;
  }

  /** What the device reached, or undefined when it is lost (or reached nothing). */
  async result(verify: VerifyAt): Promise<Freshness | undefined> {
    if (!this.lost && !(await this.#proven(verify))) this.lost = true;
    return this.lost ? undefined : this.#state;
  }

  async #proven(verify: VerifyAt): Promise<boolean> {
    const deciding = [this.#counterFrom, this.#timeFrom, this.#counterSince].filter((k) => k >= 0);
    for (const k of [...this.#verified.keys()]) if (!deciding.includes(k)) this.#verified.delete(k);
    for (const k of deciding) {
      if (!this.#verified.has(k)) this.#verified.set(k, await verify(k));
      if (this.#verified.get(k) === undefined) return false;
    }
    return true;
  }
}
