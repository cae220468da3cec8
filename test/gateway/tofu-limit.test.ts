import * as assert from 'node:assert/strict';
import { generateKey, keyToDid, type PrivateKey } from '../../lib/crypto';
import { signEnvelope } from '../../lib/envelope/envelope';
import { Gateway } from '../../lib/gateway';
import { SignaturePool } from '../../lib/gateway/signature-pool';
import { TofuAllowance } from '../../lib/gateway/tofu-limit';
import { DeviceRegistry, ENROL, REVOKE, TOFU } from '../../lib/registry/devices';
import { tempDir } from '../support/ledger';

// With trust on first use on, anyone who can publish can make fresh keys without end, and each
// one's first validly signed message would enrol a device: one signature check, one device.tofu
// record and one registry entry each, for ever. A gateway admits at most maxDevices such devices
// (not revoked), `burst` at once and then one per refillMs; past that an unknown device's message
// is refused with ERR_TOFU_LIMIT before any signature work, and aggregated in security records.

const code = (err: unknown): string => String((err as { code?: unknown }).code);
const message = (key: PrivateKey, counter: number, kid = keyToDid(key)): string => signEnvelope({ temperature: 21, counter }, key, { kid }) as string;

interface Outcome {
  key: PrivateKey;
  ok: boolean;
  code?: string;
  err?: unknown;
}

describe('gateway: trust on first use is bounded per gateway', function () {
  this.timeout(60000);
  const gatewayKey = generateKey('Ed25519');
  let tmp: ReturnType<typeof tempDir>;
  let gw: Gateway;
  let clock = 1_000_000;
  /** Signature checks of devices not enrolled (the low-priority lane: trust on first use). */
  let tofuChecks = 0;
  // Called with the pool as `this` again (the wrapper below).
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const check = SignaturePool.prototype.check;

  before(() => {
    SignaturePool.prototype.check = function (this: SignaturePool, data, did, enrolled, done) {
      if (!enrolled) tofuChecks++;
      return check.call(this, data, did, enrolled, done);
    };
  });
  after(() => {
    SignaturePool.prototype.check = check;
  });
  beforeEach(() => {
    tmp = tempDir();
    tofuChecks = 0;
  });
  afterEach(async () => {
    await gw.close();
    tmp.cleanup();
  });

  // The clock of the TOFU bucket is injected; the security records aggregate over a long interval, flushed by the test.
  const limits = { now: () => clock, securityIntervalMs: 3_600_000 };
  const open = (): Promise<Gateway> => Gateway.open(tmp.dir, { name: 'tofu-limit', gatewayKey, blockSeconds: 0 }, limits);

  /** Sends each key's first message (all at once, as a flood arrives); notes rejections as the Verify node does. */
  async function flood(keys: PrivateKey[], opts: object = { tofu: true }): Promise<Outcome[]> {
    return Promise.all(
      keys.map((key) =>
        gw.verify(message(key, 1), opts).then(
          (): Outcome => ({ key, ok: true }),
          async (err: unknown): Promise<Outcome> => {
            await gw.noteSecurityEvent(err, { source: 'verify', topic: 'sensors/flood' });
            return { key, ok: false, code: code(err), err };
          },
        ),
      ),
    );
  }

  async function records(type: string): Promise<{ body: Record<string, unknown> }[]> {
    const out: { body: Record<string, unknown> }[] = [];
    for await (const r of gw.ledger.byType(type)) out.push({ body: r.record.body as Record<string, unknown> });
    return out;
  }

  it('a flood of 500 fresh keys enrols the burst; the rest are refused with ERR_TOFU_LIMIT without a signature check, aggregated; enrolled devices keep working', async () => {
    gw = await open();
    const enrolled = generateKey('Ed25519');
    await gw.enrol({ did: keyToDid(enrolled), name: 'enrolled' });
    const keys = Array.from({ length: 500 }, () => generateKey('Ed25519'));
    const outcomes = await flood(keys);
    const admitted = outcomes.filter((o) => o.ok);
    const refused = outcomes.filter((o) => !o.ok);
    assert.equal(admitted.length, 32, 'the burst is admitted');
    assert.deepEqual([...new Set(refused.map((o) => o.code))], ['ERR_TOFU_LIMIT']);
    assert.equal(refused.length, 468);
    assert.match(String((refused[0].err as Error).message), /more unknown devices than 32 at once \(one more every 10 s\)/);
    assert.equal(tofuChecks, 32, 'a signature check for each admitted device only');
    assert.equal((await records(TOFU)).length, 32);
    assert.equal(gw.devices.activeCount, 33);
    assert.equal(gw.devices.size, 33, 'no registry entry for a refused device');
    assert.equal(gw.stats.security.ERR_TOFU_LIMIT, 468);

    // Security records: the first refusal at once, the others as one aggregate (keyed by topic).
    await gw.flushSecurityEvents();
    const security = (await records('security')).filter((r) => r.body.code === 'ERR_TOFU_LIMIT');
    assert.deepEqual(
      security.map((r) => [r.body.topic, r.body.count]),
      [
        ['sensors/flood', 1],
        ['sensors/flood', 467],
      ],
    );

    // Devices already trusted and enrolled ones keep working with the allowance spent.
    const again = await Promise.all(admitted.map((o) => gw.verify(message(o.key, 2), { tofu: true })));
    assert.ok(again.every((v) => !v.tofu && v.device.tofu === true));
    assert.equal((await gw.verify(message(enrolled, 1), { tofu: true })).device.name, 'enrolled');
    assert.equal((await records(TOFU)).length, 32);
    // A refused device is still unknown: its next message is refused again, before any signature work.
    const checks = tofuChecks;
    await assert.rejects(gw.verify(message(refused[0].key, 2), { tofu: true }), (err: unknown) => code(err) === 'ERR_TOFU_LIMIT');
    assert.equal(tofuChecks, checks);

    // The bucket refills one admission per 10 s of the injected clock; a forged message does not spend it.
    clock += 10_000;
    const victim = generateKey('Ed25519');
    await assert.rejects(gw.verify(message(generateKey('Ed25519'), 1, keyToDid(victim)), { tofu: true }), (err: unknown) => code(err) === 'ERR_BAD_SIGNATURE');
    assert.equal(tofuChecks, checks + 1);
    assert.equal((await gw.verify(message(victim, 1), { tofu: true })).tofu, true);
    await assert.rejects(gw.verify(message(generateKey('Ed25519'), 1), { tofu: true }), (err: unknown) => code(err) === 'ERR_TOFU_LIMIT');
    assert.equal(tofuChecks, checks + 2);
    assert.equal((await records(TOFU)).length, 33);
  });

  it('the total cap holds across a restart, counts active devices only, and can be claimed', async () => {
    gw = await open();
    gw.claimTofuLimits({ maxDevices: 40 });
    const opts = { tofu: true };
    assert.equal((await flood(Array.from({ length: 100 }, () => generateKey('Ed25519')), opts)).filter((o) => o.ok).length, 32);
    // An hour later the bucket is full again, but only 8 more fit under the cap.
    clock += 3_600_000;
    const second = await flood(Array.from({ length: 100 }, () => generateKey('Ed25519')), opts);
    assert.equal(second.filter((o) => o.ok).length, 8);
    assert.match(String((second.find((o) => !o.ok)?.err as Error).message), /40 devices trusted on first use already/);
    assert.equal((await records(TOFU)).length, 40);
    assert.equal(tofuChecks, 40);

    await gw.close();
    clock += 3_600_000;
    gw = await open();
    gw.claimTofuLimits({ maxDevices: 40 });
    assert.equal(gw.devices.activeCount, 40);
    const before = tofuChecks;
    const after = await flood(Array.from({ length: 50 }, () => generateKey('Ed25519')), opts);
    assert.deepEqual([...new Set(after.map((o) => o.code))], ['ERR_TOFU_LIMIT']);
    assert.equal(tofuChecks, before, 'refused before any signature check after the restart');
    assert.equal((await records(TOFU)).length, 40);

    // Revoking one makes room for one.
    const first = gw.devices.list()[0];
    await gw.revoke({ did: first.did });
    const next = await flood(Array.from({ length: 5 }, () => generateKey('Ed25519')), opts);
    assert.equal(next.filter((o) => o.ok).length, 1);
    assert.equal(gw.devices.activeCount, 40);
  });

  it('first messages of one new device checked together: one device.tofu record, one admission spent', async () => {
    gw = await Gateway.open(tmp.dir, { name: 'tofu-limit', gatewayKey, blockSeconds: 0 }, { ...limits, tofu: { burst: 3 } });
    const key = generateKey('Ed25519');
    // A device emptying its buffer on its first connection: its messages come back from the
    // signature pool together, before its device.tofu record is written.
    const outcomes = await Promise.allSettled([1, 2, 3].map((c) => gw.verify(message(key, c), { tofu: true })));
    assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'fulfilled', 'fulfilled']);
    let records = 0;
    for await (const r of gw.ledger.byType(TOFU)) if (r.record.device === keyToDid(key)) records++;
    assert.equal(records, 1);
    assert.equal(gw.devices.activeTofuCount, 1);
    // Two admissions of the burst of 3 are left.
    const others = await Promise.allSettled([generateKey('Ed25519'), generateKey('Ed25519')].map((k) => gw.verify(message(k, 1), { tofu: true })));
    assert.deepEqual(others.map((o) => o.status), ['fulfilled', 'fulfilled']);
    await assert.rejects(gw.verify(message(generateKey('Ed25519'), 1), { tofu: true }), (err: unknown) => code(err) === 'ERR_TOFU_LIMIT');
  });
});

describe('TofuAllowance: the limits it holds, applied as they change', () => {
  const strict = { maxDevices: 10, burst: 2, refillMs: 100_000 };
  const loose = { maxDevices: 10, burst: 2, refillMs: 10_000 };
  const refused = (err: unknown): boolean => code(err) === 'ERR_TOFU_LIMIT';

  it('apply() refills the time before at the limits that applied then, and the new ones from then on', () => {
    const allowance = new TofuAllowance(strict);
    for (const did of ['a', 'b']) {
      allowance.reserve(did, 0, 0);
      allowance.spend(did, 0);
    }
    assert.equal(allowance.state.tokens, 0, 'the burst spent');
    allowance.apply(loose, 50_000); // half an admission at one per 100 s (five at one per 10 s)
    assert.deepEqual(allowance.limits, loose);
    assert.equal(allowance.state.tokens, 0.5);
    assert.throws(() => allowance.reserve('c', 2, 50_000), refused);
    allowance.reserve('c', 2, 55_000); // the other half, at one per 10 s
    assert.equal(allowance.state.reserved, 1);
  });

  it('apply() before any admission leaves the bucket full at the new burst', () => {
    const allowance = new TofuAllowance(loose);
    allowance.apply({ ...strict, burst: 1 }, 0);
    assert.equal(allowance.state.tokens, undefined);
    allowance.reserve('a', 0, 1_000);
    assert.throws(() => allowance.reserve('b', 0, 1_000), (err: unknown) => refused(err) && /more unknown devices than 1 at once \(one more every 100 s\)/.test((err as Error).message));
  });
});

describe('registry: devices trusted on first use are counted as records apply', () => {
  it('counts active TOFU devices through revocation, re-trust and enrolment', () => {
    const r = new DeviceRegistry();
    const [a, b, c] = [0, 1, 2].map(() => keyToDid(generateKey('Ed25519')));
    r.apply(TOFU, { did: a }, 0);
    r.apply(TOFU, { did: b }, 1);
    r.apply(ENROL, { did: c }, 2);
    assert.deepEqual([r.activeCount, r.activeTofuCount], [3, 2]);
    r.apply(REVOKE, { did: a }, 3);
    r.apply(REVOKE, { did: a }, 4);
    assert.deepEqual([r.activeCount, r.activeTofuCount], [2, 1]);
    r.apply(TOFU, { did: a }, 5);
    assert.deepEqual([r.activeCount, r.activeTofuCount], [3, 2]);
    r.apply(ENROL, { did: b }, 6);
    assert.deepEqual([r.activeCount, r.activeTofuCount], [3, 1]);
    r.apply(TOFU, { did: c }, 7);
    assert.deepEqual([r.activeCount, r.activeTofuCount], [3, 2]);
  });
});
