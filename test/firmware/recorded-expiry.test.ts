// A firmware.release record written before timeValue refused dates that do not exist holds the
// manifest as the vendor signed it ("expires": "2026-02-30", which the gateway then read as March
// 2nd). Replaying such a ledger must still work, and read the expiry the gateway recorded it with.
import * as assert from 'node:assert/strict';
import { signedBodyProblem } from '../../lib/audit/signed-body';
import { keyToDid } from '../../lib/crypto';
import type { CborValue } from '../../lib/encoding/codec';
import { signEnvelope } from '../../lib/envelope/envelope';
import { envelopeDigest, FirmwareState, isExpired, recheckRecord } from '../../lib/firmware';
import { Gateway, imageDigest, key, manifest } from './fixtures';

const body = (expires: string): unknown => ({
  manifest: { vendor: 'acme', class: 'thermo', version: '1.2.0', sequence: 2, digest: imageDigest('acme/thermo/2'), size: 1000, expires },
  signer: 'did:key:z-acme',
  envelopeDigest: 'ab'.repeat(32),
  at: Date.UTC(2026, 0, 1),
});

describe('firmware: releases recorded under the old expiry reading', () => {
  it('replays a recorded release whose expiry does not exist, read as it was recorded (rolled over)', () => {
    for (const [expires, read] of [
      ['2026-02-30', Date.UTC(2026, 2, 2)],
      ['2026-01-01T24:00:00Z', Date.UTC(2026, 0, 2)],
    ] as const) {
      const s = new FirmwareState();
      s.apply('firmware.release', body(expires), 0, Date.UTC(2026, 0, 1));
      const r = s.release('acme', 'thermo', 2);
      assert.ok(r, expires);
      assert.equal(r.manifest.expires, expires);
      assert.equal(isExpired(r.manifest, read - 1), false, expires);
      assert.equal(isExpired(r.manifest, read), true, expires);
    }
  });
});

describe('firmware recheck (audit) of records an older gateway wrote with rolled-over times', () => {
  it('a release whose expiry and a report whose ts do not exist recheck clean, as recorded', () => {
    const gw = new Gateway();
    const vendorKey = key('acme-1');
    const deviceKey = key('device-a');
    gw.trust('acme', vendorKey);
    const device = gw.enrol(deviceKey);
    // The manifest as the vendor signed it, registered as the gateway did before a4b5c5d.
    const m = { ...manifest('acme', 'thermo', 1), expires: '2026-02-30' };
    const env = signEnvelope(JSON.stringify(m), vendorKey, { kid: keyToDid(vendorKey) });
    gw.append('firmware.release', { manifest: m, signer: keyToDid(vendorKey), envelopeDigest: envelopeDigest(env), at: gw.time }, env);
    // A report whose ts ("T24:00:00Z") the gateway read as the next day's midnight.
    const ts = '2025-12-31T24:00:00Z';
    const report = signEnvelope(JSON.stringify({ class: 'thermo', version: m.version, sequence: 1, digest: m.digest, ts }), deviceKey, { kid: device });
    gw.append(
      'firmware.report',
      { device, class: 'thermo', version: m.version, sequence: 1, digest: m.digest, status: 'initial', vendor: 'acme', ts: Date.UTC(2026, 0, 1), release: 2 },
      report,
    );
    const state = new FirmwareState();
    for (const r of gw.records) {
      assert.deepEqual(recheckRecord(state, r, { isEnrolled: () => true }), { ok: true }, `${r.type} record ${r.index}`);
      state.apply(r.type, r.body, r.index, r.time);
    }
    // The audit's check that the report's body repeats what the device signed reads the ts the same way.
    const recorded = gw.records.find((r) => r.type === 'firmware.report')!;
    assert.equal(signedBodyProblem({ type: recorded.type, time: recorded.time, device, body: recorded.body as CborValue, envelope: report }), undefined);
  });
});
