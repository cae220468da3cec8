import * as assert from 'node:assert/strict';
import {
  ContractRechecker,
  contractRef,
  cumulativeCrossing,
  evaluate,
  extractMetric,
  initialState,
  MAX_INTERVALS,
  metricValue,
  replay,
  type ContractEvent,
  type ContractInput,
  type Rule,
} from '../../lib/contracts';
import { assertCode, deepFreeze, Harness, min, only, reading, sec, T0, terms, tick, types, withoutCounters } from './helpers';

describe('contracts: evaluator', () => {
  describe('basics', () => {
    it('starts with no data, becomes compliant on a compliant reading, state is plain JSON', () => {
      const t = terms();
      const s0 = initialState(t);
      assert.equal(s0.status, 'no-data');
      const h = new Harness(t);
      assert.deepEqual(h.read(min(0), 4), []);
      assert.equal(h.s.status, 'compliant');
      assert.deepEqual(h.s.last, { time: min(0), value: 4 });
      assert.equal(h.s.counters.readings, 1);
      assert.deepEqual(JSON.parse(JSON.stringify(h.s)), h.s);
    });

    it('ticks before any reading keep no-data', () => {
      const h = new Harness(terms());
      assert.deepEqual(h.feed(tick(min(0)), tick(min(5))), []);
      assert.equal(h.s.status, 'no-data');
      assert.equal(h.s.clock, min(5));
    });

    it('is pure: the given state is never modified (deep-frozen input works)', () => {
      const t = terms({ alarm: { mode: 'cumulative', seconds: 60, windowSeconds: 600 }, mkt: { limit: 9, windowSeconds: 600 }, maxGapSeconds: 60 });
      const h = new Harness(t);
      h.feed(reading(min(0), 4), reading(min(1), 9), reading(min(2), 4), reading(min(3), 10));
      const frozen = deepFreeze(JSON.parse(JSON.stringify(h.s)));
      const copy = JSON.stringify(frozen);
      for (const input of [reading(min(4), 3), reading(min(4), 12), tick(min(30)), reading(min(2), 1), reading(min(5), 'x')])
        evaluate(t, frozen, input);
      assert.equal(JSON.stringify(frozen), copy);
    });

    it('replay equals evaluating one input at a time', () => {
      const t = terms({ alarm: { mode: 'consecutive', seconds: 120 } });
      const inputs: ContractInput[] = [reading(min(0), 4), reading(min(1), 9), tick(min(4)), reading(min(5), 3)];
      const h = new Harness(t);
      h.feed(...inputs);
      const r = replay(t, inputs);
      assert.deepEqual(r.events, h.all);
      assert.deepEqual(r.state, h.s);
      assert.deepEqual(replay(t, []).state, initialState(t));
      // continuing from a state
      const half = replay(t, inputs.slice(0, 2));
      assert.deepEqual(replay(t, inputs.slice(2), half.state).state, h.s);
    });

    it('refuses invalid terms and a state of other terms', () => {
      assertCode(() => evaluate({ id: 'x' } as never, undefined, tick(0)), 'ERR_INVALID_TERMS');
      const s = replay(terms(), [reading(min(0), 4)]).state;
      assertCode(() => evaluate(terms({ version: 2 }), s, tick(min(1))), 'ERR_INVALID_ARGUMENT', /not to these terms/);
      assertCode(() => evaluate(terms({ title: 'other' }), s, tick(min(1))), 'ERR_INVALID_ARGUMENT');
      assertCode(() => evaluate(terms(), { format: 2 } as never, tick(min(1))), 'ERR_INVALID_ARGUMENT');
      assertCode(() => evaluate(terms(), null as never, tick(min(1))), 'ERR_INVALID_ARGUMENT');
    });

    it('accepts raw JSON terms too (validated and normalised)', () => {
      const raw = JSON.parse(JSON.stringify({ ...terms(), validFrom: '2026-11-25T09:00:00Z' }));
      const r = evaluate(raw, undefined, reading(min(0), 9));
      assert.equal(r.state.status, 'violated');
      assert.equal(r.state.origin, min(-60));
    });
  });

  describe('boundaries: the limit value itself triggers', () => {
    const cases: [Rule, number, boolean][] = [
      [{ op: '<', limit: 8 }, 8, false],
      [{ op: '<', limit: 8 }, 7.999, true],
      [{ op: '<=', limit: 8 }, 8, true],
      [{ op: '<=', limit: 8 }, 8.001, false],
      [{ op: '>', limit: -20 }, -20, false],
      [{ op: '>', limit: -20 }, -19.999, true],
      [{ op: '>=', limit: -20 }, -20, true],
      [{ op: '>=', limit: -20 }, -20.001, false],
      [{ op: 'between', low: 2, high: 8 }, 2, false],
      [{ op: 'between', low: 2, high: 8 }, 8, false],
      [{ op: 'between', low: 2, high: 8 }, 2.001, true],
      [{ op: 'between', low: 2, high: 8 }, 7.999, true],
      [{ op: 'between', low: 2, high: 8 }, 1, false],
      [{ op: 'between', low: 2, high: 8 }, 9, false],
    ];
    for (const [rule, value, compliant] of cases)
      it(`${JSON.stringify(rule)} value ${value} is ${compliant ? 'compliant' : 'an excursion'}`, () => {
        const h = new Harness(terms({ rule }));
        const ev = h.read(min(0), value);
        assert.equal(h.s.status, compliant ? 'compliant' : 'violated');
        assert.deepEqual(types(ev), compliant ? [] : ['excursion.started', 'violation']);
        if (!compliant) {
          const started = only(ev, 'excursion.started');
          const limit = rule.op === 'between' ? (value <= rule.low ? rule.low : rule.high) : rule.limit;
          assert.equal(started.limit, limit);
          assert.ok(Math.abs(started.deviation - (value - limit)) < 1e-9, `deviation ${started.deviation}`);
          assert.ok(String(started.deviation).length <= 8, `no float noise: ${started.deviation}`);
        }
      });
  });

  describe('alarm: instant', () => {
    it('violates at the first excursion reading and restores on recovery, once per excursion', () => {
      const h = new Harness(terms());
      h.read(min(0), 4);
      let ev = h.read(min(1), 9.5);
      assert.deepEqual(types(ev), ['excursion.started', 'violation']);
      const v = only(ev, 'violation');
      assert.deepEqual(v, {
        type: 'violation',
        time: min(1),
        detectedAt: min(1),
        mode: 'instant',
        seconds: 0,
        excursionStart: min(1),
        limit: 8,
        peak: 1.5,
        peakValue: 9.5,
      });
      assert.equal(h.s.status, 'violated');
      assert.deepEqual(h.read(min(2), 11), [], 'no second violation in the same excursion');
      ev = h.read(min(3), 5);
      assert.deepEqual(types(ev), ['excursion.ended', 'compliance.restored']);
      assert.deepEqual(only(ev, 'excursion.ended'), {
        type: 'excursion.ended',
        time: min(3),
        start: min(1),
        seconds: 120,
        peak: 3,
        peakValue: 11,
        value: 5,
      });
      assert.equal(only(ev, 'compliance.restored').excursionSeconds, 120);
      assert.equal(h.s.status, 'compliant');
      assert.deepEqual(types(h.read(min(4), 8)), ['excursion.started', 'violation']);
      assert.equal(h.s.counters.violations, 2);
      assert.equal(h.s.counters.excursions, 2);
    });

    it('the peak is signed: below a lower limit it is negative', () => {
      const h = new Harness(terms({ rule: { op: '>', limit: -20 } }));
      h.feed(reading(min(0), -21), reading(min(1), -25.5), reading(min(2), -22));
      const ended = only(h.read(min(3), -19), 'excursion.ended');
      assert.equal(ended.peak, -5.5);
      assert.equal(ended.peakValue, -25.5);
    });

    it('between: the peak is the largest deviation on either side', () => {
      const h = new Harness(terms({ rule: { op: 'between', low: 2, high: 8 } }));
      h.feed(reading(min(0), 9), reading(min(1), -1), reading(min(2), 10));
      const ended = only(h.read(min(3), 5), 'excursion.ended');
      assert.equal(ended.peak, -3);
      assert.equal(ended.peakValue, -1);
    });
  });

  describe('alarm: consecutive', () => {
    const t = terms({ alarm: { mode: 'consecutive', seconds: 300 } });

    it('a shorter excursion is no violation', () => {
      const h = new Harness(t);
      h.feed(reading(min(0), 4), reading(min(1), 9));
      assert.equal(h.s.status, 'excursion');
      const ev = h.read(min(5), 7);
      assert.deepEqual(types(ev), ['excursion.ended']);
      assert.equal(h.s.status, 'compliant');
      assert.equal(h.s.counters.violations, 0);
    });

    it('an excursion lasting exactly the threshold violates, at the exact instant', () => {
      const h = new Harness(t);
      h.feed(reading(min(0), 4), reading(min(1), 9));
      const ev = h.read(min(6), 7);
      assert.deepEqual(types(ev), ['violation', 'excursion.ended', 'compliance.restored']);
      const v = only(ev, 'violation');
      assert.equal(v.time, min(6));
      assert.equal(v.seconds, 300);
    });

    it('sparse readings: the violation is timed where the threshold was crossed', () => {
      const h = new Harness(t);
      h.feed(reading(min(0), 9.1), reading(min(2), 10.2));
      const ev = h.read(min(20), 9);
      assert.deepEqual(types(ev), ['violation']);
      const v = only(ev, 'violation');
      assert.equal(v.time, min(5));
      assert.equal(v.detectedAt, min(20));
      assert.ok(Math.abs(v.peak - 2.2) < 1e-9);
      assert.equal(h.s.status, 'violated');
    });

    it('clock ticks cross the threshold while no reading arrives', () => {
      const h = new Harness(t);
      h.feed(reading(min(0), 9));
      assert.deepEqual(h.feed(tick(min(4)), tick(sec(299.999))), []);
      const ev = h.feed(tick(min(7)));
      assert.deepEqual(types(ev), ['violation']);
      assert.equal(only(ev, 'violation').time, min(5));
      assert.equal(only(ev, 'violation').detectedAt, min(7));
      assert.deepEqual(h.feed(tick(min(8))), []);
      assert.equal(h.s.status, 'violated');
    });

    it('stays violated until the value is back inside', () => {
      const h = new Harness(t);
      h.feed(reading(min(0), 9), tick(min(6)), reading(min(7), 8));
      assert.equal(h.s.status, 'violated');
      const ev = h.read(min(8), 7.9);
      assert.deepEqual(types(ev), ['excursion.ended', 'compliance.restored']);
      assert.equal(only(ev, 'excursion.ended').seconds, 480);
    });
  });

  describe('alarm: cumulative (sliding window)', () => {
    // 5 min of excursion within any 60 min is a violation
    const t = terms({ alarm: { mode: 'cumulative', seconds: 300, windowSeconds: 3600 } });

    it('separate excursions add up; the violation is at the exact instant the sum is reached', () => {
      const h = new Harness(t);
      h.feed(reading(min(0), 9), reading(min(2), 4)); // 2 min
      h.feed(reading(min(10), 9), reading(min(12), 4)); // 2 min, total 4
      assert.equal(h.s.counters.violations, 0);
      assert.deepEqual(h.s.intervals, [
        [min(0), min(2)],
        [min(10), min(12)],
      ]);
      h.read(min(20), 9);
      const ev = h.read(min(25), 9.5);
      const v = only(ev, 'violation');
      assert.equal(v.time, min(21));
      assert.equal(v.mode, 'cumulative');
      assert.equal(v.seconds, 300);
      assert.equal(v.windowSeconds, 3600);
      assert.equal(v.excursionStart, min(20));
      assert.equal(h.s.status, 'violated');
    });

    it('old excursions leave the window and no longer count', () => {
      const h = new Harness(t);
      h.feed(reading(min(0), 9), reading(min(4), 4)); // 4 min
      // 62 min later the first excursion has left the 60 min window
      h.feed(reading(min(64), 9));
      assert.deepEqual(h.s.intervals, [], 'pruned');
      h.feed(reading(min(68), 4));
      assert.equal(h.s.counters.violations, 0);
      assert.equal(h.s.status, 'compliant');
    });

    it('partly inside: the trailing edge of the window eats the old excursion while the new one grows', () => {
      const h = new Harness(t);
      h.feed(reading(min(0), 9), reading(min(4), 4)); // [0, 4] min
      h.feed(reading(min(58), 9)); // open since 58 min
      // at 59 min the window (-1, 59] still holds all 4 old minutes plus 1 new one: 5 min
      const ev = h.feed(tick(min(70)));
      assert.equal(only(ev, 'violation').time, min(59));
      // reference: without the old excursion the threshold is reached at 63 min
      const fresh = new Harness(t);
      fresh.feed(reading(min(58), 9));
      assert.equal(only(fresh.feed(tick(min(70))), 'violation').time, min(63));
    });

    it('the crossing can land where the old interval slides out (flat part of the sum)', () => {
      // old [0, 10] min, new excursion from 62 min: at 62 the old part inside is 8 min;
      // from 62 to 70 the old part shrinks as fast as the new grows (sum flat at 8 min);
      // a 9 min threshold is reached only once the old one has gone, at 71 min.
      const tc = terms({ alarm: { mode: 'cumulative', seconds: 540, windowSeconds: 3600 } });
      const h = new Harness(tc);
      h.feed(reading(min(0), 9), reading(min(10), 4), reading(min(62), 9));
      const ev = h.feed(tick(min(80)));
      assert.equal(only(ev, 'violation').time, min(71));
    });

    it('a new excursion while the window still holds the budget violates at once', () => {
      const h = new Harness(t);
      h.feed(reading(min(0), 9), tick(min(6)), reading(min(7), 4));
      assert.equal(h.s.counters.violations, 1);
      const ev = h.read(min(8), 9);
      assert.deepEqual(types(ev), ['excursion.started', 'violation']);
      assert.equal(only(ev, 'violation').time, min(8));
    });

    it('ticks cross the cumulative threshold', () => {
      const h = new Harness(t);
      h.feed(reading(min(0), 9), reading(min(3), 4), reading(min(10), 9));
      assert.deepEqual(h.feed(tick(min(11))), []);
      const ev = h.feed(tick(min(13)));
      assert.equal(only(ev, 'violation').time, min(12));
      assert.equal(only(ev, 'violation').detectedAt, min(13));
    });

    it('keeps at most MAX_INTERVALS intervals, merging the closest (never under-counting)', () => {
      const tc = terms({ alarm: { mode: 'cumulative', seconds: 86400, windowSeconds: 86400 } });
      const inputs: ContractInput[] = [];
      for (let i = 0; i < MAX_INTERVALS + 20; i++) inputs.push(reading(sec(i * 10), 9), reading(sec(i * 10 + 1), 4));
      const { state } = replay(tc, inputs);
      assert.ok(state.intervals.length <= MAX_INTERVALS);
      const counted = state.intervals.reduce((a, [s, e]) => a + (e - s), 0);
      assert.ok(counted >= (MAX_INTERVALS + 20) * 1000);
      for (let i = 1; i < state.intervals.length; i++) assert.ok(state.intervals[i][0] >= state.intervals[i - 1][1]);
    });

    it('cumulativeCrossing agrees with a brute-force scan', () => {
      let seed = 7;
      const rnd = (n: number): number => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed % n;
      };
      for (let trial = 0; trial < 300; trial++) {
        const w = 20 + rnd(40);
        const intervals: [number, number][] = [];
        let at = rnd(10);
        while (intervals.length < rnd(5)) {
          const len = 1 + rnd(8);
          intervals.push([at, at + len]);
          at += len + 1 + rnd(10);
        }
        const open = at + rnd(5);
        const threshold = 1 + rnd(w);
        const from = open + rnd(10);
        const to = from + rnd(80);
        const sumAt = (c: number): number =>
          Math.min(c - open, w) + intervals.reduce((a, [s, e]) => a + Math.max(0, Math.min(e, c) - Math.max(s, c - w)), 0);
        let expected: number | undefined;
        for (let c = from; c <= to; c++)
          if (sumAt(c) >= threshold) {
            expected = c;
            break;
          }
        assert.equal(cumulativeCrossing(open, intervals, w, threshold, from, to), expected, JSON.stringify({ w, intervals, open, threshold, from, to }));
      }
    });
  });

  describe('hysteresis', () => {
    it('<: recovery needs the value at least `hysteresis` below the limit', () => {
      const h = new Harness(terms({ alarm: { mode: 'consecutive', seconds: 600 }, hysteresis: 0.5 }));
      h.feed(reading(min(0), 9));
      assert.deepEqual(h.read(min(1), 7.9), [], 'inside but within the band: still an excursion');
      assert.equal(h.s.status, 'excursion');
      assert.deepEqual(h.read(min(2), 7.51), []);
      const ev = h.read(min(3), 7.5);
      assert.deepEqual(types(ev), ['excursion.ended']);
      assert.equal(only(ev, 'excursion.ended').seconds, 180);
    });

    it('the band counts as excursion time (consecutive violation while hovering in it)', () => {
      const h = new Harness(terms({ alarm: { mode: 'consecutive', seconds: 300 }, hysteresis: 1 }));
      h.feed(reading(min(0), 8.2), reading(min(1), 7.5), reading(min(2), 7.2));
      const ev = h.read(min(6), 7.5);
      assert.equal(only(ev, 'violation').time, min(5));
      assert.equal(h.s.status, 'violated');
      assert.deepEqual(types(h.read(min(7), 7)), ['excursion.ended', 'compliance.restored']);
    });

    it('>= and between honour the margin on their side', () => {
      const low = new Harness(terms({ rule: { op: '>=', limit: 2 }, hysteresis: 0.5 }));
      low.feed(reading(min(0), 1.9), reading(min(1), 2.4));
      assert.equal(low.s.status, 'violated');
      assert.deepEqual(types(low.read(min(2), 2.5)), ['excursion.ended', 'compliance.restored']);

      const band = new Harness(terms({ rule: { op: 'between', low: 2, high: 8 }, hysteresis: 1 }));
      band.feed(reading(min(0), 8.5), reading(min(1), 7.5), reading(min(2), 2.5));
      assert.equal(band.s.status, 'violated', 'within 1 of either limit is not recovered');
      assert.deepEqual(types(band.read(min(3), 3)), ['excursion.ended', 'compliance.restored']);
    });

    it('a compliant value inside the band does not start an excursion', () => {
      const h = new Harness(terms({ hysteresis: 2 }));
      assert.deepEqual(h.read(min(0), 7.9), []);
      assert.equal(h.s.status, 'compliant');
    });
  });

  describe('gaps (maxGapSeconds)', () => {
    const t = terms({ maxGapSeconds: 600 });

    it('reported by the next reading when no tick saw it', () => {
      const h = new Harness(t);
      h.feed(reading(min(0), 4), reading(min(10), 4));
      assert.equal(h.s.counters.gaps, 0, 'exactly maxGapSeconds is no gap');
      const ev = h.read(min(25), 5);
      assert.deepEqual(ev, [{ type: 'data.gap', time: min(25), since: min(10), seconds: 900, maxGapSeconds: 600, ongoing: false }]);
      assert.equal(h.s.counters.gaps, 1);
      assert.equal(h.s.status, 'compliant');
    });

    it('reported once by the first tick that sees it; the next reading resumes', () => {
      const h = new Harness(t);
      h.feed(reading(min(0), 4));
      assert.deepEqual(h.feed(tick(min(5)), tick(min(10))), []);
      const ev = h.feed(tick(min(10.5)));
      assert.deepEqual(ev, [{ type: 'data.gap', time: min(10.5), since: min(0), seconds: 630, maxGapSeconds: 600, ongoing: true }]);
      assert.deepEqual(h.s.gap, { since: min(0), reportedAt: min(10.5) });
      assert.deepEqual(h.feed(tick(min(20)), tick(min(30))), [], 'once per silence');
      assert.deepEqual(h.read(min(31), 4), [{ type: 'data.resumed', time: min(31), since: min(0), seconds: 1860 }]);
      assert.equal(h.s.gap, null);
      assert.equal(h.s.counters.gaps, 1);
      // a later silence is a new gap
      assert.equal(h.feed(tick(min(45)))[0]?.type, 'data.gap');
      assert.equal(h.s.counters.gaps, 2);
    });

    it('a sensor that never reports: measured from validFrom, or from the first tick', () => {
      const from = terms({ maxGapSeconds: 600, validFrom: min(0) });
      const h = new Harness(from);
      const ev = h.feed(tick(min(11)));
      assert.equal(only(ev, 'data.gap').since, min(0));
      const first = new Harness(t);
      assert.deepEqual(first.feed(tick(min(100)), tick(min(105))), []);
      assert.equal(only(first.feed(tick(min(111))), 'data.gap').since, min(100));
      assert.equal(first.s.status, 'no-data');
      // and a first reading long after validFrom is a gap too
      const late = new Harness(from);
      assert.equal(only(late.read(min(30), 4), 'data.gap').seconds, 1800);
    });

    it('the held value keeps running through a gap (a silent excursion keeps counting)', () => {
      const h = new Harness(terms({ maxGapSeconds: 600, alarm: { mode: 'consecutive', seconds: 1800 } }));
      h.feed(reading(min(0), 9));
      const ev = h.feed(tick(min(40)));
      assert.deepEqual(types(ev), ['violation', 'data.gap']);
      assert.equal(only(ev, 'violation').time, min(30));
    });
  });

  describe('rejected readings never change compliance and are never silent', () => {
    const t = terms({ alarm: { mode: 'consecutive', seconds: 300 }, maxGapSeconds: 600, subjects: ['fridge-1'], validFrom: min(-60), validUntil: min(60), mkt: { limit: 25, windowSeconds: 3600 } });
    const garbage: [string, unknown, string][] = [
      ['NaN', reading(min(5), Number.NaN), 'not finite'],
      ['Infinity', reading(min(5), Infinity), 'not finite'],
      ['a numeric string', reading(min(5), '7.5'), 'non-numeric'],
      ['a boolean', reading(min(5), true), 'non-numeric'],
      ['null', reading(min(5), null), 'non-numeric'],
      ['a missing value', { kind: 'reading', time: min(5) }, 'missing metric'],
      ['a payload without the metric', reading(min(5), { humidity: 40 }), 'missing metric'],
      ['a payload with a string metric', reading(min(5), { temperature: 'warm' }), 'non-numeric'],
      ['a huge value', reading(min(5), 1e300), 'out of range'],
      ['an out-of-order reading', reading(min(1), 4), 'out of order'],
      ['a duplicate', reading(min(2), 4), 'duplicate'],
      ['a reading before validFrom', reading(min(-61), 4), 'outside validity'],
      ['a reading at validUntil', reading(min(60), 4), 'outside validity'],
      ['a foreign device', reading(min(5), 4, 'fridge-2'), 'not a subject'],
      ['a non-string device', { kind: 'reading', time: min(5), value: 4, device: 7 }, 'malformed input'],
      ['no time', { kind: 'reading', value: 4 }, 'malformed input'],
      ['a NaN time', reading(Number.NaN, 4), 'malformed input'],
      ['a string time', { kind: 'reading', time: '2026-11-25T10:05:00Z', value: 4 }, 'malformed input'],
      ['an unknown kind', { kind: 'reset', time: min(5) }, 'malformed input'],
      ['null input', null, 'malformed input'],
      ['a number input', 42, 'malformed input'],
      ['a bad tick', { kind: 'tick', time: 'now' }, 'malformed input'],
      ['a throwing getter', { kind: 'reading', time: min(5), get value() { throw new Error('boom'); } }, 'malformed input'],
    ];
    for (const [name, input, reason] of garbage)
      it(`${name}: reading.rejected "${reason}"`, () => {
        const h = new Harness(t);
        h.feed(reading(min(0), 9, 'fridge-1'), reading(min(2), 9.5, 'fridge-1'));
        const before = h.s;
        const ev = h.feed(input as ContractInput);
        assert.equal(ev.length, 1, JSON.stringify(ev));
        const e = ev[0] as Extract<ContractEvent, { type: 'reading.rejected' }>;
        assert.equal(e.type, 'reading.rejected');
        assert.equal(e.reason, reason, e.detail);
        assert.equal(typeof e.detail, 'string');
        assert.ok(e.time === null || Number.isFinite(e.time));
        assert.deepEqual(withoutCounters(h.s), withoutCounters(before));
        assert.equal(h.s.counters.rejected, before.counters.rejected + 1);
        assert.equal(h.s.status, 'excursion');
      });

    it('a reading older than the last tick is out of order; one at the tick time is accepted', () => {
      const h = new Harness(terms());
      h.feed(reading(min(0), 4), tick(min(5)));
      assert.equal((h.read(min(4), 4)[0] as { reason: string }).reason, 'out of order');
      assert.deepEqual(h.read(min(5), 4), []);
      assert.equal(h.s.counters.readings, 2);
    });

    it('readings without a device are accepted for listed subjects (the host attributes them)', () => {
      const h = new Harness(terms({ subjects: ['fridge-1'] }));
      assert.deepEqual(h.read(min(0), 4), []);
      assert.deepEqual(h.feed(reading(min(1), 4, 'fridge-1')), []);
    });
  });

  describe('validity window', () => {
    const t = terms({ validFrom: min(0), validUntil: min(60), alarm: { mode: 'consecutive', seconds: 600 } });
    it('ticks before validFrom do nothing; ticks after validUntil stop there', () => {
      const h = new Harness(t);
      assert.deepEqual(h.feed(tick(min(-5))), []);
      assert.equal(h.s.clock, null);
      h.feed(reading(min(0), 4), reading(min(55), 9));
      assert.deepEqual(h.feed(tick(min(120))), [], 'only 5 min of excursion before the end');
      assert.equal(h.s.clock, min(60));
      assert.equal(h.s.status, 'excursion');
      assert.deepEqual(h.feed(tick(min(200))), []);
      assert.equal((h.read(min(61), 4)[0] as { reason: string }).reason, 'outside validity');
    });
  });

  describe('metric extraction', () => {
    it('follows dot paths through objects and arrays, own properties only', () => {
      const payload = { temperature: 4, sensors: { t1: -20.5, list: [1, { v: 2 }] }, s: '5' };
      assert.equal(metricValue(payload, 'temperature'), 4);
      assert.equal(metricValue(payload, 'sensors.t1'), -20.5);
      assert.equal(metricValue(payload, 'sensors.list.1.v'), 2);
      assert.equal(metricValue(payload, 'sensors.list.2'), undefined);
      assert.equal(metricValue(payload, 'sensors.list.01'), undefined);
      assert.equal(metricValue(payload, 'toString'), undefined);
      assert.equal(metricValue(payload, 'sensors.t1.x'), undefined);
      assert.deepEqual(extractMetric(payload, 's'), { ok: false, reason: 'non-numeric', detail: '"s" is the string "5"' });
      assert.equal(extractMetric({ a: { b: Number.NaN } }, 'a.b').ok, false);
      assert.ok(Object.is(metricValue({ t: -0 }, 't'), 0), '-0 becomes 0');
    });

    it('the evaluator reads the metric from a payload object', () => {
      const h = new Harness(terms({ metric: 'sensors.t1' }));
      assert.deepEqual(types(h.read(min(0), { sensors: { t1: 9 } })), ['excursion.started', 'violation']);
      assert.deepEqual(h.s.last, { time: min(0), value: 9 });
    });
  });

  describe('ticks', () => {
    it('stale ticks are no-ops', () => {
      const h = new Harness(terms({ alarm: { mode: 'consecutive', seconds: 60 } }));
      h.feed(reading(min(0), 4), tick(min(5)));
      const s = h.s;
      assert.deepEqual(h.feed(tick(min(5)), tick(min(3))), []);
      assert.deepEqual(h.s, s);
    });

    it('window statistics advance with ticks (time-weighted)', () => {
      const h = new Harness(terms({ rule: { op: '<', limit: 100 } }));
      h.feed(reading(T0, 10), reading(min(30), 40), tick(min(40)));
      assert.equal(h.s.window.coveredSeconds, 2400);
      assert.equal(h.s.window.mean, (10 * 30 + 40 * 10) / 40);
      assert.equal(h.s.window.min, 10);
      assert.equal(h.s.window.max, 40);
      assert.equal(h.s.window.mkt, null, 'no MKT without mkt terms');
    });
  });
});

describe('contracts: no float noise in deviations', () => {
  const cold = () => terms({ rule: { op: '<', limit: -20 }, alarm: { mode: 'consecutive', seconds: 30 } });

  it('deviation and peak carry the precision of the reading and the limit: -16.2 against -20 is 3.8', () => {
    assert.notEqual(-16.2 - -20, 3.8, 'binary subtraction alone gives 3.8000000000000007');
    const h = new Harness(cold());
    const ev = [...h.read(sec(0), -19.9), ...h.read(sec(10), -16.2), ...h.read(sec(40), -17.25), ...h.read(sec(60), -21)];
    assert.equal(only(ev, 'excursion.started').deviation, 0.1);
    assert.equal(only(ev, 'violation').peak, 3.8);
    const ended = only(ev, 'excursion.ended');
    assert.equal(ended.peak, 3.8);
    assert.equal(ended.peakValue, -16.2);
  });

  it('the audit re-runs a ledger recorded before the rounding (peak 3.8000000000000007) without a finding, and still finds a changed peak', () => {
    const t = cold();
    const ref = contractRef(t);
    const inputs = [reading(sec(0), -16.2), reading(sec(40), -21)];
    const events = replay(t, inputs.slice(0, 1)).events.concat(replay(t, inputs.slice(1), replay(t, inputs.slice(0, 1)).state).events);
    const recheck = (peak: number) => {
      const r = new ContractRechecker();
      let i = 0;
      r.apply('contract.register', { ...ref, terms: t }, i++);
      for (const input of inputs) {
        r.apply('contract.reading', { ...ref, input }, i++);
        for (const e of events.filter((x) => x.time === input.time || (x.type === 'violation' && input === inputs[1])))
          r.apply('contract.event', { ...ref, input, event: 'peak' in e ? { ...e, peak } : e }, i++);
      }
      return r.finish(i);
    };
    assert.ok(events.some((e) => 'peak' in e), JSON.stringify(events));
    assert.deepEqual(recheck(3.8), []);
    assert.deepEqual(recheck(-16.2 - -20), [], 'the unrounded float of earlier versions');
    assert.equal(recheck(3.9).length > 0, true, 'a different peak is a finding');
  });
});
