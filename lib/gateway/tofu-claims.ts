// One gateway has one TOFU allowance (lib/gateway/tofu-limit.ts): the count of devices trusted
// on first use is the ledger's, not a node's. Every Verify node with TOFU on asks for limits of
// its own; the gateway applies one set, the strictest of all asked for (fewest devices, smallest
// burst, slowest refill), so that adding a Verify node with wider settings never widens what
// a publisher can add to the ledger, and every node refuses by the same numbers. With no claim,
// the gateway's own limits (GatewayLimits.tofu) apply.
import { tofuLimits, type ResolvedTofuLimits, type TofuAllowance, type TofuLimits } from './tofu-limit';

export interface TofuClaim {
  /** The limits asked for (the given ones over the gateway's own). */
  readonly asked: ResolvedTofuLimits;
  /** The limits the gateway applies now: the strictest of all claims. */
  readonly applied: ResolvedTofuLimits;
  /** Another claim is stricter on some limit: what was asked for does not hold. */
  readonly overridden: boolean;
  /** Takes the claim back (a node closing); the others' strictest applies then. */
  release(): void;
}

/** Called with a claim whenever the limits applied change while it is held. */
export type TofuClaimListener = (claim: TofuClaim) => void;

interface Held {
  asked: ResolvedTofuLimits;
  onChange?: TofuClaimListener;
  claim: TofuClaim;
}

/** The limits no claim is stricter than, on each of them. */
export function strictest(all: readonly ResolvedTofuLimits[]): ResolvedTofuLimits {
  return {
    maxDevices: Math.min(...all.map((l) => l.maxDevices)),
    burst: Math.min(...all.map((l) => l.burst)),
    refillMs: Math.max(...all.map((l) => l.refillMs)),
  };
}

export function sameTofuLimits(a: ResolvedTofuLimits, b: ResolvedTofuLimits): boolean {
  return a.maxDevices === b.maxDevices && a.burst === b.burst && a.refillMs === b.refillMs;
}

/** The claims on one gateway's TOFU allowance, which they set the limits of. */
export class TofuClaims {
  readonly #held = new Set<Held>();
  readonly #allowance: TofuAllowance;
  readonly #now: () => number;
  /** The gateway's own limits, applied while no claim is held: those the allowance starts with. */
  readonly base: ResolvedTofuLimits;

  /** `now` is the allowance's clock: a change of limits refills it up to then at the limits before. */
  constructor(allowance: TofuAllowance, now: () => number) {
    this.#allowance = allowance;
    this.#now = now;
    this.base = allowance.limits;
  }

  /** What the gateway applies now (the allowance's limits). */
  get applied(): ResolvedTofuLimits {
    return this.#allowance.limits;
  }

  /** Claims held (nodes with TOFU on). */
  get size(): number {
    return this.#held.size;
  }

  /**
   * Asks for `given` (over the gateway's own limits; throws ERR_INVALID_ARGUMENT for a limit that
   * is no positive integer). `onChange` hears of every later change of the limits applied.
   */
  claim(given: TofuLimits | undefined, onChange?: TofuClaimListener): TofuClaim {
    const asked = tofuLimits(given, this.base);
    const applied = (): ResolvedTofuLimits => this.applied;
    const held: Held = {
      asked,
      claim: {
        asked,
        get applied() {
          return applied();
        },
        get overridden() {
          return !sameTofuLimits(asked, applied());
        },
        release: () => {
          if (this.#held.delete(held)) this.#update();
        },
      },
    };
    this.#held.add(held);
    this.#update();
    // Told of later changes only: the caller reads the claim it gets back.
    held.onChange = onChange;
    return held.claim;
  }

  #update(): void {
    const next = this.#held.size === 0 ? this.base : strictest([...this.#held].map((h) => h.asked));
    if (sameTofuLimits(next, this.applied)) return;
    this.#allowance.apply(next, this.#now());
    for (const h of [...this.#held]) h.onChange?.(h.claim);
  }
}
