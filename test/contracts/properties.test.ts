import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeCbor } from '../../lib/encoding/codec';
import {
  evaluate,
  isInside,
  replay,
  type ContractEvent,
  type ContractInput,
  type ContractState,
  type Terms,
} from '../../lib/contracts';
import { T0, terms } from './helpers';

const EVENT_TYPES = new Set([
  'excursion.started',
  'excursion.ended',
  'violation',
  'compliance.restored',
  'data.gap',
  'data.resumed',
  'mkt.exceeded',
  'mkt.restored',
  'reading.rejected',
]);

const LIMIT = 8;

/** Random terms around a limit of 8 (between 2 and 8) with every alarm mode and option. */
const termsArb: fc.Arbitrary<Terms> = fc
  .record({
    op: fc.constantFrom('<', '<=', '>', '>=', 'between'),
    alarm: fc.oneof(
      fc.constant({ mode: 'instant' }),
      fc.record({ mode: fc.constant('consecutive'), seconds: fc.integer({ min: 1, max: 600 }) }),
      fc
        .record({ seconds: fc.integer({ min: 1, max: 600 }), extra: fc.integer({ min: 0, max: 3000 }) })
        .map(({ seconds, extra }) => ({ mode: 'cumulative', seconds, windowSeconds: seconds + extra })),
    ),
    hysteresis: fc.constantFrom(0, 0, 0.5, 1, 2.5),
    maxGapSeconds: fc.option(fc.integer({ min: 10, max: 900 }), { nil: undefined }),
    mkt: fc.option(fc.record({ limit: fc.integer({ min: 2, max: 12 }), windowSeconds: fc.integer({ min: 60, max: 7200 }) }), {
      nil: undefined,
    }),
    validFrom: fc.option(fc.integer({ min: -600, max: 600 }).map((s) => T0 + s * 1000), { nil: undefined }),
  })
  .map(({ op, alarm, hysteresis, maxGapSeconds, mkt, validFrom }) =>
    terms({
      rule: op === 'between' ? { op, low: 2, high: LIMIT } : { op, limit: LIMIT },
      alarm,
      hysteresis,
      ...(maxGapSeconds !== undefined ? { maxGapSeconds } : {}),
      ...(mkt ? { mkt } : {}),
      ...(validFrom !== undefined ? { validFrom, validUntil: validFrom + 36e5 } : {}),
    }),
  );

/** Values near the limits, exactly on them, and now and then garbage. */
const valueArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: -8, max: 8 }).map((d) => LIMIT + d / 4) },
  { weight: 2, arbitrary: fc.constantFrom(2, 8, 1.5, 2.5, 7.5, 8.5) },
  { weight: 2, arbitrary: fc.double({ min: -5, max: 15, noNaN: true }) },
  { weight: 1, arbitrary: fc.constantFrom(Number.NaN, Infinity, '7', null, undefined, { temperature: 7 }, { temperature: 'x' }, {}) },
);

/** Time steps in seconds: mostly forward, sometimes 0 (duplicate) or backwards (out of order). */
const stepArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 120 }) },
  { weight: 2, arbitrary: fc.integer({ min: 121, max: 2000 }) },
  { weight: 1, arbitrary: fc.constant(0) },
  { weight: 1, arbitrary: fc.integer({ min: -60, max: -1 }) },
  { weight: 1, arbitrary: fc.double({ min: 0.001, max: 5, noNaN: true }) },
);

const inputsArb: fc.Arbitrary<ContractInput[]> = fc
  .array(fc.record({ kind: fc.constantFrom('reading', 'reading', 'reading', 'tick'), step: stepArb, value: valueArb }), {
    maxLength: 60,
  })
  .map((steps) => {
    let t = T0 - 300_000;
    return steps.map(({ kind, step, value }) => {
      t += step * 1000;
      return kind === 'tick' ? { kind: 'tick', time: t } : { kind: 'reading', time: t, value };
    });
  });

const roundTrip = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

function finiteNumbers(v: unknown, path = 'event'): void {
  if (typeof v === 'number') assert.ok(Number.isFinite(v) && !Object.is(v, -0), `${path} = ${v}`);
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) finiteNumbers(x, `${path}.${k}`);
}

describe('contracts: evaluator properties', () => {
  it('one go equals a split with the state round-tripped through JSON (restart from the ledger)', () => {
    fc.assert(
      fc.property(termsArb, inputsArb, fc.nat(), (t, inputs, cut) => {
        const k = inputs.length === 0 ? 0 : cut % (inputs.length + 1);
        const whole = replay(t, inputs);
        const first = replay(t, inputs.slice(0, k));
        const restored = roundTrip(first.state);
        assert.deepStrictEqual(restored, first.state, 'the state survives JSON exactly');
        const rest = replay(roundTrip(t), inputs.slice(k), restored);
        assert.deepStrictEqual([...first.events, ...rest.events], whole.events);
        assert.deepStrictEqual(rest.state, whole.state);
        assert.deepStrictEqual(roundTrip(whole.state), whole.state);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws on arbitrary inputs; garbage gives reading.rejected; events are recordable', () => {
    const anyInput = fc.oneof(
      fc.anything(),
      fc.record({ kind: fc.constantFrom('reading', 'tick'), time: fc.anything(), value: fc.anything() }),
      fc.record({ kind: fc.constant('reading'), time: fc.double(), value: fc.anything(), device: fc.anything() }),
    );
    fc.assert(
      fc.property(termsArb, inputsArb, fc.array(anyInput, { maxLength: 10 }), (t, inputs, garbage) => {
        let state: ContractState | undefined = replay(t, inputs).state;
        for (const g of garbage) {
          const r = evaluate(t, state, g as ContractInput);
          const valid = !!g && typeof g === 'object' && ((g as { kind?: unknown }).kind === 'reading' || (g as { kind?: unknown }).kind === 'tick');
          if (!valid) {
            assert.equal(r.events.length, 1);
            assert.equal(r.events[0].type, 'reading.rejected');
            assert.deepStrictEqual({ ...r.state, counters: null }, { ...state, counters: null });
          }
          for (const e of r.events) {
            assert.ok(EVENT_TYPES.has(e.type));
            finiteNumbers(e);
            encodeCbor(e);
            assert.deepStrictEqual(roundTrip(e), e);
          }
          assert.deepStrictEqual(roundTrip(r.state), r.state);
          state = r.state;
        }
      }),
      { numRuns: 200 },
    );
  });

  it('invariants: counters match events, status matches the excursion, violations are well-timed', () => {
    fc.assert(
      fc.property(termsArb, inputsArb, (t, inputs) => {
        let state: ContractState | undefined;
        const all: ContractEvent[] = [];
        let open: number | null = null;
        let lastTime = -Infinity;
        for (const input of inputs) {
          const r = evaluate(t, state, input);
          state = r.state;
          for (const e of r.events) {
            all.push(e);
            const at = e.type === 'violation' ? e.detectedAt : e.time;
            if (at !== null && e.type !== 'reading.rejected') {
              assert.ok(at >= lastTime, 'event times do not go back');
              lastTime = at;
            }
            if (e.type === 'excursion.started') {
              assert.equal(open, null);
              open = e.time;
              assert.ok(!isInside(t.rule, e.value));
            }
            if (e.type === 'violation') {
              assert.ok(open !== null && e.excursionStart === open);
              assert.ok(e.time >= open && e.time <= e.detectedAt);
              if (t.alarm.mode === 'instant') assert.equal(e.time, open);
              if (t.alarm.mode === 'consecutive') assert.equal(e.time, open + t.alarm.seconds * 1000);
            }
            if (e.type === 'excursion.ended') {
              assert.ok(open !== null && e.start === open);
              assert.ok(isInside(t.rule, e.value));
              assert.equal(e.seconds, (e.time - open) / 1000);
              open = null;
            }
          }
          const s = r.state;
          assert.equal(s.status === 'violated', !!s.excursion?.violated);
          assert.equal(s.status === 'excursion', !!s.excursion && !s.excursion.violated);
          assert.equal(s.status === 'no-data', s.last === null);
          assert.ok(s.intervals.length <= 512);
          assert.ok(s.window.buckets.length <= 242);
        }
        const count = (type: string): number => all.filter((e) => e.type === type).length;
        if (state) {
          assert.equal(state.counters.violations, count('violation'));
          assert.equal(state.counters.excursions, count('excursion.started'));
          assert.equal(state.counters.gaps, count('data.gap'));
          assert.equal(state.counters.rejected, count('reading.rejected'));
          assert.equal(count('compliance.restored') <= count('violation'), true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('ticks between readings change when a violation is noticed, never when it happened', () => {
    const plainTerms = termsArb.map((t) => {
      const { maxGapSeconds: _g, mkt: _m, ...rest } = t;
      return rest;
    });
    const readingsArb = fc
      .array(fc.record({ step: fc.integer({ min: 1, max: 400 }), value: fc.integer({ min: -8, max: 8 }).map((d) => LIMIT + d / 4), ticks: fc.array(fc.double({ min: 0.01, max: 0.99, noNaN: true }), { maxLength: 3 }) }), { maxLength: 40 });
    fc.assert(
      fc.property(plainTerms, readingsArb, (t, steps) => {
        let time = T0;
        const readings: ContractInput[] = [];
        const withTicks: ContractInput[] = [];
        for (const { step, value, ticks } of steps) {
          const prev = time;
          time += step * 1000;
          for (const f of [...ticks].sort()) {
            const at = Math.floor(prev + f * (time - prev));
            if (at > prev && at < time) withTicks.push({ kind: 'tick', time: at });
          }
          readings.push({ kind: 'reading', time, value });
          withTicks.push({ kind: 'reading', time, value });
        }
        const strip = (events: ContractEvent[]): unknown[] =>
          events.map((e) => (e.type === 'violation' ? { ...e, detectedAt: 0 } : e));
        const a = replay(t, readings);
        const b = replay(t, withTicks);
        assert.deepStrictEqual(strip(b.events), strip(a.events));
        assert.equal(b.state.status, a.state.status);
      }),
      { numRuns: 300 },
    );
  });
});
