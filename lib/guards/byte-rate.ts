// Bytes per second sent to the clients of an HTTP server (the tile server's replicas), for all
// of them together and per client address: a token bucket each, refilled at its rate up to one
// second's worth. A request is let in while both buckets of its client hold a byte, and what
// its answer sends is taken as the socket takes it, so nothing about a body is needed before it
// is read. A bucket can go below zero by what was in flight (bodies the request gate bounds);
// the client then waits until it is refilled. Per request: a few arithmetic operations and, for
// the clients charged, a move to the end of a map whose whole buckets are dropped from its front.
import { LedgerError } from '../errors';
import { wholeLimit } from './limits';

export interface ByteRateLimits {
  /** Bytes per second sent to all clients together. */
  maxBytesPerSecond: number;
  /** Bytes per second sent to one client address. */
  maxBytesPerSecondPerClient: number;
}

/** How long a client waits before it may be sent more: `ms` 0 when it may now; `perClient` when its own bucket is the one spent longest. */
export interface ByteRateWait {
  ms: number;
  perClient: boolean;
}

interface Bucket {
  bytes: number;
  at: number;
}

/** Throws ERR_INVALID_ARGUMENT for a name that is not a byte rate or a value that is not a positive integer. */
export function checkByteRates(limits: Partial<ByteRateLimits>): void {
  for (const [k, v] of Object.entries(limits)) {
    if (k !== 'maxBytesPerSecond' && k !== 'maxBytesPerSecondPerClient') throw new LedgerError('ERR_INVALID_ARGUMENT', `${k} is not a byte rate (maxBytesPerSecond, maxBytesPerSecondPerClient)`);
    wholeLimit(v, 1, k);
  }
}

export class ByteRate {
  #limits: ByteRateLimits;
  readonly #now: () => number;
  readonly #total: Bucket;
  /** Per client address, least recently charged first; a bucket refilled whole is dropped. */
  readonly #clients = new Map<string, Bucket>();

  constructor(limits: ByteRateLimits, now: () => number = Date.now) {
    checkByteRates(limits);
    this.#limits = { maxBytesPerSecond: limits.maxBytesPerSecond, maxBytesPerSecondPerClient: limits.maxBytesPerSecondPerClient };
    this.#now = now;
    this.#total = { bytes: limits.maxBytesPerSecond, at: now() };
  }

  get limits(): ByteRateLimits {
    return { ...this.#limits };
  }

  /** Changes the rates; returns the previous ones. A bucket keeps what it holds (at most the new rate once refilled). */
  setLimits(limits: Partial<ByteRateLimits>): ByteRateLimits {
    checkByteRates(limits);
    const before = this.limits;
    this.#limits = { ...this.#limits, ...limits };
    return before;
  }

  /** Client addresses with a bucket not yet refilled whole. */
  get clients(): number {
    return this.#clients.size;
  }

  /** How long `client` (without one: any client) waits before it may be sent more. */
  wait(client?: string): ByteRateWait {
    const now = this.#now();
    const total = waitMs(refill(this.#total, this.#limits.maxBytesPerSecond, now), this.#limits.maxBytesPerSecond);
    const bucket = client === undefined ? undefined : this.#clients.get(client);
    const own = bucket ? waitMs(refill(bucket, this.#limits.maxBytesPerSecondPerClient, now), this.#limits.maxBytesPerSecondPerClient) : 0;
    return { ms: Math.max(total, own), perClient: own > 0 && own >= total };
  }

  /** Takes `bytes` sent to `client` from its bucket and from the total. */
  spend(client: string | undefined, bytes: number): void {
    const now = this.#now();
    this.#total.bytes = refill(this.#total, this.#limits.maxBytesPerSecond, now) - bytes;
    if (client === undefined) return;
    const rate = this.#limits.maxBytesPerSecondPerClient;
    const bucket = this.#clients.get(client) ?? { bytes: rate, at: now };
    bucket.bytes = refill(bucket, rate, now) - bytes;
    this.#clients.delete(client); // set again last: the map stays in charging order
    this.#clients.set(client, bucket);
    for (const [c, b] of this.#clients) {
      if (refill(b, rate, now) < rate) break;
      this.#clients.delete(c);
    }
  }
}

/** The bytes `bucket` holds at `now` (it is brought up to date). */
function refill(bucket: Bucket, rate: number, now: number): number {
  // A clock set back refills nothing.
  bucket.bytes = Math.min(rate, bucket.bytes + (Math.max(0, now - bucket.at) * rate) / 1000);
  bucket.at = Math.max(bucket.at, now);
  return bucket.bytes;
}

/** Milliseconds until a bucket holding `bytes` holds a whole byte again (0 when it does). */
function waitMs(bytes: number, rate: number): number {
  return bytes >= 1 ? 0 : Math.ceil(((1 - bytes) * 1000) / rate);
}
