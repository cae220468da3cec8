// One test per attack on the update process (RFC 9124 threat model), each refused with its reason
// and recorded as a rejected decision.
import * as assert from 'node:assert/strict';
import { toBase64Url, utf8 } from '../../lib/encoding/bytes';
import { keyToDid } from '../../lib/crypto';
import { signEnvelope } from '../../lib/envelope/envelope';
import {
  checkRelease,
  checkReport,
  checkUpdate,
  checkVendor,
  createManifest,
  createReport,
  isFirmwareRejection,
  type RejectionReason,
} from '../../lib/firmware';
import { Gateway, imageDigest, key, manifest, reportOf } from './fixtures';

const rejected = (reason: RejectionReason) => (err: unknown) => {
  assert.ok(isFirmwareRejection(err), `expected a firmware rejection, got ${String(err)}`);
  assert.equal(err.code, 'ERR_FIRMWARE_REJECTED');
  assert.equal(err.details.reason, reason, err.message);
  return true;
};

const ACME = 'acme';
const THERMO = 'thermo-v2';

function setup() {
  const gw = new Gateway();
  const vendorKey = key('acme-1');
  const deviceKey = key('device-a');
  gw.trust(ACME, vendorKey);
  const device = gw.enrol(deviceKey);
  const m1 = manifest(ACME, THERMO, 1);
  const m2 = manifest(ACME, THERMO, 2);
  const m3 = manifest(ACME, THERMO, 3);
  const env1 = gw.release(m1, vendorKey);
  gw.release(m2, vendorKey, 'cose');
  gw.release(m3, vendorKey);
  gw.update({ device, vendor: ACME, class: THERMO, sequence: 2 });
  gw.report(deviceKey, reportOf(m2, { counter: 1 }));
  return { gw, vendorKey, deviceKey, device, m1, m2, m3, env1 };
}

function lastRecord(gw: Gateway) {
  return gw.records[gw.records.length - 1];
}

describe('firmware attacks are rejected with their reason', () => {
  it('rollback: an older release (by reference or by envelope) is refused and recorded', () => {
    const { gw, device, env1 } = setup();
    assert.throws(() => gw.update({ device, vendor: ACME, class: THERMO, sequence: 1 }), rejected('rollback'));
    const rec = lastRecord(gw);
    assert.equal(rec.type, 'firmware.decision');
    assert.deepEqual(
      { decision: (rec.body as { decision: string }).decision, reason: (rec.body as { reason: string }).reason },
      { decision: 'rejected', reason: 'rollback' },
    );
    assert.throws(() => gw.update({ device, manifestEnvelope: env1 }), rejected('rollback'));
    assert.equal(gw.state.device(device)?.current?.sequence, 2);
    assert.equal(gw.state.device(device)?.rejections.length, 2);
  });

  it('rollback: the floor is the highest sequence ever approved, even if the device went back', () => {
    const { gw, device, deviceKey, m1, vendorKey } = setup();
    gw.update({ device, vendor: ACME, class: THERMO, sequence: 3 });
    // The device (attacked, or restored) now reports sequence 1: recorded as downgraded...
    const rec = gw.report(deviceKey, reportOf(m1, { counter: 2 }));
    assert.equal((rec.body as { status: string }).status, 'downgraded');
    // ...but updates below 3 stay refused.
    assert.throws(() => gw.update({ device, vendor: ACME, class: THERMO, sequence: 2 }), rejected('rollback'));
    gw.release(manifest(ACME, THERMO, 4), vendorKey);
    gw.update({ device, vendor: ACME, class: THERMO, sequence: 4 });
  });

  it('arbitrary image: an image whose digest or size differs from the manifest', () => {
    const { gw, device, m3 } = setup();
    const ref = { device, vendor: ACME, class: THERMO, sequence: 3 };
    assert.throws(() => gw.update(ref, { image: { digest: imageDigest('evil'), size: m3.size } }), rejected('digest-mismatch'));
    assert.throws(() => gw.update(ref, { image: { digest: m3.digest, size: m3.size + 1 } }), rejected('size-mismatch'));
    const ok = gw.update(ref, { image: { digest: m3.digest.toUpperCase(), size: m3.size } });
    assert.deepEqual(ok.image, { digest: m3.digest, size: m3.size });
  });

  it('arbitrary image: a device reporting an image that is not the registered one', () => {
    const { gw, deviceKey, m2 } = setup();
    assert.throws(() => gw.report(deviceKey, reportOf(m2, { digest: imageDigest('evil'), counter: 5 })), rejected('digest-mismatch'));
  });

  it('unsigned manifest: alg "none" with no signature, no kid, or not an envelope at all', () => {
    const { gw, vendorKey } = setup();
    const m = manifest(ACME, THERMO, 9);
    const header = toBase64Url(utf8(JSON.stringify({ alg: 'none', kid: keyToDid(vendorKey) })));
    const unsigned = `${header}.${toBase64Url(utf8(JSON.stringify(m)))}.`;
    assert.throws(() => checkRelease(gw.state, unsigned, gw.time), rejected('bad-signature'));
    const noKid = signEnvelope(JSON.stringify(m), vendorKey, { format: 'jws' });
    assert.throws(() => checkRelease(gw.state, noKid, gw.time), rejected('unknown-signer'));
    assert.throws(() => checkRelease(gw.state, JSON.stringify(m), gw.time), rejected('malformed'));
  });

  it('unknown signer: a manifest signed by a key not trusted for its vendor', () => {
    const { gw, device, vendorKey } = setup();
    const stranger = key('stranger');
    const m = manifest(ACME, THERMO, 9);
    assert.throws(() => checkRelease(gw.state, createManifest(m, stranger), gw.time), rejected('unknown-signer'));
    // A stranger that claims the vendor's kid: the signature does not verify under it.
    const forgedKid = signEnvelope(JSON.stringify(m), stranger, { format: 'jws', kid: keyToDid(vendorKey) });
    assert.throws(() => checkRelease(gw.state, forgedKid, gw.time), rejected('bad-signature'));
    // A key trusted for another vendor cannot sign for acme.
    const otherVendorKey = key('globex-1');
    gw.trust('globex', otherVendorKey);
    assert.throws(() => checkRelease(gw.state, createManifest(m, otherVendorKey, 'cose'), gw.time), rejected('unknown-signer'));
    // An update that brings such a manifest along is refused the same way.
    assert.throws(() => gw.update({ device, manifestEnvelope: createManifest(m, stranger) }), rejected('unknown-signer'));
  });

  it('mix-and-match: a release of another class, or of another vendor under the same class name', () => {
    const { gw, device, vendorKey } = setup();
    gw.release(manifest(ACME, 'valve-v1', 5), vendorKey);
    assert.throws(() => gw.update({ device, vendor: ACME, class: 'valve-v1', sequence: 5 }), rejected('wrong-class'));
    const globexKey = key('globex-1');
    gw.trust('globex', globexKey);
    gw.release(manifest('globex', THERMO, 7), globexKey);
    assert.throws(() => gw.update({ device, vendor: 'globex', class: THERMO, sequence: 7 }), rejected('wrong-class'));
    // A device with no firmware history yet: the class the caller knows from enrolment decides.
    const fresh = gw.enrol(key('device-fresh'));
    assert.throws(
      () => gw.update({ device: fresh, deviceClass: THERMO, vendor: ACME, class: 'valve-v1', sequence: 5 }),
      rejected('wrong-class'),
    );
    // And a report claiming another class.
    assert.throws(() => gw.report(key('device-a'), reportOf(manifest(ACME, 'valve-v1', 5), { counter: 9 })), rejected('wrong-class'));
  });

  it('freeze: an expired manifest is refused at registration and at update time', () => {
    const { gw, device, vendorKey } = setup();
    const expiresAt = gw.time + 60_000;
    const m = manifest(ACME, THERMO, 4, { expires: new Date(expiresAt).toISOString() });
    gw.release(m, vendorKey);
    gw.time = expiresAt; // the expiry instant itself is already too late
    assert.throws(() => gw.update({ device, vendor: ACME, class: THERMO, sequence: 4 }), rejected('expired'));
    const stale = createManifest(manifest(ACME, THERMO, 5, { expires: gw.time - 1 }), vendorKey, 'cose');
    assert.throws(() => checkRelease(gw.state, stale, gw.time), rejected('expired'));
    // The vendor re-signs the same image with a later expiry; that re-registration is allowed.
    gw.release({ ...m, expires: gw.time + 86_400_000 }, vendorKey);
    assert.equal(gw.update({ device, vendor: ACME, class: THERMO, sequence: 4 }).sequence, 4);
  });

  it('revoked key: its releases can no longer be installed, it cannot sign new ones, it cannot come back', () => {
    const { gw, device, vendorKey } = setup();
    gw.trust(ACME, vendorKey, 'revoke');
    assert.throws(() => gw.update({ device, vendor: ACME, class: THERMO, sequence: 3 }), rejected('revoked-key'));
    assert.throws(() => checkRelease(gw.state, createManifest(manifest(ACME, THERMO, 4), vendorKey), gw.time), rejected('revoked-key'));
    assert.throws(() => checkVendor(gw.state, { vendor: ACME, did: keyToDid(vendorKey), action: 'trust' }), rejected('revoked-key'));
    // A new key re-signs release 3; then it installs.
    const newKey = key('acme-2');
    gw.trust(ACME, newKey);
    gw.release(manifest(ACME, THERMO, 3), newKey);
    assert.equal(gw.update({ device, vendor: ACME, class: THERMO, sequence: 3 }).signer, keyToDid(newKey));
  });

  it('replayed report: the same envelope again, an older counter or ts, a ts far in the future', () => {
    const { gw, deviceKey, device, m2 } = setup();
    const t = gw.time;
    const env = createReport(reportOf(m2, { counter: 7, ts: t }), deviceKey);
    const opts = { now: gw.time, isEnrolled: gw.isEnrolled };
    gw.append('firmware.report', checkReport(gw.state, env, device, opts), env);
    assert.throws(() => checkReport(gw.state, env, device, opts), rejected('replay'));
    const olderCounter = createReport(reportOf(m2, { counter: 6, ts: gw.time + 10 }), deviceKey, 'cose');
    assert.throws(() => checkReport(gw.state, olderCounter, device, opts), rejected('replay'));
    const olderTs = createReport(reportOf(m2, { ts: t }), deviceKey);
    assert.throws(() => checkReport(gw.state, olderTs, device, opts), rejected('replay'));
    const future = createReport(reportOf(m2, { counter: 8, ts: gw.time + 3_600_000 }), deviceKey);
    assert.throws(() => checkReport(gw.state, future, device, opts), rejected('replay'));
    const fresh = createReport(reportOf(m2, { counter: 8, ts: new Date(gw.time + 1).toISOString() }), deviceKey);
    assert.equal(checkReport(gw.state, fresh, device, opts).status, 'confirmed');
  });

  it('forged report: signed by another key, or by the device under someone else\'s kid', () => {
    const { gw, device, m2, deviceKey } = setup();
    const opts = { now: gw.time, isEnrolled: gw.isEnrolled };
    assert.throws(() => checkReport(gw.state, createReport(reportOf(m2, { counter: 50 }), key('mallory')), device, opts), rejected('bad-signature'));
    const wrongKid = signEnvelope(JSON.stringify(reportOf(m2, { counter: 51 })), deviceKey, { kid: keyToDid(key('mallory')) });
    assert.throws(() => checkReport(gw.state, wrongKid, device, opts), rejected('bad-signature'));
    assert.throws(() => checkReport(gw.state, 'not an envelope', device, opts), rejected('malformed'));
  });

  it('unenrolled device: updates and reports are refused', () => {
    const { gw, m2 } = setup();
    const strangerKey = key('device-unenrolled');
    const stranger = keyToDid(strangerKey);
    assert.throws(() => gw.update({ device: stranger, vendor: ACME, class: THERMO, sequence: 3 }), rejected('unenrolled-device'));
    assert.throws(() => gw.report(strangerKey, reportOf(m2, { counter: 1 })), rejected('unenrolled-device'));
  });

  it('same sequence, different digest: at registration and against what the device has', () => {
    const { gw, device, vendorKey } = setup();
    const twin = manifest(ACME, THERMO, 3, { digest: imageDigest('twin') });
    assert.throws(() => checkRelease(gw.state, createManifest(twin, vendorKey), gw.time), rejected('same-sequence-different-digest'));
    assert.throws(() => gw.update({ device, manifestEnvelope: createManifest(twin, vendorKey) }), rejected('same-sequence-different-digest'));
    // The device reports running #5 with an image nobody registered (recorded as 'unregistered');
    // when the vendor later registers #5 with another image, installing it over that is refused.
    const odd = manifest(ACME, THERMO, 5, { digest: imageDigest('home-made') });
    assert.equal((gw.report(key('device-a'), reportOf(odd, { counter: 3 })).body as { status: string }).status, 'unregistered');
    gw.release(manifest(ACME, THERMO, 5), vendorKey);
    assert.throws(() => gw.update({ device, vendor: ACME, class: THERMO, sequence: 5 }), rejected('same-sequence-different-digest'));
    gw.release(manifest(ACME, THERMO, 6), vendorKey);
    assert.equal(gw.update({ device, vendor: ACME, class: THERMO, sequence: 6 }).from?.digest, odd.digest);
  });

  it('unknown release: an update naming a release never registered', () => {
    const { gw, device, vendorKey } = setup();
    assert.throws(() => gw.update({ device, vendor: ACME, class: THERMO, sequence: 42 }), rejected('unknown-release'));
    const unregistered = createManifest(manifest(ACME, THERMO, 42), vendorKey);
    assert.throws(() => gw.update({ device, manifestEnvelope: unregistered }), rejected('unknown-release'));
  });

  it('every rejection is on the record with its reason', () => {
    const { gw, device } = setup();
    for (const seq of [1, 42]) assert.throws(() => gw.update({ device, vendor: ACME, class: THERMO, sequence: seq }));
    assert.deepEqual(
      gw.state.rejections().map((r) => [r.reason, r.subject, r.device, r.sequence]),
      [
        ['rollback', 'update', device, 1],
        ['unknown-release', 'update', device, 42],
      ],
    );
  });

  it('checkUpdate by itself writes nothing and needs isEnrolled', () => {
    const { gw, device } = setup();
    const before = gw.records.length;
    checkUpdate(gw.state, { device, vendor: ACME, class: THERMO, sequence: 3 }, { now: gw.time, isEnrolled: () => true });
    assert.equal(gw.records.length, before);
    assert.throws(
      () => checkUpdate(gw.state, { device, vendor: ACME, class: THERMO, sequence: 3 }, { now: gw.time } as never),
      rejected('malformed'),
    );
  });
});
