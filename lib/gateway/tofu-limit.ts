// Bounds what trust on first use (TOFU) lets anyone who can publish add to a gateway. With it
// on, an unknown device whose kid is its own did:key is enrolled by its first validly signed
// message; keys cost nothing to make, so without a bound a flood of fresh keys would cost one
// signature check, one `device.tofu` record and one registry entry in memory each, without end.
// Per gateway: at most `maxDevices` devices trusted on first use and not revoked, and a token
// bucket of `burst` admissions refilled one per `refillMs`. A message of an unknown device is
// refused with ERR_TOFU_LIMIT before any signature work when no admission is left; an admission
// is reserved while its signature is checked and its record written, and spent only when the
// device.tofu record is on the ledger (a forged message gives it back).
import { LedgerError } from '../errors';
import { positiveLimit } from '../guards/limits';

export const TOFU_LIMIT = 'ERR_TOFU_LIMIT';
/** Devices trusted on first use (and not revoked) per gateway at most. */
export const DEFAULT_TOFU_MAX_DEVICES = 256;
/** Admissions saved up at most: a hobby setup's devices, switched on together, all get in. */
export const DEFAULT_TOFU_BURST = 32;
/** One admission more per this many ms, up to the burst. */
export const DEFAULT_TOFU_REFILL_MS = 10_000;

export interface TofuLimits {
  /** Devices trusted on first use and not revoked, at most (default 256). */
  maxDevices?: number;
  /** Admissions that can be taken at once (default 32). */
  burst?: number;
  /** One admission more per this many ms (default 10 s). */
  refillMs?: number;
}

export type ResolvedTofuLimits = Required<TofuLimits>;

const DEFAULTS: ResolvedTofuLimits = Object.freeze({ maxDevices: DEFAULT_TOFU_MAX_DEVICES, burst: DEFAULT_TOFU_BURST, refillMs: DEFAULT_TOFU_REFILL_MS });

/** The limits to apply: `given` over `defaults`, each a positive integer (throws ERR_INVALID_ARGUMENT). */
export function tofuLimits(given: TofuLimits | undefined, defaults: ResolvedTofuLimits = DEFAULTS): ResolvedTofuLimits {
  if (given === undefined) return defaults;
  return {
    maxDevices: positiveLimit(given.maxDevices, defaults.maxDevices, 'tofu maxDevices'),
    burst: positiveLimit(given.burst, defaults.burst, 'tofu burst'),
    refillMs: positiveLimit(given.refillMs, defaults.refillMs, 'tofu refillMs'),
  };
}

/**
 * One gateway's TOFU admissions, under the limits it holds now. The Verify nodes of a gateway
 * share it: their claims (lib/gateway/tofu-claims.ts) apply() the strictest limits as these
 * change. A burst made smaller caps the saved-up admissions at the next refill.
 */
export class TofuAllowance {
  #limits: ResolvedTofuLimits;
  /** Admissions saved up (undefined: full, not used yet). */
  #tokens: number | undefined;
  #at = 0;
  /**
   * Admissions reserved, by the did they are for, with how many of its messages hold it
   * (signatures being checked, a record being written): a device's messages share one. At most
   * maxDevices and the burst: a did is only added while an admission is free.
   */
  readonly #reserved = new Map<string, number>();

  constructor(limits: ResolvedTofuLimits) {
    this.#limits = limits;
  }

  /** The limits applied now. */
  get limits(): ResolvedTofuLimits {
    return this.#limits;
  }

  /**
   * Applies `limits` from `now` on. The bucket is refilled up to `now` at the limits that applied
   * until now first, so that the time before is not refilled at the new rate (half an admission
   * saved up under one per 100 s stays half under one per 10 s).
   */
  apply(limits: ResolvedTofuLimits, now: number): void {
    if (this.#tokens !== undefined) this.#refill(now);
    this.#limits = limits;
  }

  #refill(now: number): number {
    const { burst, refillMs } = this.#limits;
    const elapsed = Math.max(0, now - this.#at);
    this.#at = now;
    this.#tokens = this.#tokens === undefined ? burst : Math.min(burst, this.#tokens + elapsed / refillMs);
    return this.#tokens;
  }

  /**
   * Reserves an admission for a message of the unknown device `did`, or throws ERR_TOFU_LIMIT when
   * `enrolled` devices trusted on first use (plus those reserved) reach maxDevices or no admission
   * is saved up. A further message of a did holding one shares it. A reservation ends with
   * spend() or release().
   */
  reserve(did: string, enrolled: number, now: number): void {
    const held = this.#reserved.get(did);
    if (held !== undefined) {
      this.#reserved.set(did, held + 1);
      return;
    }
    const tokens = this.#refill(now);
    const limits = this.#limits;
    const reserved = this.#reserved.size;
    if (enrolled + reserved >= limits.maxDevices)
      throw new LedgerError(TOFU_LIMIT, `trust on first use refused ${did}: ${limits.maxDevices} devices trusted on first use already (revoke some or enrol devices)`, { kid: did });
    if (tokens - reserved < 1)
      throw new LedgerError(TOFU_LIMIT, `trust on first use refused ${did}: more unknown devices than ${limits.burst} at once (one more every ${limits.refillMs / 1000} s)`, { kid: did });
    this.#reserved.set(did, 1);
  }

  /** A message's reservation not used (bad signature, replay, device known meanwhile, write failed). */
  release(did: string): void {
    const held = this.#reserved.get(did);
    if (held === undefined) return;
    if (held > 1) this.#reserved.set(did, held - 1);
    else this.#reserved.delete(did);
  }

  /**
   * The admission of `did` used: its device.tofu record is on the ledger, where the registry
   * counts it. Its other messages still waiting find the device known (their release() is a no-op).
   * Only a reservation held is spent: one admission per device.
   */
  spend(did: string, now: number): void {
    if (!this.#reserved.delete(did)) return;
    this.#tokens = Math.max(0, this.#refill(now) - 1);
  }

  /** For tests and status: devices holding a reservation, and admissions saved up (as of the last call). */
  get state(): { reserved: number; tokens: number | undefined } {
    return { reserved: this.#reserved.size, tokens: this.#tokens };
  }
}
