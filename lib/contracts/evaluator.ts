/**
 * The contract evaluator: a pure function (terms, state, reading or clock tick) ->
 * (state, events). The state is plain JSON data, so a host can persist it, or rebuild
 * it by replaying the inputs recorded on the ledger; an audit re-runs the same inputs
 * and must reach the same events.
 *
 * Model:
 * - Readings are step functions: a value holds from its time until the next reading
 *   (or the current clock tick). Time advances only with accepted readings and ticks.
 * - An excursion starts at the first reading outside the compliant region and ends at
 *   the first reading that is inside by at least the hysteresis margin. While it is
 *   open its duration runs, including time inside the hysteresis band.
 * - instant: the excursion is a violation at once. consecutive: when one excursion has
 *   lasted `seconds`. cumulative: when excursion time within the sliding window of
 *   `windowSeconds` reaches `seconds`. A violation's time is the exact instant the
 *   threshold was reached; `detectedAt` is the reading or tick that noticed it. Each
 *   excursion gives at most one violation; the status stays 'violated' until the
 *   excursion ends, which emits 'compliance.restored'.
 * - maxGapSeconds: silence longer than this (since the last reading, or since
 *   validFrom, the state's origin (set by ContractRunner to the time the contract became active, see activeState) or the first tick when nothing was read yet) is a 'data.gap', reported
 *   once: by the first tick that sees it, else by the reading that ends it. A reading
 *   ending a gap that a tick already reported emits 'data.resumed'.
 * - Window statistics (min, max, time-weighted mean, MKT) cover the last
 *   mkt.windowSeconds (24 h without mkt), kept as 240 time buckets; the window start is
 *   rounded down to a bucket boundary, so it covers up to one bucket more.
 * - Rejected readings ('reading.rejected') only count; they never change compliance.
 *   A reading must be later than the evaluator's clock (the last reading or tick).
 */
import { LedgerError } from '../errors';
import { describe, extractMetric, classifyNumber, type MetricResult } from './metric';
import { arrheniusWeight, mktFromSums, mktReference } from './mkt';
import { crossedLimit, deviation, isInside, isRecovered } from './rule';
import { KELVIN_OFFSET, MAX_MAGNITUDE, validateTerms, type Terms } from './terms';
import { termsHashHex } from './terms-hash';
import { formatTime, MAX_TIME } from './time';

export type ContractStatus = 'no-data' | 'compliant' | 'excursion' | 'violated';

export type ContractInput =
  | {
      kind: 'reading';
      /** ms since the epoch. */
      time: number;
      /** The metric as a number, or the whole payload (an object) to read `terms.metric` from. */
      value: unknown;
      device?: string;
    }
  | { kind: 'tick'; time: number };

export type RejectReason =
  | 'malformed input'
  | 'missing metric'
  | 'non-numeric'
  | 'not finite'
  | 'out of range'
  | 'below absolute zero'
  | 'out of order'
  | 'duplicate'
  | 'outside validity'
  | 'not a subject';

export type ContractEvent =
  | { type: 'excursion.started'; time: number; value: number; limit: number; deviation: number }
  | {
      type: 'excursion.ended';
      time: number;
      start: number;
      seconds: number;
      /** Signed deviation at the extreme: value - crossed limit. */
      peak: number;
      peakValue: number;
      value: number;
    }
  | {
      type: 'violation';
      /** When the alarm threshold was reached. */
      time: number;
      /** The reading or tick that noticed it. */
      detectedAt: number;
      mode: 'instant' | 'consecutive' | 'cumulative';
      /** Excursion seconds that made the violation (0 for instant). */
      seconds: number;
      windowSeconds?: number;
      excursionStart: number;
      limit: number;
      peak: number;
      peakValue: number;
    }
  | { type: 'compliance.restored'; time: number; value: number; excursionStart: number; excursionSeconds: number }
  | { type: 'data.gap'; time: number; since: number; seconds: number; maxGapSeconds: number; ongoing: boolean }
  | { type: 'data.resumed'; time: number; since: number; seconds: number }
  | { type: 'mkt.exceeded' | 'mkt.restored'; time: number; mkt: number | null; limit: number; windowSeconds: number }
  | {
      type: 'reading.rejected';
      /** The reading's time, or the evaluator's clock when the reading has no usable time. */
      time: number | null;
      reason: RejectReason;
      detail: string;
      device?: string;
    };

export type ContractEventType = ContractEvent['type'];

export interface WindowBucket {
  /** Bucket index: floor(time / bucketMs). */
  k: number;
  seconds: number;
  /** Σ value·seconds. */
  sum: number;
  min: number;
  max: number;
  /** Σ seconds·Arrhenius weight (MKT only, else 0). */
  w: number;
}

export interface WindowStats {
  seconds: number;
  bucketMs: number;
  /** Start of the window (bucket-aligned), ms; null before any time passed. */
  from: number | null;
  coveredSeconds: number;
  min: number | null;
  max: number | null;
  mean: number | null;
  mkt: number | null;
  buckets: WindowBucket[];
}

export interface ContractState {
  format: 1;
  contract: string;
  version: number;
  termsHash: string;
  status: ContractStatus;
  /** Where silence is measured from before the first reading: validFrom or the first input. */
  origin: number | null;
  /** The latest time evaluated (reading or tick). */
  clock: number | null;
  last: { time: number; value: number } | null;
  excursion: { start: number; peak: number; peakValue: number; violated: boolean } | null;
  /** Cumulative mode: closed excursion intervals [start, end] (ms) still inside the window. */
  intervals: [number, number][];
  /** Set while a gap that a tick reported is still open. */
  gap: { since: number; reportedAt: number } | null;
  window: WindowStats;
  mktExceeded: boolean;
  counters: { readings: number; rejected: number; excursions: number; violations: number; gaps: number };
}

export interface EvaluationResult {
  state: ContractState;
  events: ContractEvent[];
}

const WINDOW_BUCKETS = 240;
const DEFAULT_WINDOW_SECONDS = 86400;
/** More separate excursions than this inside one cumulative window merge (over-counting, never under). */
export const MAX_INTERVALS = 512;

// ---------------------------------------------------------------- terms memo

interface Prepared {
  terms: Terms;
  hash: string;
}

// Validation checks every party's did:key; remember the result per terms object.
const prepared = new WeakMap<object, Prepared>();

function prepare(input: Terms): Prepared {
  const hit = input && typeof input === 'object' ? prepared.get(input) : undefined;
  if (hit) return hit;
  const terms = validateTerms(input);
  const p = { terms, hash: termsHashHex(terms) };
  prepared.set(input, p);
  prepared.set(terms, p);
  return p;
}

// ---------------------------------------------------------------- state

function windowMs(terms: Terms): number {
  return (terms.mkt?.windowSeconds ?? DEFAULT_WINDOW_SECONDS) * 1000;
}

function bucketMs(terms: Terms): number {
  return Math.max(1, Math.ceil(windowMs(terms) / WINDOW_BUCKETS));
}

/** The state of a contract before any input. Terms are validated (ERR_INVALID_TERMS). */
export function initialState(termsInput: Terms): ContractState {
  const { terms, hash } = prepare(termsInput);
  return {
    format: 1,
    contract: terms.id,
    version: terms.version,
    termsHash: hash,
    status: 'no-data',
    origin: terms.validFrom ?? null,
    clock: null,
    last: null,
    excursion: null,
    intervals: [],
    gap: null,
    window: {
      seconds: windowMs(terms) / 1000,
      bucketMs: bucketMs(terms),
      from: null,
      coveredSeconds: 0,
      min: null,
      max: null,
      mean: null,
      mkt: null,
      buckets: [],
    },
    mktExceeded: false,
    counters: { readings: 0, rejected: 0, excursions: 0, violations: 0, gaps: 0 },
  };
}

function badState(message: string): LedgerError {
  return new LedgerError('ERR_INVALID_ARGUMENT', `contract state: ${message}`);
}

/** Checks that a state belongs to these terms and copies it (evaluate never mutates its input). */
function copyState(s: ContractState, p: Prepared): ContractState {
  if (!s || typeof s !== 'object' || s.format !== 1) throw badState('not a contract state (format 1)');
  if (s.contract !== p.terms.id || s.version !== p.terms.version || s.termsHash !== p.hash)
    throw badState(`belongs to ${String(s.contract)} v${String(s.version)}, not to these terms`);
  if (!Array.isArray(s.intervals) || !s.window || !Array.isArray(s.window.buckets) || !s.counters)
    throw badState('is incomplete');
  return {
    ...s,
    last: s.last && { ...s.last },
    excursion: s.excursion && { ...s.excursion },
    intervals: s.intervals.map((i) => [i[0], i[1]]),
    gap: s.gap && { ...s.gap },
    window: { ...s.window, buckets: s.window.buckets.map((b) => ({ ...b })) },
    counters: { ...s.counters },
  };
}

// ---------------------------------------------------------------- input

type ParsedInput =
  | { kind: 'tick'; time: number }
  | { kind: 'reading'; time: number; metric: MetricResult; device?: string }
  | { kind: 'malformed'; time?: number; detail: string; device?: string };

function validTime(t: unknown): t is number {
  return typeof t === 'number' && Number.isFinite(t) && Math.abs(t) <= MAX_TIME;
}

function parseInput(input: unknown, terms: Terms): ParsedInput {
  if (!input || typeof input !== 'object') return { kind: 'malformed', detail: `input is ${describe(input)}` };
  const o = input as Record<string, unknown>;
  const kind = o.kind;
  const time = o.time;
  if (kind === 'tick') {
    if (!validTime(time)) return { kind: 'malformed', detail: 'tick time must be ms since the epoch' };
    return { kind: 'tick', time: time + 0 };
  }
  if (kind !== 'reading') return { kind: 'malformed', detail: 'input kind must be "reading" or "tick"' };
  const device = o.device;
  if (device !== undefined && typeof device !== 'string')
    return { kind: 'malformed', detail: `device is ${describe(device)}`, ...(validTime(time) ? { time: time + 0 } : {}) };
  const dev = device === undefined ? {} : { device: device.length > 128 ? `${device.slice(0, 128)}…` : device };
  if (!validTime(time)) return { kind: 'malformed', detail: 'reading time must be ms since the epoch', ...dev };
  const value = o.value;
  const metric =
    value !== null && typeof value === 'object' && !(value instanceof Number)
      ? extractMetric(value, terms.metric)
      : classifyNumber(value, terms.metric);
  return { kind: 'reading', time: time + 0, metric, ...dev };
}

// ---------------------------------------------------------------- evaluation

class Run {
  readonly events: ContractEvent[] = [];

  constructor(
    readonly terms: Terms,
    readonly s: ContractState,
  ) {}

  reject(time: number | null, reason: RejectReason, detail: string, device?: string): void {
    this.s.counters.rejected++;
    this.events.push({
      type: 'reading.rejected',
      time,
      reason,
      detail,
      ...(device !== undefined ? { device } : {}),
    });
  }

  reading(t: number, metric: MetricResult, device: string | undefined): void {
    const { terms, s } = this;
    if (device !== undefined && terms.subjects !== 'any' && !terms.subjects.includes(device))
      return this.reject(t, 'not a subject', `device ${JSON.stringify(device)} is not a subject of ${terms.id}`, device);
    if ((terms.validFrom !== undefined && t < terms.validFrom) || (terms.validUntil !== undefined && t >= terms.validUntil))
      return this.reject(t, 'outside validity', 'the reading is outside the validity of the terms', device);
    if (s.last && t === s.last.time) return this.reject(t, 'duplicate', 'a reading with this time was already accepted', device);
    if (s.clock !== null && t < s.clock)
      return this.reject(t, 'out of order', `the reading is older than the evaluator's clock ${formatTime(s.clock)}`, device);
    if (!metric.ok) return this.reject(t, metric.reason, metric.detail, device);
    const v = metric.value;
    if (Math.abs(v) > MAX_MAGNITUDE) return this.reject(t, 'out of range', `|value| exceeds ${MAX_MAGNITUDE}`, device);
    if (terms.mkt && v <= -KELVIN_OFFSET)
      return this.reject(t, 'below absolute zero', `${v} °C is at or below absolute zero`, device);

    if (s.origin === null) s.origin = t;
    this.advance(t);
    this.gapOnReading(t);
    this.apply(t, v);
    s.last = { time: t, value: v };
    s.counters.readings++;
    this.noteValue(t, v);
    this.finish(t);
  }

  tick(time: number): void {
    const { terms, s } = this;
    if (terms.validFrom !== undefined && time < terms.validFrom) return;
    const t = terms.validUntil !== undefined ? Math.min(time, terms.validUntil) : time;
    if (s.clock !== null && t <= s.clock) return;
    if (s.origin === null) s.origin = t;
    this.advance(t);
    this.gapOnTick(t);
    this.finish(t);
  }

  /** Lets time pass to `to`: the held value accrues, running excursions may cross a threshold. */
  private advance(to: number): void {
    const s = this.s;
    const from = s.clock;
    s.clock = to;
    if (from === null || to <= from) return;
    this.accrue(from, to);
    const ex = s.excursion;
    if (ex && !ex.violated) this.checkThreshold(from, to, to);
    if (this.terms.alarm.mode === 'cumulative') {
      const edge = to - this.terms.alarm.windowSeconds * 1000;
      s.intervals = s.intervals.filter(([, end]) => end > edge);
    }
  }

  // ---- window statistics

  private accrue(from: number, to: number): void {
    const { terms, s } = this;
    const g = s.window.bucketMs;
    const firstK = Math.floor((to - windowMs(terms)) / g);
    const buckets = s.window.buckets.filter((b) => b.k >= firstK);
    s.window.buckets = buckets;
    if (!s.last) return;
    const v = s.last.value;
    const weight = terms.mkt ? arrheniusWeight(v, mktReference(terms.mkt.limit, terms.mkt.activationEnergyKJ), terms.mkt.activationEnergyKJ) : 0;
    let at = Math.max(from, firstK * g);
    while (at < to) {
      const k = Math.floor(at / g);
      const end = Math.min(to, (k + 1) * g);
      const secs = (end - at) / 1000;
      const b = this.bucket(k, v);
      b.seconds += secs;
      b.sum += v * secs;
      b.w += weight * secs;
      at = end;
    }
  }

  private bucket(k: number, v: number): WindowBucket {
    const buckets = this.s.window.buckets;
    let b = buckets[buckets.length - 1];
    if (!b || b.k !== k) {
      b = { k, seconds: 0, sum: 0, min: v, max: v, w: 0 };
      buckets.push(b);
    }
    if (v < b.min) b.min = v;
    if (v > b.max) b.max = v;
    return b;
  }

  /** A new reading counts in min/max at once, before any time passes. */
  private noteValue(t: number, v: number): void {
    this.bucket(Math.floor(t / this.s.window.bucketMs), v);
  }

  private summarise(now: number): void {
    const { terms, s } = this;
    const w = s.window;
    let min: number | null = null;
    let max: number | null = null;
    let secs = 0;
    let sum = 0;
    let weighted = 0;
    for (const b of w.buckets) {
      if (min === null || b.min < min) min = b.min;
      if (max === null || b.max > max) max = b.max;
      secs += b.seconds;
      sum += b.sum;
      weighted += b.w;
    }
    w.from = Math.floor((now - windowMs(terms)) / w.bucketMs) * w.bucketMs;
    w.coveredSeconds = secs;
    w.min = min;
    w.max = max;
    w.mean = secs > 0 ? sum / secs + 0 : null;
    const mkt = terms.mkt && mktFromSums(weighted, secs, mktReference(terms.mkt.limit, terms.mkt.activationEnergyKJ), terms.mkt.activationEnergyKJ);
    w.mkt = mkt === undefined ? null : mkt + 0;
  }

  private finish(now: number): void {
    this.summarise(now);
    const { terms, s } = this;
    if (terms.mkt) {
      const m = s.window.mkt;
      const exceeded = m !== null && m >= terms.mkt.limit;
      if (exceeded !== s.mktExceeded) {
        s.mktExceeded = exceeded;
        this.events.push({
          type: exceeded ? 'mkt.exceeded' : 'mkt.restored',
          time: now,
          mkt: m,
          limit: terms.mkt.limit,
          windowSeconds: terms.mkt.windowSeconds,
        });
      }
    }
    s.status = s.excursion ? (s.excursion.violated ? 'violated' : 'excursion') : s.last ? 'compliant' : 'no-data';
  }

  // ---- gaps

  private silenceSince(): number | null {
    return this.s.last ? this.s.last.time : this.s.origin;
  }

  private gapOnTick(t: number): void {
    const { terms, s } = this;
    const since = this.silenceSince();
    if (terms.maxGapSeconds === undefined || since === null || s.gap) return;
    if (t - since > terms.maxGapSeconds * 1000) {
      s.gap = { since, reportedAt: t };
      s.counters.gaps++;
      this.events.push({ type: 'data.gap', time: t, since, seconds: (t - since) / 1000, maxGapSeconds: terms.maxGapSeconds, ongoing: true });
    }
  }

  private gapOnReading(t: number): void {
    const { terms, s } = this;
    const since = this.silenceSince();
    const reported = s.gap;
    s.gap = null;
    if (terms.maxGapSeconds === undefined || since === null || !(t - since > terms.maxGapSeconds * 1000)) return;
    const seconds = (t - since) / 1000;
    if (reported) this.events.push({ type: 'data.resumed', time: t, since, seconds });
    else {
      s.counters.gaps++;
      this.events.push({ type: 'data.gap', time: t, since, seconds, maxGapSeconds: terms.maxGapSeconds, ongoing: false });
    }
  }

  // ---- compliance

  private apply(t: number, v: number): void {
    const { terms, s } = this;
    const ex = s.excursion;
    if (!ex) {
      if (isInside(terms.rule, v)) return;
      const dev = deviation(terms.rule, v);
      s.excursion = { start: t, peak: dev, peakValue: v, violated: false };
      s.counters.excursions++;
      this.events.push({ type: 'excursion.started', time: t, value: v, limit: crossedLimit(terms.rule, v), deviation: dev });
      if (terms.alarm.mode === 'instant') this.violate(t, t);
      else this.checkThreshold(t, t, t);
      return;
    }
    if (isRecovered(terms.rule, terms.hysteresis, v)) {
      const seconds = (t - ex.start) / 1000;
      this.events.push({ type: 'excursion.ended', time: t, start: ex.start, seconds, peak: ex.peak, peakValue: ex.peakValue, value: v });
      if (ex.violated)
        this.events.push({ type: 'compliance.restored', time: t, value: v, excursionStart: ex.start, excursionSeconds: seconds });
      if (terms.alarm.mode === 'cumulative' && t > ex.start) this.addInterval(ex.start, t);
      s.excursion = null;
      return;
    }
    if (!isInside(terms.rule, v)) {
      const dev = deviation(terms.rule, v);
      if (Math.abs(dev) > Math.abs(ex.peak)) {
        ex.peak = dev;
        ex.peakValue = v;
      }
    }
  }

  private violate(at: number, detectedAt: number): void {
    const { terms, s } = this;
    const ex = s.excursion;
    if (!ex) return;
    ex.violated = true;
    s.counters.violations++;
    const alarm = terms.alarm;
    this.events.push({
      type: 'violation',
      time: at,
      detectedAt,
      mode: alarm.mode,
      seconds: alarm.mode === 'instant' ? 0 : alarm.seconds,
      ...(alarm.mode === 'cumulative' ? { windowSeconds: alarm.windowSeconds } : {}),
      excursionStart: ex.start,
      limit: crossedLimit(terms.rule, ex.peakValue),
      peak: ex.peak,
      peakValue: ex.peakValue,
    });
  }

  /** Looks for the instant in [from, to] at which the open excursion reaches the alarm threshold. */
  private checkThreshold(from: number, to: number, detectedAt: number): void {
    const { terms, s } = this;
    const ex = s.excursion;
    if (!ex || ex.violated) return;
    const alarm = terms.alarm;
    if (alarm.mode === 'instant') return this.violate(ex.start, detectedAt);
    if (alarm.mode === 'consecutive') {
      const at = ex.start + alarm.seconds * 1000;
      if (at <= to) this.violate(Math.max(at, from), detectedAt);
      return;
    }
    const at = cumulativeCrossing(ex.start, s.intervals, alarm.windowSeconds * 1000, alarm.seconds * 1000, from, to);
    if (at !== undefined) this.violate(at, detectedAt);
  }

  private addInterval(start: number, end: number): void {
    const list = this.s.intervals;
    list.push([start, end]);
    if (list.length <= MAX_INTERVALS) return;
    // Merge the two closest neighbours: the gap between them then counts as excursion time.
    let best = 0;
    let bestGap = Infinity;
    for (const [i, [, end]] of list.entries()) {
      const next = list[i + 1];
      if (next && next[0] - end < bestGap) [best, bestGap] = [i, next[0] - end];
    }
    const left = list[best];
    const right = list[best + 1];
    if (left && right) list.splice(best, 2, [left[0], right[1]]);
  }
}

/** Excursion ms inside the window (c - w, c] for an excursion open since `open` plus closed intervals. */
function cumulativeAt(open: number, intervals: readonly [number, number][], w: number, c: number): number {
  let sum = Math.min(c - open, w);
  for (const [a, b] of intervals) sum += Math.max(0, Math.min(b, c) - Math.max(a, c - w));
  return sum;
}

/**
 * The first time in [from, to] at which excursion time in the sliding window reaches
 * `threshold`. The sum is piecewise linear in time with slope 1 (the open excursion
 * grows) or 0 (an old interval leaves as fast, or the open one fills the window), and
 * only changes slope where the window's trailing edge crosses an interval boundary.
 */
export function cumulativeCrossing(
  open: number,
  intervals: readonly [number, number][],
  w: number,
  threshold: number,
  from: number,
  to: number,
): number | undefined {
  const cuts = [open + w];
  for (const [a, b] of intervals) cuts.push(a + w, b + w);
  const points = [from, ...cuts.filter((c) => c > from && c < to).sort((x, y) => x - y), to];
  for (const [i, p0] of points.entries()) {
    const s0 = cumulativeAt(open, intervals, w, p0);
    if (s0 >= threshold) return p0;
    const p1 = points[i + 1];
    if (p1 === undefined || p1 === p0) continue;
    const s1 = cumulativeAt(open, intervals, w, p1);
    if (s1 < threshold) continue;
    const mid = (p0 + p1) / 2;
    const leaving = intervals.some(([a, b]) => a < mid - w && mid - w < b) ? 1 : 0;
    const slope = (mid - open < w ? 1 : 0) - leaving;
    return slope > 0 ? Math.min(p1, p0 + (threshold - s0) / slope) : p1;
  }
  return undefined;
}

/**
 * Evaluates one input. Pure: the given state is not modified. Never throws for any
 * input (bad readings become 'reading.rejected'); throws ERR_INVALID_TERMS for invalid
 * terms and ERR_INVALID_ARGUMENT for a state that belongs to other terms.
 * Terms may be raw JSON; each terms object is validated once and remembered, so treat
 * it as immutable after its first evaluation.
 */
export function evaluate(terms: Terms, state: ContractState | undefined, input: ContractInput): EvaluationResult {
  const p = prepare(terms);
  const s = state === undefined ? initialState(p.terms) : copyState(state, p);
  const run = new Run(p.terms, s);
  let parsed: ParsedInput;
  try {
    parsed = parseInput(input, p.terms);
  } catch (err) {
    // A proxy or getter that throws: the input is unusable, and says so.
    parsed = { kind: 'malformed', detail: `input could not be read: ${err instanceof Error ? err.message.slice(0, 80) : 'error'}` };
  }
  if (parsed.kind === 'malformed') run.reject(parsed.time ?? s.clock, 'malformed input', parsed.detail, parsed.device);
  else if (parsed.kind === 'tick') run.tick(parsed.time);
  else run.reading(parsed.time, parsed.metric, parsed.device);
  return { state: s, events: run.events };
}

/** Evaluates inputs in order from `state` (default: the initial state). */
export function replay(terms: Terms, inputs: Iterable<ContractInput>, state?: ContractState): EvaluationResult {
  let s = state;
  const events: ContractEvent[] = [];
  for (const input of inputs) {
    const r = evaluate(terms, s, input);
    s = r.state;
    for (const e of r.events) events.push(e);
  }
  return { state: s ?? initialState(terms), events };
}
