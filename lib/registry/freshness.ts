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

/** True when `next` is strictly newer than `last`: by counter when both have one, else by time. */
export function isNewer(next: Freshness, last: Freshness | undefined): boolean {
  if (!last || !hasFreshness(last)) return true;
  if (next.counter !== undefined && last.counter !== undefined) return next.counter > last.counter;
  if (next.time !== undefined && last.time !== undefined) return next.time > last.time;
  return false;
}

/** What a device has reached once `f` is accepted after `prev`: the newest counter, the latest time. */
export function mergeAccepted(prev: Freshness | undefined, f: Freshness): Freshness {
  return {
    counter: f.counter ?? prev?.counter,
    time: f.time !== undefined && (prev?.time === undefined || f.time > prev.time) ? f.time : prev?.time,
  };
}
