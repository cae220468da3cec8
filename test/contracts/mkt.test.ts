import * as assert from 'node:assert/strict';
import { arrheniusWeight, meanKineticTemperature, mktFromSums } from '../../lib/contracts';
import { assertCode, Harness, min, reading, terms, tick, types } from './helpers';

const close = (a: number, b: number, eps: number, what = ''): void =>
  assert.ok(Math.abs(a - b) <= eps, `${what} ${a} != ${b} (±${eps})`);

describe('contracts: Mean Kinetic Temperature (USP <1160>)', () => {
  it('worked check: 20 °C for 2 h, 2 °C for 4 h, 25 °C for 1 h -> 15.68 °C', () => {
    const h = 3600;
    const mkt = meanKineticTemperature([
      { celsius: 20, seconds: 2 * h },
      { celsius: 2, seconds: 4 * h },
      { celsius: 25, seconds: 1 * h },
    ]);
    assert.equal(mkt.toFixed(2), '15.68');
    // the durations are weights: any common unit gives the same MKT
    close(meanKineticTemperature([{ celsius: 20, seconds: 2 }, { celsius: 2, seconds: 4 }, { celsius: 25, seconds: 1 }]), mkt, 1e-9);
  });

  it('hand-checked values', () => {
    // constant temperature: MKT is that temperature, for any activation energy
    for (const c of [-80, -20, 0, 5, 25, 40]) {
      close(meanKineticTemperature([{ celsius: c, seconds: 10 }]), c, 1e-9, `constant ${c}`);
      close(meanKineticTemperature([{ celsius: c, seconds: 1 }, { celsius: c, seconds: 99 }], 50), c, 1e-9, `constant ${c}`);
    }
    // 0 °C and 10 °C, equal time. ΔH/R = 83144 / 8.3144598 = 9999.928 K;
    // e^(-9999.928/273.15) = 1.2607e-16, e^(-9999.928/283.15) = 4.5935e-16; mean 2.9271e-16;
    // -ln(mean) = 35.7673; Tk = 9999.928 / 35.7673 = 279.583 K = 6.433 °C
    close(meanKineticTemperature([{ celsius: 0, seconds: 1 }, { celsius: 10, seconds: 1 }]), 6.4327, 1e-4);
    // MKT lies above the arithmetic mean (5 °C) and below the maximum
    close(meanKineticTemperature([{ celsius: -20, seconds: 3 }, { celsius: -10, seconds: 1 }]), -15.9181, 1e-4);
    close(meanKineticTemperature([{ celsius: 2, seconds: 3600 }, { celsius: 8, seconds: 1800 }]), 4.5194, 1e-4);
    // another activation energy (100 kJ/mol) weights the warm half more
    close(meanKineticTemperature([{ celsius: 25, seconds: 1 }, { celsius: 30, seconds: 1 }], 100), 27.8881, 1e-4);
    // zero-duration samples do not count
    close(meanKineticTemperature([{ celsius: 50, seconds: 0 }, { celsius: 4, seconds: 5 }]), 4, 1e-9);
  });

  it('stays finite for cold storage where the Arrhenius factors underflow a double', () => {
    // e^(-10000/77) is about 1e-56; -196 °C (liquid nitrogen) and -150 °C
    const m = meanKineticTemperature([{ celsius: -196, seconds: 1 }, { celsius: -150, seconds: 1 }]);
    assert.ok(m > -160 && m < -150, String(m));
    close(meanKineticTemperature([{ celsius: -270, seconds: 5 }]), -270, 1e-6);
  });

  it('refuses bad samples with ERR_INVALID_ARGUMENT', () => {
    assertCode(() => meanKineticTemperature([]), 'ERR_INVALID_ARGUMENT');
    assertCode(() => meanKineticTemperature([{ celsius: 5, seconds: 0 }]), 'ERR_INVALID_ARGUMENT');
    assertCode(() => meanKineticTemperature([{ celsius: -273.15, seconds: 1 }]), 'ERR_INVALID_ARGUMENT');
    assertCode(() => meanKineticTemperature([{ celsius: Number.NaN, seconds: 1 }]), 'ERR_INVALID_ARGUMENT');
    assertCode(() => meanKineticTemperature([{ celsius: 5, seconds: -1 }]), 'ERR_INVALID_ARGUMENT');
    assertCode(() => meanKineticTemperature([{ celsius: 5, seconds: 1 }], 0), 'ERR_INVALID_ARGUMENT');
  });

  it('the running-sum form used by the evaluator agrees with the direct formula', () => {
    const samples = [
      { celsius: 20, seconds: 7200 },
      { celsius: 2, seconds: 14400 },
      { celsius: 25, seconds: 3600 },
    ];
    for (const ref of [-20, 8, 25, 60]) {
      const w = samples.reduce((a, s) => a + s.seconds * arrheniusWeight(s.celsius, ref, 83.144), 0);
      close(mktFromSums(w, 25200, ref, 83.144) as number, meanKineticTemperature(samples), 1e-9, `ref ${ref}`);
    }
    assert.equal(mktFromSums(0, 0, 25, 83.144), undefined);
  });

  describe('in the evaluator', () => {
    const mktTerms = (limit: number, windowSeconds = 8 * 3600) =>
      terms({ rule: { op: '<', limit: 40 }, mkt: { limit, windowSeconds } });

    it('window MKT reproduces the worked check from readings (step functions)', () => {
      const h = new Harness(mktTerms(30, 24 * 3600));
      h.feed(reading(min(0), 20), reading(min(120), 2), reading(min(360), 25), tick(min(420)));
      assert.equal(h.s.window.mkt?.toFixed(2), '15.68');
      assert.equal(h.s.window.coveredSeconds, 7 * 3600);
      assert.equal(h.s.window.min, 2);
      assert.equal(h.s.window.max, 25);
      close(h.s.window.mean as number, (20 * 2 + 2 * 4 + 25) / 7, 1e-12, 'time-weighted mean');
    });

    it('mkt.exceeded when the window MKT reaches the limit, mkt.restored when it falls back', () => {
      const h = new Harness(mktTerms(15.6, 24 * 3600));
      h.feed(reading(min(0), 20), reading(min(120), 2), reading(min(360), 25));
      // at 6 h: MKT of 2 h at 20 °C and 4 h at 2 °C is below 15.6
      assert.equal(h.s.mktExceeded, false);
      const ev = h.feed(tick(min(420)));
      const e = ev.find((x) => x.type === 'mkt.exceeded');
      assert.ok(e && e.type === 'mkt.exceeded', JSON.stringify(ev));
      assert.equal(e.time, min(420));
      assert.equal(e.limit, 15.6);
      assert.equal(e.mkt?.toFixed(2), '15.68');
      assert.equal(h.s.mktExceeded, true);
      assert.equal(h.feed(tick(min(430))).length, 0, 'no repeat while still exceeded');
      const back = h.feed(reading(min(440), 0), tick(min(600)));
      assert.deepEqual(back.map((x) => x.type), ['mkt.restored']);
      assert.equal(h.s.mktExceeded, false);
    });

    it('old readings leave the MKT window', () => {
      // 1 h window (15 s buckets): one hour of 40 °C, then 4 °C for over an hour
      const h = new Harness(mktTerms(30, 3600));
      h.feed(reading(min(0), 39), tick(min(60)));
      assert.equal(h.s.mktExceeded, true);
      h.feed(reading(min(60), 4), tick(min(120)));
      close(h.s.window.mkt as number, 4, 0.5, 'mostly 4 °C left after 1 h');
      h.feed(tick(min(121)));
      close(h.s.window.mkt as number, 4, 1e-9, 'only 4 °C left');
      assert.equal(h.s.window.max, 4);
      assert.equal(h.s.mktExceeded, false);
      assert.ok(h.s.window.buckets.length <= 242);
    });

    it('a hot enough reading cannot overflow the running sums: terms at the edge of what validation takes stay exceeded', () => {
      // ΔH 1000 kJ/mol and a -101 °C limit: ΔH/(R·T) at the limit is 698.6, just within the 700
      // validation takes, so the Arrhenius factor of a hot reading against the limit is about 1e303.
      // Ten days of it (the terms allow a window of years) overflowed Σ seconds·factor to Infinity,
      // which read as an MKT of -273.15 °C: the window's MKT fell back under the limit.
      const t = terms({ rule: { op: '<', limit: 40 }, mkt: { limit: -101, windowSeconds: 30 * 86400, activationEnergyKJ: 1000 } });
      const h = new Harness(t);
      h.feed(reading(min(0), -110), reading(min(1), 1e6));
      for (let hour = 1; hour <= 240; hour++) h.feed(tick(min(hour * 60)));
      assert.deepEqual(types(h.all).filter((x) => x.startsWith('mkt.')), ['mkt.exceeded'], 'exceeded once, never restored');
      assert.equal(h.s.mktExceeded, true);
      assert.ok((h.s.window.mkt as number) > 1000, String(h.s.window.mkt));
      for (const b of h.s.window.buckets) assert.ok(Number.isFinite(b.w), `bucket ${b.k}: w ${b.w}`);
      // Below that edge the sums are as before: the limit itself is the reference.
      const cool = new Harness(mktTerms(8));
      cool.feed(reading(min(0), 4), reading(min(60), 12), tick(min(120)));
      close(cool.s.window.mkt as number, meanKineticTemperature([{ celsius: 4, seconds: 3600 }, { celsius: 12, seconds: 3600 }]), 1e-9);
    });

    it('readings at or below absolute zero are rejected when MKT is on', () => {
      const h = new Harness(mktTerms(25));
      const ev = h.read(min(0), -273.15);
      assert.deepEqual(ev.map((e) => e.type === 'reading.rejected' && e.reason), ['below absolute zero']);
      assert.equal(h.s.status, 'no-data');
    });
  });
});
