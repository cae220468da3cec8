// Replay protection: each device payload carries a strictly increasing counter and/or a timestamp.
import { parseTime } from '../contracts/time';

export interface Freshness {
  counter?: number;
  time?: number;
}

/**
 * A time as recorded: a finite number of ms, or a text of 10 characters or more that Date.parse
 * reads. Gateways before the strict admission (admissionProblem) accepted such text ("Dec 6 2026
 * 10:00", "2026-02-30T00:00:00Z" as March 2nd, a local time without an offset), and the audit and
 * a restarting gateway must read their records as they read them; a text admitted now is one
 * parseTime takes, which Date.parse reads the same.
 */
function recordedTime(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.length >= 10) {
    const t = Date.parse(v);
    return Number.isNaN(t) ? undefined : t;
  }
  return undefined;
}

/** The time field freshnessOf reads: `ts`, else `time`, else `timestamp` (the first that is not null or undefined). */
function timeField(p: Record<string, unknown>): { field: string; value: unknown } {
  for (const field of ['ts', 'time', 'timestamp']) if (p[field] !== undefined && p[field] !== null) return { field, value: p[field] };
  return { field: 'ts', value: undefined };
}

function isMap(payload: unknown): payload is Record<string, unknown> {
  return !!payload && typeof payload === 'object' && !Array.isArray(payload);
}

/**
 * Reads `counter` (or `seq`/`ctr`) and `ts` (or `time`/`timestamp`) from a payload object, as
 * recorded (recordedTime): what the audit and a restarting gateway read from the ledger. A
 * message being admitted is first checked by admissionProblem.
 */
export function freshnessOf(payload: unknown): Freshness {
  if (!isMap(payload)) return {};
  const p = payload;
  const out: Freshness = {};
  const counter = p.counter ?? p.seq ?? p.ctr;
  if (typeof counter === 'number' && Number.isSafeInteger(counter)) out.counter = counter;
  const time = recordedTime(timeField(p).value);
  if (time !== undefined) out.time = time;
  return out;
}

/** Characters of a refused time text quoted in an error. */
const MAX_TIME_SHOWN = 64;

/**
 * Why a device message being admitted (Verify) is refused for its time, or undefined: a time
 * field (the one freshnessOf reads) that is text must be an RFC 3339 date-time with an explicit
 * offset (`Z` or ±hh:mm) whose fields exist (parseTime, as contracts read times); numbers are
 * read as before. Every text admitted is then read by freshnessOf exactly as parseTime reads it.
 */
export function admissionProblem(payload: unknown): { field: string; message: string } | undefined {
  if (!isMap(payload)) return undefined;
  const { field, value } = timeField(payload);
  if (typeof value !== 'string' || parseTime(value) !== undefined) return undefined;
  const shown = value.length <= MAX_TIME_SHOWN ? value : `${value.slice(0, MAX_TIME_SHOWN)}…`;
  return {
    field,
    message: `"${field}" ${JSON.stringify(shown)} is not a time: text must be an RFC 3339 date-time with an offset (Z or ±hh:mm) that exists, e.g. "2026-12-06T10:00:00Z", or give milliseconds since the epoch`,
  };
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
