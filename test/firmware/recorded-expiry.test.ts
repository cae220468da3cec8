// A firmware.release record written before timeValue refused dates that do not exist holds the
// manifest as the vendor signed it ("expires": "2026-02-30", which the gateway then read as March
// 2nd). Replaying such a ledger must still work, and read the expiry the gateway recorded it with.
import * as assert from 'node:assert/strict';
import { FirmwareState, isExpired } from '../../lib/firmware';
import { imageDigest } from './fixtures';

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
