/**
 * Times in contracts are milliseconds since the Unix epoch. People write them as
 * ISO-8601 date-times with an explicit zone ("2026-11-25T10:32:00Z", "...+01:00").
 */
import { dateTimeExists, MAX_DATE_MS } from '../encoding/iso-time';

/** The range of ECMAScript dates, ±100 000 000 days around the epoch. */
export const MAX_TIME = MAX_DATE_MS;

// A full date-time with seconds optional, fraction optional and a zone required:
// a time without a zone means different instants on different gateways.
const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|z|[+-]\d{2}:\d{2})$/;

/** Parses an ISO-8601 date-time (zone required) or a finite number of ms; undefined when neither. */
export function parseTime(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && Math.abs(v) <= MAX_TIME ? v + 0 : undefined;
  if (typeof v !== 'string') return undefined;
  const m = ISO_DATE_TIME.exec(v);
  if (!m) return undefined;
  const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0] = m.slice(1, 7).map((x) => Number(x ?? 0));
  if (!dateTimeExists(year, month, day, hour, minute, second)) return undefined;
  const ms = Date.parse(v);
  return Number.isFinite(ms) ? ms : undefined;
}

/** ISO-8601 UTC, without the milliseconds when they are zero ("2026-11-25T10:32:00Z"). */
export function formatTime(ms: number): string {
  if (!Number.isFinite(ms) || Math.abs(ms) > MAX_TIME) return String(ms);
  const iso = new Date(ms).toISOString();
  return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
}
