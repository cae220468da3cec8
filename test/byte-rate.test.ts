import * as assert from 'node:assert/strict';
import { ByteRate } from '../lib/guards/byte-rate';
import { TileRequestGate } from '../lib/tiles/http';

// Bytes per second sent, per client address and in all (lib/guards/byte-rate.ts), on a test clock.
describe('ByteRate', () => {
  const invalid = (err: Error & { code?: string }): boolean => err.code === 'ERR_INVALID_ARGUMENT';

  it('lets a client in while its bucket holds a byte, and says how long until it does again', () => {
    let now = 0;
    const rate = new ByteRate({ maxBytesPerSecond: 10_000, maxBytesPerSecondPerClient: 1000 }, () => now);
    assert.deepEqual(rate.wait('a'), { ms: 0, perClient: false });
    rate.spend('a', 2999); // 1999 behind: 2 s to get back to 1 byte
    assert.deepEqual(rate.wait('a'), { ms: 2000, perClient: true });
    assert.deepEqual(rate.wait('b'), { ms: 0, perClient: false });
    now = 1999;
    assert.equal(rate.wait('a').ms, 1);
    now = 2000;
    assert.equal(rate.wait('a').ms, 0);
  });

  it('holds every client to the total, and gives the longer of the two waits', () => {
    let now = 0;
    const rate = new ByteRate({ maxBytesPerSecond: 1000, maxBytesPerSecondPerClient: 1000 }, () => now);
    rate.spend(undefined, 1500); // the total 500 behind: 501 ms to get back to 1 byte
    assert.deepEqual(rate.wait('b'), { ms: 501, perClient: false });
    rate.spend('a', 1000); // a's own bucket empty (1 ms), the total 1500 behind (1501 ms)
    assert.deepEqual(rate.wait('a'), { ms: 1501, perClient: false });
    now = 1501;
    assert.deepEqual(rate.wait('a'), { ms: 0, perClient: false });
  });

  it('forgets a client once its bucket has refilled whole, so a flood of addresses does not stay in memory', () => {
    let now = 0;
    const rate = new ByteRate({ maxBytesPerSecond: 1e9, maxBytesPerSecondPerClient: 1000 }, () => now);
    for (let i = 0; i < 100; i++) rate.spend(`10.0.0.${i}`, 500);
    assert.equal(rate.clients, 100);
    now = 499;
    rate.spend('10.0.1.1', 1);
    assert.equal(rate.clients, 101);
    now = 500;
    rate.spend('10.0.1.1', 1);
    assert.equal(rate.clients, 1, 'the 100 refilled are dropped when the next is charged');
  });

  it('refills nothing while the clock is set back', () => {
    let now = 10_000;
    const rate = new ByteRate({ maxBytesPerSecond: 1e9, maxBytesPerSecondPerClient: 1000 }, () => now);
    rate.spend('a', 1000);
    now = 5000;
    assert.equal(rate.wait('a').ms, 1, 'as empty as at 10 s, not 5 s behind');
    now = 11_000;
    assert.equal(rate.wait('a').ms, 0);
  });

  it('refuses a rate that is not a positive integer, and a name it does not have', () => {
    assert.throws(() => new ByteRate({ maxBytesPerSecond: 0, maxBytesPerSecondPerClient: 1 }), invalid);
    const rate = new ByteRate({ maxBytesPerSecond: 10, maxBytesPerSecondPerClient: 1 });
    assert.throws(() => rate.setLimits({ maxBytesPerSecondPerClient: 1.5 }), invalid);
    assert.throws(() => rate.setLimits({ bytesPerSecond: 5 } as never), invalid);
    assert.deepEqual(rate.setLimits({ maxBytesPerSecondPerClient: 5 }), { maxBytesPerSecond: 10, maxBytesPerSecondPerClient: 1 });
    assert.equal(rate.limits.maxBytesPerSecondPerClient, 5);
  });

  it("is part of the tile gate's limits: set and restored with the others, nothing changed when one is refused", () => {
    const gate = new TileRequestGate();
    const defaults = gate.limits;
    assert.equal(defaults.maxBytesPerSecondPerClient, 32 * 1024 * 1024);
    assert.equal(defaults.maxBytesPerSecond, 64 * 1024 * 1024);
    const before = gate.setLimits({ maxBytesPerSecondPerClient: 1000, maxActive: 2 });
    assert.deepEqual(before, defaults);
    assert.deepEqual([gate.limits.maxBytesPerSecondPerClient, gate.limits.maxActive], [1000, 2]);
    assert.throws(() => gate.setLimits({ maxBytesPerSecond: 0, maxActive: 3 }), invalid);
    assert.throws(() => gate.setLimits({ maxBytesPerSecond: 5, maxActive: 0 }), invalid);
    assert.deepEqual([gate.limits.maxBytesPerSecond, gate.limits.maxActive], [defaults.maxBytesPerSecond, 2]);
    gate.setLimits(before);
    assert.deepEqual(gate.limits, defaults);
  });
});
