// Property: whatever mix of releases, updates, reports, key changes and clock moves happens,
// no approval ever takes a device below what it had, every approval names a registered,
// trusted, unexpired release, an honest log rechecks clean, and the records alone rebuild it.
import * as assert from 'node:assert/strict';
import * as fc from 'fast-check';
import { keyToDid } from '../../lib/crypto';
import {
  checkRelease,
  checkVendor,
  createManifest,
  deviceHistory,
  FirmwareState,
  historyFromRecords,
  installedFloor,
  isFirmwareRejection,
  isExpired,
  recheckRecord,
  type ApprovedDecisionBody,
} from '../../lib/firmware';
import { Gateway, imageDigest, key, manifest, reportOf } from './fixtures';

const CLASSES = ['thermo', 'valve'];
const VENDOR_KEYS = ['pk-acme-1', 'pk-acme-2'];
const DEVICES = ['pd-0', 'pd-1', 'pd-2'];

type Op =
  | { op: 'release'; cls: number; seq: number; variant: number; signer: number; ttl: number | null; format: 'jws' | 'cose' }
  | { op: 'update'; dev: number; cls: number; seq: number; byEnvelope: boolean; badImage: boolean; pick: number | null }
  | { op: 'report'; dev: number; cls: number; seq: number; variant: number; counterStep: number }
  | { op: 'key'; signer: number; action: 'trust' | 'revoke' }
  | { op: 'tick'; ms: number };

const seq = fc.integer({ min: 0, max: 6 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('release' as const),
      cls: fc.nat(1),
      seq,
      variant: fc.oneof(fc.constant(0), fc.constant(0), fc.constant(1)),
      signer: fc.oneof(fc.constant(0), fc.constant(0), fc.constant(0), fc.constant(1)),
      ttl: fc.option(fc.integer({ min: 1, max: 200_000 })),
      format: fc.constantFrom('jws' as const, 'cose' as const),
    }),
  },
  // Mostly updates to a release registered so far (pick), sometimes to anything (may be unregistered).
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('update' as const),
      dev: fc.oneof(fc.constant(0), fc.constant(1), fc.nat(2)),
      cls: fc.nat(1),
      seq,
      byEnvelope: fc.boolean(),
      badImage: fc.oneof(fc.constant(false), fc.constant(false), fc.constant(true)),
      pick: fc.option(fc.nat(20), { freq: 5 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ op: fc.constant('report' as const), dev: fc.nat(2), cls: fc.nat(1), seq, variant: fc.nat(1), counterStep: fc.integer({ min: -1, max: 2 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('key' as const), signer: fc.nat(1), action: fc.constantFrom('trust' as const, 'trust' as const, 'revoke' as const) }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 10_000 }) }) },
);

function imageOf(cls: string, s: number, variant: number) {
  const m = manifest('acme', cls, s);
  return variant === 0 ? m : { ...m, digest: imageDigest(`${cls}/${s}/other`) };
}

/** How often each rejection happened over all runs, to show the generator reaches them. */
const stats = new Map<string, number>();
const count = (k: string): void => void stats.set(k, (stats.get(k) ?? 0) + 1);

function run(ops: Op[]): { gw: Gateway; approvals: number } {
  const gw = new Gateway();
  const vendorKeys = VENDOR_KEYS.map((n) => key(n));
  const deviceKeys = DEVICES.map((n) => key(n));
  gw.trust('acme', vendorKeys[0]);
  const devices = deviceKeys.map((k, i) => (i < 2 ? gw.enrol(k) : keyToDid(k))); // pd-2 never enrolled
  const envelopes = new Map<string, string | Uint8Array>();
  const counters = devices.map(() => 0);
  let approvals = 0;

  for (const o of ops) {
    try {
      switch (o.op) {
        case 'tick':
          gw.time += o.ms;
          break;
        case 'key':
          gw.append('firmware.vendor', checkVendor(gw.state, { vendor: 'acme', did: keyToDid(vendorKeys[o.signer]), action: o.action }));
          break;
        case 'release': {
          const m = { ...imageOf(CLASSES[o.cls], o.seq, o.variant), ...(o.ttl === null ? {} : { expires: gw.time + o.ttl }) };
          const env = createManifest(m, vendorKeys[o.signer], o.format);
          gw.append('firmware.release', checkRelease(gw.state, env, gw.time), env);
          envelopes.set(`${m.class}/${m.sequence}`, env);
          break;
        }
        case 'update': {
          const device = devices[o.dev];
          const picked = o.pick === null || envelopes.size === 0 ? undefined : [...envelopes.keys()][o.pick % envelopes.size];
          const [cls, seqText] = picked ? picked.split('/') : [CLASSES[o.cls], String(o.seq)];
          const target = Number(seqText);
          const env = envelopes.get(`${cls}/${target}`);
          const before = gw.state.clone();
          const floor = installedFloor(before, device);
          const current = before.device(device)?.current;
          const req = o.byEnvelope && env !== undefined ? { device, manifestEnvelope: env } : { device, vendor: 'acme', class: cls, sequence: target };
          const rel = before.release('acme', cls, target);
          const image = o.badImage && rel ? { digest: imageDigest('evil'), size: rel.size } : undefined;
          let body: ApprovedDecisionBody;
          try {
            body = gw.update(req, image ? { image } : {});
          } catch (err) {
            if (!isFirmwareRejection(err)) throw err;
            count(`update:${err.details.reason}`);
            break;
          }
          approvals++;
          // The invariants of an approval, checked against the state before it.
          assert.ok(body.sequence >= floor, `approved ${body.sequence} below installed ${floor}`);
          assert.ok(!current || body.sequence >= current.sequence);
          const spans = deviceHistory(before, device).filter((s) => s.source === 'decision');
          assert.ok(spans.every((s) => s.sequence <= body.sequence), 'approved below an earlier approval');
          const reg = before.release(body.vendor, body.class, body.sequence);
          assert.ok(reg && reg.digest === body.digest && reg.registered.index === body.release);
          assert.ok(before.isTrusted('acme', body.signer) && !before.isRevoked('acme', body.signer));
          assert.ok(!isExpired(reg.manifest, body.at));
          assert.equal(image, undefined);
          assert.equal(devices.indexOf(device) < 2, true);
          break;
        }
        case 'report': {
          const i = o.dev;
          counters[i] += o.counterStep;
          const m = imageOf(CLASSES[o.cls], o.seq, o.variant);
          gw.report(deviceKeys[i], reportOf(m, { counter: Math.max(0, counters[i]) }));
          break;
        }
      }
    } catch (err) {
      if (!isFirmwareRejection(err)) throw err;
      count(`${o.op}:${err.details.reason}`);
    }
  }
  return { gw, approvals };
}

describe('firmware properties', () => {
  it('random histories: no approval below what is installed; honest logs recheck clean and rebuild', () => {
    let totalApprovals = 0;
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 40, size: 'max' }), (ops) => {
        const { gw, approvals } = run(ops);
        totalApprovals += approvals;
        const state = new FirmwareState();
        for (const r of gw.records) {
          const result = recheckRecord(state, r);
          assert.ok(result.ok, `record ${r.index} (${r.type}) rechecks as ${result.reason}: ${result.message}`);
          state.apply(r.type, r.body, r.index, r.time);
        }
        const rebuilt = historyFromRecords(gw.records);
        for (const did of gw.state.devices()) assert.deepEqual(deviceHistory(rebuilt, did), deviceHistory(gw.state, did));
      }),
      { numRuns: 150 },
    );
    assert.ok(totalApprovals > 100, `the generator should produce approvals (got ${totalApprovals})`);
    for (const reason of ['rollback', 'wrong-class', 'expired', 'revoked-key', 'digest-mismatch', 'unknown-release'])
      assert.ok((stats.get(`update:${reason}`) ?? 0) > 0, `the generator should reach update:${reason}`);
  });
});
