// Replay protection: each device payload carries a strictly increasing counter and/or a timestamp.

export interface Freshness {
  counter?: number;
  time?: number;
}

function timeOf(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.length >= 10) {
    const t = Date.parse(v);
    return Number.isNaN(t) ? undefined : t;
  }
  return undefined;
}

/** Reads `counter` (or `seq`/`ctr`) and `ts` (or `time`/`timestamp`) from a payload object. */
export function freshnessOf(payload: unknown): Freshness {
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) return {};
  const p = payload as Record<string, unknown>;
  const out: Freshness = {};
  const counter = p.counter ?? p.seq ?? p.ctr;
  if (typeof counter === 'number' && Number.isSafeInteger(counter)) out.counter = counter;
  const time = timeOf(p.ts ?? p.time ?? p.timestamp);
  if (time !== undefined) out.time = time;
  return out;
}

export function hasFreshness(f: Freshness): boolean {
  return f.counter !== undefined || f.time !== undefined;
}

/**
 * True when `next` is strictly newer than `last`: by counter when both have one, else by time.
 * Once a device's accepted messages carry a counter, a message without one is never newer: a
 * message with an older timestamp (and no counter) could otherwise be replayed after a newer
 * counter came with an earlier clock. This also makes the last accepted message alone the
 * state (what the gateway reads back from the ledger when it restarts, and what the audit keeps).
 */
export function isNewer(next: Freshness, last: Freshness | undefined): boolean {
  if (!last || !hasFreshness(last)) return true;
  if (last.counter !== undefined) return next.counter !== undefined && next.counter > last.counter;
  if (next.time !== undefined && last.time !== undefined) return next.time > last.time;
  return false;
}

/** What a device has reached once `f` is accepted after `prev`: its counter and its time, each kept from `prev` when `f` has none. */
export function mergeAccepted(prev: Freshness | undefined, f: Freshness): Freshness {
  const out: Freshness = {};
  const counter = f.counter ?? prev?.counter;
  const time = f.time ?? prev?.time;
  if (counter !== undefined) out.counter = counter;
  if (time !== undefined) out.time = time;
  return out;
}
