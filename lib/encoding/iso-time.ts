// ISO 8601 text of any time the ledger can hold. A record's time is any safe integer of
// milliseconds (docs/FORMAT.md), but a Date holds only ±8.64e15 ms (ECMA-262 §21.4.1.1), so
// `new Date(ms).toISOString()` throws a RangeError past the year 275760.

/** The largest time a Date holds, in ms either side of the epoch. */
export const MAX_DATE_MS = 8.64e15;
/** The Gregorian calendar repeats every 400 years, 146,097 days. */
const CYCLE_YEARS = 400;
const CYCLE_MS = 146_097 * 86_400_000;

/**
 * `new Date(ms).toISOString()` where a Date holds `ms`; beyond that, the same form with the
 * year expanded as toISOString writes years past 9999 (`+287396-10-12T08:59:00.991Z`).
 * A value that is not a finite number is written as it is.
 */
export function isoTime(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (Math.abs(ms) <= MAX_DATE_MS) return new Date(ms).toISOString();
  // One cycle more than needed, so that rounding (times past 2^53 are not exact) stays inside.
  const cycles = Math.sign(ms) * (Math.ceil((Math.abs(ms) - MAX_DATE_MS) / CYCLE_MS) + 1);
  const shifted = ms - cycles * CYCLE_MS;
  if (!(Math.abs(shifted) <= MAX_DATE_MS)) return String(ms);
  const m = /^([+-]?\d+)(-.*)$/.exec(new Date(shifted).toISOString());
  if (!m) return String(ms);
  const year = Number(m[1]) + cycles * CYCLE_YEARS;
  return `${year < 0 ? '-' : '+'}${String(Math.abs(year)).padStart(6, '0')}${m[2]}`;
}

/**
 * Whether a written date and time exist (month 1-12, a day the month has, hour 0-23, minute
 * and second 0-59): Date.parse rolls over what does not ("2026-02-30" is March 2nd, "T24:00"
 * the next day), so a parser checks the fields before it.
 */
export function dateTimeExists(year: number, month: number, day: number, hour = 0, minute = 0, second = 0): boolean {
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return false;
  return day <= new Date(Date.UTC(year, month, 0)).getUTCDate();
}
