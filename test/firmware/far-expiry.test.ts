// A manifest's expires and a record's time are any safe integer of ms, past what a Date holds
// (8.64e15): the refusal of an expired manifest must still be written, not end in a RangeError.
import * as assert from 'node:assert/strict';
import { checkRelease, isFirmwareRejection, recheckRecord } from '../../lib/firmware';
import { Gateway, key, manifest } from './fixtures';
import { createManifest } from '../../lib/firmware';

describe('firmware: an expiry past what a Date holds', () => {
  it('checkRelease refuses the expired manifest as expired, and the audit recheck reports it', () => {
    const gw = new Gateway();
    const vendorKey = key('acme-1');
    gw.trust('acme', vendorKey);
    const expires = Number.MAX_SAFE_INTEGER - 10_000;
    const env = createManifest(manifest('acme', 'thermo', 1, { expires }), vendorKey);
    const at = Number.MAX_SAFE_INTEGER;
    assert.throws(
      () => checkRelease(gw.state, env, at),
      (e: unknown) => isFirmwareRejection(e, 'expired') && /expired at \+287\d{3}-/.test((e as Error).message),
    );
    // A gateway that recorded it anyway (its clock that far): the audit reports, not a RangeError.
    const body = { manifest: manifest('acme', 'thermo', 1, { expires }), signer: 'did:key:z-acme', envelopeDigest: 'ab'.repeat(32), at };
    const r = recheckRecord(gw.state, { type: 'firmware.release', time: at, body, envelope: env });
    assert.equal(r.ok, false);
    assert.equal((r as { reason?: string }).reason, 'expired');
  });
});
