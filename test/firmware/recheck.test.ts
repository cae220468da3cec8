// Audit support: replaying the rules over the state before each record finds forged records.
import * as assert from 'node:assert/strict';
import { keyToDid } from '../../lib/crypto';
import {
  createManifest,
  createReport,
  FirmwareState,
  recheckDecision,
  recheckRecord,
  recheckRelease,
  recheckReport,
  recheckVendor,
  type ApprovedDecisionBody,
  type RecheckResult,
} from '../../lib/firmware';
import { Gateway, imageDigest, key, manifest, reportOf, type TestRecord } from './fixtures';

/** Rechecks every record against the state just before it; returns the findings. */
function audit(records: TestRecord[]): { index: number; result: RecheckResult }[] {
  const state = new FirmwareState();
  const findings: { index: number; result: RecheckResult }[] = [];
  for (const r of records) {
    const result = recheckRecord(state, r);
    if (!result.ok) findings.push({ index: r.index, result });
    state.apply(r.type, r.body, r.index, r.time);
  }
  return findings;
}

function setup() {
  const gw = new Gateway();
  const vendorKey = key('acme-1');
  const deviceKey = key('device-a');
  gw.trust('acme', vendorKey);
  const device = gw.enrol(deviceKey);
  const ms = [1, 2, 3].map((s) => manifest('acme', 'thermo', s));
  gw.release(ms[0], vendorKey);
  gw.release(ms[1], vendorKey, 'cose');
  gw.release(ms[2], vendorKey);
  const approval = gw.update({ device, vendor: 'acme', class: 'thermo', sequence: 2 });
  gw.report(deviceKey, reportOf(ms[1], { counter: 1 }));
  return { gw, vendorKey, deviceKey, device, ms, approval };
}

/** Writes an approval straight to the log, as a tampering gateway (or a bug) would. */
function forge(gw: Gateway, base: ApprovedDecisionBody, change: Partial<ApprovedDecisionBody>): TestRecord {
  return gw.append('firmware.decision', { ...base, at: gw.time + 1000, ...change });
}

describe('firmware recheck (audit support)', () => {
  it('an honest log rechecks clean, record by record', () => {
    const { gw, device, deviceKey, ms, vendorKey } = setup();
    gw.update({ device, vendor: 'acme', class: 'thermo', sequence: 3 }, { approver: 'ops', image: { digest: ms[2].digest, size: ms[2].size } });
    assert.throws(() => gw.update({ device, vendor: 'acme', class: 'thermo', sequence: 1 }));
    gw.report(deviceKey, reportOf(ms[1], { counter: 2 }));
    gw.report(deviceKey, reportOf(ms[2], { counter: 3 }), 'cose');
    gw.trust('acme', vendorKey, 'revoke');
    assert.deepEqual(audit(gw.records), []);
  });

  it('finds a forged approval of a rollback', () => {
    const { gw, approval, ms } = setup();
    const forged = forge(gw, approval, { sequence: 1, version: ms[0].version, digest: ms[0].digest, size: ms[0].size, release: 2 });
    const findings = audit(gw.records);
    assert.deepEqual(findings.map((f) => [f.index, f.result.reason]), [[forged.index, 'rollback']]);
  });

  it('finds a forged approval of a release never registered', () => {
    const { gw, approval } = setup();
    const forged = forge(gw, approval, { sequence: 7, digest: imageDigest('backdoor') });
    assert.deepEqual(audit(gw.records).map((f) => [f.index, f.result.reason]), [[forged.index, 'unknown-release']]);
  });

  it('finds an approval whose digest is not the registered one, or whose fields were edited', () => {
    const { gw, approval, ms } = setup();
    const before = gw.state.clone();
    const good = { ...approval, sequence: 3, version: ms[2].version, digest: ms[2].digest, size: ms[2].size, release: 4, from: { sequence: 2, digest: ms[1].digest }, at: gw.time };
    assert.deepEqual(recheckDecision(before, good), { ok: true });
    assert.equal(recheckDecision(before, { ...good, digest: imageDigest('backdoor') }).reason, 'digest-mismatch');
    const edited = recheckDecision(before, { ...good, size: 5 });
    assert.equal(edited.reason, 'body-mismatch');
    assert.match(edited.message ?? '', /size/);
    assert.equal(recheckDecision(before, { ...good, signer: keyToDid(key('mallory')) }).reason, 'body-mismatch');
  });

  it('finds approvals that ignore revocation, expiry, class, or enrolment', () => {
    const { gw, approval, vendorKey, device } = setup();
    const good = { ...approval, sequence: 3, version: '1.3.0', digest: manifest('acme', 'thermo', 3).digest, size: 1003, release: 4, from: { sequence: 2, digest: approval.digest } };
    // expiry: judged at the decision's `at`, which must match the record time
    const exp = manifest('acme', 'thermo', 4, { expires: gw.time + 5000 });
    gw.release(exp, vendorKey);
    const expiredAt = gw.time + 600_000; // beyond the 5-minute skew allowed between `at` and the record time
    const late = { ...good, sequence: 4, version: exp.version, digest: exp.digest, size: exp.size, release: gw.state.lastIndex, at: expiredAt };
    assert.equal(recheckDecision(gw.state, late, { time: expiredAt }).reason, 'expired');
    assert.equal(recheckDecision(gw.state, { ...late, at: gw.time }, { time: expiredAt }).reason, 'body-mismatch');
    assert.deepEqual(recheckDecision(gw.state, { ...late, at: gw.time }, { time: gw.time }), { ok: true });
    // class asserted by the caller
    assert.equal(recheckDecision(gw.state, { ...good, at: gw.time, deviceClass: 'valve' }).reason, 'wrong-class');
    // enrolment, when the audit passes it
    assert.equal(recheckDecision(gw.state, { ...good, at: gw.time }, { isEnrolled: (d) => d !== device }).reason, 'unenrolled-device');
    // revocation
    gw.trust('acme', vendorKey, 'revoke');
    assert.equal(recheckDecision(gw.state, { ...good, at: gw.time }).reason, 'revoked-key');
    // malformed
    assert.equal(recheckDecision(gw.state, { decision: 'approved', device }).reason, 'malformed');
    // a refusal is never a finding
    assert.deepEqual(recheckDecision(gw.state, { decision: 'rejected', reason: 'rollback', message: '' }), { ok: true });
  });

  it('finds forged releases, reports and vendor records', () => {
    const { gw, vendorKey, deviceKey, device, ms } = setup();
    const state = gw.state.clone();
    const m4 = manifest('acme', 'thermo', 4);
    const env = createManifest(m4, vendorKey);
    const stranger = createManifest(m4, key('stranger'));
    const body = { manifest: m4, signer: keyToDid(vendorKey), envelopeDigest: '00'.repeat(32), at: gw.time };
    assert.equal(recheckRelease(state, body, stranger, gw.time).reason, 'unknown-signer');
    assert.equal(recheckRelease(state, body, undefined, gw.time).reason, 'malformed');
    assert.equal(recheckRelease(state, body, env, gw.time).reason, 'body-mismatch'); // envelopeDigest
    assert.equal(recheckRelease(state, { ...body, manifest: { ...m4, digest: imageDigest('x') } }, env, gw.time).reason, 'digest-mismatch');
    assert.equal(recheckRelease(state, { ...body, at: gw.time - 3_600_000 }, env, gw.time).reason, 'body-mismatch'); // backdated check

    const rep = createReport(reportOf(ms[1], { counter: 9 }), deviceKey);
    const honest = { device, class: 'thermo', version: ms[1].version, sequence: 2, digest: ms[1].digest, status: 'confirmed', vendor: 'acme', counter: 9, release: 3 };
    assert.deepEqual(recheckReport(state, honest, rep, gw.time), { ok: true });
    assert.equal(recheckReport(state, { ...honest, status: 'initial' }, rep, gw.time).reason, 'body-mismatch');
    assert.equal(recheckReport(state, { ...honest, sequence: 3 }, rep, gw.time).reason, 'body-mismatch');
    const replayed = createReport(reportOf(ms[1], { counter: 1 }), deviceKey);
    assert.equal(recheckReport(state, { ...honest, counter: 1 }, replayed, gw.time).reason, 'replay');

    gw.trust('acme', vendorKey, 'revoke');
    const retrust = gw.append('firmware.vendor', { vendor: 'acme', did: keyToDid(vendorKey), action: 'trust' });
    assert.deepEqual(audit(gw.records).map((f) => [f.index, f.result.reason]), [[retrust.index, 'revoked-key']]);
    assert.equal(recheckVendor(new FirmwareState(), { vendor: 'acme', did: 'did:key:zNope', action: 'trust' }).reason, 'malformed');
  });
});
