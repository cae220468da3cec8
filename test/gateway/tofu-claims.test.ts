import * as assert from 'node:assert/strict';
import { generateKey, keyToDid, type PrivateKey } from '../../lib/crypto';
import { signEnvelope } from '../../lib/envelope/envelope';
import { Gateway } from '../../lib/gateway';
import { strictest, type TofuClaim } from '../../lib/gateway/tofu-claims';
import { DEFAULT_TOFU_BURST, DEFAULT_TOFU_MAX_DEVICES, DEFAULT_TOFU_REFILL_MS } from '../../lib/gateway/tofu-limit';
import { tempDir } from '../support/ledger';

// The TOFU allowance is one per gateway (the count of devices trusted on first use is the
// ledger's), so the Verify nodes sharing it cannot each apply their own limits to it: the
// strictest limits claimed apply to all of them, and a claim that does not hold says so.

const code = (err: unknown): string => String((err as { code?: unknown }).code);
const message = (key: PrivateKey): string => signEnvelope({ temperature: 21, counter: 1 }, key, { kid: keyToDid(key) }) as string;

describe('gateway: Verify nodes sharing a gateway apply the strictest TOFU limits claimed', function () {
  this.timeout(30000);
  const gatewayKey = generateKey('Ed25519');
  let tmp: ReturnType<typeof tempDir>;
  let gw: Gateway;
  let clock = 1_000_000;

  beforeEach(async () => {
    tmp = tempDir();
    gw = await Gateway.open(tmp.dir, { name: 'tofu-claims', gatewayKey, blockSeconds: 0 }, { now: () => clock, securityIntervalMs: 3_600_000 });
  });
  afterEach(async () => {
    await gw.close();
    tmp.cleanup();
  });

  /** First messages of `n` fresh keys, all at once; the errors of those refused. */
  async function flood(n: number): Promise<{ admitted: number; errors: Error[] }> {
    const outcomes = await Promise.allSettled(Array.from({ length: n }, () => gw.verify(message(generateKey('Ed25519')), { tofu: true })));
    const errors = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as Error] : []));
    return { admitted: n - errors.length, errors };
  }

  it('two claims: the fewest devices, smallest burst and slowest refill of both apply to every message; releasing one applies the other', async () => {
    const changes: string[] = [];
    const heard = (name: string) => (c: TofuClaim) => changes.push(`${name} ${c.applied.maxDevices}/${c.applied.burst}/${c.applied.refillMs} ${c.overridden ? 'overridden' : 'holds'}`);
    const a = gw.claimTofuLimits({ burst: 3, refillMs: 3_600_000 }, heard('a'));
    assert.equal(a.overridden, false);
    const b = gw.claimTofuLimits({ maxDevices: 5, burst: 20 }, heard('b'));
    assert.deepEqual(gw.tofuLimits, { maxDevices: 5, burst: 3, refillMs: 3_600_000 });
    assert.deepEqual([a.overridden, b.overridden], [true, true]);
    assert.deepEqual(b.asked, { maxDevices: 5, burst: 20, refillMs: DEFAULT_TOFU_REFILL_MS });
    assert.deepEqual(changes, ['a 5/3/3600000 overridden'], 'the claim already held hears of the change');

    const first = await flood(20);
    assert.equal(first.admitted, 3);
    assert.deepEqual([...new Set(first.errors.map(code))], ['ERR_TOFU_LIMIT']);
    assert.match(first.errors[0].message, /more unknown devices than 3 at once \(one more every 3600 s\)/);

    // Without a: b's own limits. Refilled one per 10 s up to 20 again, but 5 devices at most.
    a.release();
    a.release();
    assert.deepEqual(gw.tofuLimits, { maxDevices: 5, burst: 20, refillMs: DEFAULT_TOFU_REFILL_MS });
    assert.equal(b.overridden, false);
    assert.deepEqual(changes, ['a 5/3/3600000 overridden', 'b 5/20/10000 holds']);
    clock += 200_000;
    const second = await flood(10);
    assert.equal(second.admitted, 2);
    assert.match(second.errors[0].message, /5 devices trusted on first use already/);

    b.release();
    assert.deepEqual(gw.tofuLimits, { maxDevices: DEFAULT_TOFU_MAX_DEVICES, burst: DEFAULT_TOFU_BURST, refillMs: DEFAULT_TOFU_REFILL_MS });
    assert.equal(changes.length, 2, 'a released claim hears nothing more');
  });

  it('the time under a stricter claim refills at its rate, not at the rate that applies once it is released', async () => {
    const strict = gw.claimTofuLimits({ burst: 2, refillMs: 100_000 });
    gw.claimTofuLimits({ burst: 2, refillMs: 10_000 });
    assert.equal((await flood(2)).admitted, 2, 'the burst');
    clock += 50_000; // half an admission at one per 100 s (five at one per 10 s)
    strict.release();
    assert.equal(gw.tofuLimits.refillMs, 10_000);
    assert.equal((await flood(1)).admitted, 0, 'nothing saved up yet');
    clock += 5_000; // the other half, at one per 10 s
    assert.equal((await flood(1)).admitted, 1);
  });

  it('a claim with a limit that is no positive integer is refused and changes nothing', () => {
    gw.claimTofuLimits({ burst: 4 });
    assert.throws(() => gw.claimTofuLimits({ burst: 0 }), (err: unknown) => code(err) === 'ERR_INVALID_ARGUMENT');
    assert.equal(gw.tofuLimits.burst, 4);
  });

  it('strictest() takes each limit on its own', () => {
    assert.deepEqual(
      strictest([
        { maxDevices: 10, burst: 8, refillMs: 1000 },
        { maxDevices: 100, burst: 2, refillMs: 500 },
        { maxDevices: 50, burst: 4, refillMs: 9000 },
      ]),
      { maxDevices: 10, burst: 2, refillMs: 9000 },
    );
  });
});
