/**
 * Contract terms: what is measured, the rule it must keep, how an excursion becomes
 * a violation, and who agreed. Terms arrive as JSON (from the editor or a file), are
 * validated and normalised here, and are stored on the ledger as deterministic CBOR;
 * their SHA-256 is what the parties sign (terms-hash.ts). This module stays free of Node
 * built-ins: the editor bundles it to check terms in the browser exactly as the runtime does.
 */
import { didToKey } from '../crypto/didkey';
import { isLedgerError, LedgerError } from '../errors';
import { parseTime } from './time';

export type LimitOp = '<' | '<=' | '>' | '>=';

/**
 * The compliant region. The limit value itself triggers (WHO PQS): `<` means compliant
 * iff value < limit, so value == limit is an excursion; `<=` admits the limit.
 * `between` is compliant iff low < value < high (both limits trigger).
 */
export type Rule = { op: LimitOp; limit: number } | { op: 'between'; low: number; high: number };

export type Alarm =
  | { mode: 'instant' }
  | { mode: 'consecutive'; seconds: number }
  | { mode: 'cumulative'; seconds: number; windowSeconds: number };

export interface MktTerms {
  /** Upper MKT limit, °C; an MKT at or above it is exceeded. */
  limit: number;
  windowSeconds: number;
  /** ΔH in kJ/mol (USP <1160> default 83.144). */
  activationEnergyKJ: number;
}

/** Normalised terms, as returned by validateTerms. Optional fields are absent, never undefined. */
export interface Terms {
  id: string;
  version: number;
  title: string;
  subjects: 'any' | string[];
  metric: string;
  unit?: string;
  rule: Rule;
  alarm: Alarm;
  /** Metric units; recovery needs the value back inside the limit by at least this margin. Default 0. */
  hysteresis: number;
  maxGapSeconds?: number;
  mkt?: MktTerms;
  parties: string[];
  /** ms since the epoch, inclusive. */
  validFrom?: number;
  /** ms since the epoch, exclusive. */
  validUntil?: number;
}

export const DEFAULT_ACTIVATION_ENERGY_KJ = 83.144;
/** Molar gas constant as USP <1160> uses it, J/(mol·K). */
export const GAS_CONSTANT = 8.3144598;
export const KELVIN_OFFSET = 273.15;

const ID = /^[A-Za-z0-9._-]{1,64}$/;
const MAX_TITLE = 200;
const MAX_SUBJECTS = 1000;
const MAX_PARTIES = 64;
const MAX_NAME = 128;
const MAX_PATH = 256;
const MAX_UNIT = 32;
/** The evaluator works in ms since the epoch; ten years of seconds is plenty for any duration. */
const MAX_SECONDS = 10 * 366 * 86400;
// Units the MKT formula accepts: it needs degrees Celsius.
const CELSIUS_UNITS = new Set(['°C', 'C', 'degC', 'Cel', 'celsius', 'Celsius', '℃']);
const hasControl = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
};

const KEYS = new Set([
  'id', 'version', 'title', 'subjects', 'metric', 'unit', 'rule', 'alarm', 'hysteresis',
  'maxGapSeconds', 'mkt', 'parties', 'validFrom', 'validUntil',
]);

function invalid(field: string, message: string): LedgerError {
  return new LedgerError('ERR_INVALID_TERMS', `terms.${field} ${message}`, { field });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function onlyKeys(o: Record<string, unknown>, field: string, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw invalid(`${field}.${k}`, 'is not a known field');
}

/** Metric values beyond this magnitude are refused, which keeps every sum and difference finite. */
export const MAX_MAGNITUDE = 1e15;

function finite(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || Math.abs(v) > MAX_MAGNITUDE)
    throw invalid(field, `must be a finite number of magnitude at most ${MAX_MAGNITUDE}`);
  return v + 0;
}

function seconds(v: unknown, field: string): number {
  const n = finite(v, field);
  if (n <= 0 || n > MAX_SECONDS) throw invalid(field, `must be > 0 and at most ${MAX_SECONDS} seconds`);
  return n;
}

function text(v: unknown, field: string, max: number): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max)
    throw invalid(field, `must be a non-empty string of at most ${max} characters`);
  if (hasControl(v)) throw invalid(field, 'must not contain control characters');
  return v;
}

function did(v: unknown, field: string): string {
  if (typeof v !== 'string') throw invalid(field, 'must be a did:key string');
  try {
    didToKey(v);
  } catch (err) {
    if (isLedgerError(err, 'ERR_WEAK_KEY')) throw err;
    throw invalid(field, `is not a valid did:key: ${(err as Error).message}`);
  }
  if (v.includes('#')) throw invalid(field, 'must be a did:key without a #fragment');
  return v;
}

function uniqueList<T>(v: unknown, field: string, max: number, item: (x: unknown, f: string) => T): T[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > max)
    throw invalid(field, `must be a non-empty array of at most ${max} entries`);
  const out = v.map((x, i) => item(x, `${field}[${i}]`));
  const seen = new Set<T>();
  out.forEach((x, i) => {
    if (seen.has(x)) throw invalid(`${field}[${i}]`, `repeats ${JSON.stringify(x)}`);
    seen.add(x);
  });
  return out;
}

function validateRule(v: unknown): Rule {
  if (!isRecord(v)) throw invalid('rule', 'must be an object {op, limit} or {op: "between", low, high}');
  if (v.op === 'between') {
    onlyKeys(v, 'rule', ['op', 'low', 'high']);
    const low = finite(v.low, 'rule.low');
    const high = finite(v.high, 'rule.high');
    if (!(low < high)) throw invalid('rule.high', 'must be greater than rule.low');
    return { op: 'between', low, high };
  }
  if (v.op === '<' || v.op === '<=' || v.op === '>' || v.op === '>=') {
    onlyKeys(v, 'rule', ['op', 'limit']);
    return { op: v.op, limit: finite(v.limit, 'rule.limit') };
  }
  throw invalid('rule.op', 'must be one of "<", "<=", ">", ">=", "between"');
}

function validateAlarm(v: unknown): Alarm {
  if (!isRecord(v)) throw invalid('alarm', 'must be an object with a mode');
  switch (v.mode) {
    case 'instant':
      onlyKeys(v, 'alarm', ['mode']);
      return { mode: 'instant' };
    case 'consecutive':
      onlyKeys(v, 'alarm', ['mode', 'seconds']);
      return { mode: 'consecutive', seconds: seconds(v.seconds, 'alarm.seconds') };
    case 'cumulative': {
      onlyKeys(v, 'alarm', ['mode', 'seconds', 'windowSeconds']);
      const s = seconds(v.seconds, 'alarm.seconds');
      const w = seconds(v.windowSeconds, 'alarm.windowSeconds');
      if (w < s) throw invalid('alarm.windowSeconds', 'must be at least alarm.seconds');
      return { mode: 'cumulative', seconds: s, windowSeconds: w };
    }
    default:
      throw invalid('alarm.mode', 'must be "instant", "consecutive" or "cumulative"');
  }
}

function validateMkt(v: unknown, unit: string | undefined): MktTerms {
  if (!isRecord(v)) throw invalid('mkt', 'must be an object {limit, windowSeconds, activationEnergyKJ?}');
  onlyKeys(v, 'mkt', ['limit', 'windowSeconds', 'activationEnergyKJ']);
  if (unit !== undefined && !CELSIUS_UNITS.has(unit))
    throw invalid('unit', `must be degrees Celsius ("°C") when mkt is set, got ${JSON.stringify(unit)}`);
  const limit = finite(v.limit, 'mkt.limit');
  const windowSeconds = seconds(v.windowSeconds, 'mkt.windowSeconds');
  const ea = v.activationEnergyKJ === undefined ? DEFAULT_ACTIVATION_ENERGY_KJ : finite(v.activationEnergyKJ, 'mkt.activationEnergyKJ');
  if (ea <= 0 || ea > 1000) throw invalid('mkt.activationEnergyKJ', 'must be > 0 and at most 1000 kJ/mol');
  // The evaluator scales Arrhenius factors by the one at the limit; keep that factor in range.
  const kelvin = limit + KELVIN_OFFSET;
  if (!(kelvin > 0) || (ea * 1000) / (GAS_CONSTANT * kelvin) > 700)
    throw invalid('mkt.limit', 'is too close to absolute zero for this activation energy');
  return { limit, windowSeconds, activationEnergyKJ: ea };
}

function validateTime(v: unknown, field: string): number {
  const ms = parseTime(v);
  if (ms === undefined) throw invalid(field, 'must be an ISO-8601 date-time with a zone, or ms since the epoch');
  return ms;
}

/**
 * Validates terms (JSON or already normalised) and returns them normalised: defaults
 * filled (hysteresis 0, mkt.activationEnergyKJ 83.144), times as ms, -0 as 0, unknown
 * fields refused. Throws ERR_INVALID_TERMS naming the field. Idempotent.
 */
export function validateTerms(input: unknown): Terms {
  if (!isRecord(input)) throw new LedgerError('ERR_INVALID_TERMS', 'terms must be a JSON object');
  for (const k of Object.keys(input)) if (!KEYS.has(k)) throw invalid(k, 'is not a known field');
  if (typeof input.id !== 'string' || !ID.test(input.id)) throw invalid('id', 'must match /^[A-Za-z0-9._-]{1,64}$/');
  if (!Number.isSafeInteger(input.version) || (input.version as number) < 1)
    throw invalid('version', 'must be an integer >= 1');
  const title = text(input.title, 'title', MAX_TITLE);
  let subjects: 'any' | string[];
  if (input.subjects === 'any') subjects = 'any';
  else
    subjects = uniqueList(input.subjects, 'subjects', MAX_SUBJECTS, (x, f) =>
      typeof x === 'string' && x.startsWith('did:key:') ? did(x, f) : text(x, f, MAX_NAME),
    );
  const metric = text(input.metric, 'metric', MAX_PATH);
  if (metric.split('.').some((s) => s.length === 0)) throw invalid('metric', 'must be a dot path without empty segments');
  const unit = input.unit === undefined ? undefined : text(input.unit, 'unit', MAX_UNIT);
  const rule = validateRule(input.rule);
  const alarm = validateAlarm(input.alarm);
  const hysteresis = input.hysteresis === undefined ? 0 : finite(input.hysteresis, 'hysteresis');
  if (hysteresis < 0) throw invalid('hysteresis', 'must be >= 0');
  if (rule.op === 'between' && 2 * hysteresis >= rule.high - rule.low)
    throw invalid('hysteresis', 'must be less than half of rule.high - rule.low, or recovery is impossible');
  const maxGapSeconds = input.maxGapSeconds === undefined ? undefined : seconds(input.maxGapSeconds, 'maxGapSeconds');
  const mkt = input.mkt === undefined ? undefined : validateMkt(input.mkt, unit);
  const parties = uniqueList(input.parties, 'parties', MAX_PARTIES, did);
  const validFrom = input.validFrom === undefined ? undefined : validateTime(input.validFrom, 'validFrom');
  const validUntil = input.validUntil === undefined ? undefined : validateTime(input.validUntil, 'validUntil');
  if (validFrom !== undefined && validUntil !== undefined && !(validFrom < validUntil))
    throw invalid('validUntil', 'must be after validFrom');

  return {
    id: input.id,
    version: input.version as number,
    title,
    subjects,
    metric,
    ...(unit !== undefined ? { unit } : {}),
    rule,
    alarm,
    hysteresis,
    ...(maxGapSeconds !== undefined ? { maxGapSeconds } : {}),
    ...(mkt ? { mkt } : {}),
    parties,
    ...(validFrom !== undefined ? { validFrom } : {}),
    ...(validUntil !== undefined ? { validUntil } : {}),
  };
}
