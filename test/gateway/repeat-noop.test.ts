import * as assert from 'node:assert/strict';
import { toHex, utf8 } from '../../lib/encoding/bytes';
import { generateKey, keyToDid, sha256 } from '../../lib/crypto';
import { toRecordBody } from '../../lib/envelope/payload';
import { checkRelease, createManifest, type Manifest } from '../../lib/firmware';
import { FIRMWARE_RELEASE, FIRMWARE_VENDOR } from '../../lib/gateway';
import { ENROL, REVOKE, TOFU } from '../../lib/registry/devices';
import { gatewayPerTest } from '../support/gateway';

// A revocation of a device revoked already, and a release registered again with the manifest
// envelope it was registered with, change nothing: they write no record and say so (the receipt
// of the record that holds them, `unchanged`). Ledgers written before, which hold such repeats,
// still load and audit clean.


/** Three identical changes at once: the first one recorded at `size`, the other two answered unchanged with its receipt. */
function assertOneRecordOfThree(answers: { index: number; unchanged?: true }[], size: number): void {
  assert.deepEqual(
    answers.map((a) => [a.index, a.unchanged]),
    [
      [size, undefined],
      [size, true],
      [size, true],
    ],
  );
}
describe('gateway: repeats that change nothing are not recorded again', () => {
  const gatewayKey = generateKey('Ed25519');
  const vendor = generateKey('Ed25519');
  const image = utf8('firmware image 7');
  const manifest = (sequence: number, extra: Partial<Manifest> = {}): Manifest => ({
    vendor: 'acme',
    class: 'thermo',
    version: `1.${sequence}`,
    sequence,
    digest: toHex(sha256(image)),
    size: image.length,
    ...extra,
  });
  const g = gatewayPerTest({ name: 'repeats', gatewayKey, blockRecords: 3, blockSeconds: 0 });

  it('revoking a revoked device writes nothing and answers the receipt of the revocation, unchanged, also after a restart', async () => {
    const did = keyToDid(generateKey('Ed25519'));
    await g.gw.enrol({ did, name: 'probe' });
    const first = await g.gw.revoke({ did, reason: 'key lost' });
    assert.equal(first.unchanged, undefined);
    const size = g.gw.ledger.size;
    const again = await g.gw.revoke({ did, reason: 'another reason' });
    assert.deepEqual(again, { ...first, unchanged: true });
    assert.equal(g.gw.ledger.size, size);
    await g.restart();
    assert.deepEqual(await g.gw.revoke({ did }), { ...first, unchanged: true });
    assert.equal(g.gw.ledger.size, size);
    // Enrolled again, then revoked: a new revocation.
    await g.gw.enrol({ did, name: 'probe' });
    const later = await g.gw.revoke({ did });
    assert.equal(later.unchanged, undefined);
    assert.equal(later.index, size + 1);
    await assert.rejects(g.gw.revoke({ did: keyToDid(generateKey('Ed25519')) }), { code: 'ERR_UNKNOWN_DEVICE' });
    assert.deepEqual((await g.audit()).findings, []);
  });

  it('two revocations of one device at once write one record', async () => {
    const did = keyToDid(generateKey('Ed25519'));
    await g.gw.enrol({ did });
    const size = g.gw.ledger.size;
    const answers = await Promise.all([g.gw.revoke({ did }), g.gw.revoke({ did }), g.gw.revoke({ did })]);
    assertOneRecordOfThree(answers, size);
  });

  it('a release registered again with the same envelope writes nothing: decision "unchanged", the registration\'s receipt and body', async () => {
    const fw = await g.gw.firmware();
    await fw.trustVendor('acme', keyToDid(vendor));
    const envelope = createManifest(manifest(7), vendor);
    const first = await fw.registerRelease(envelope);
    assert.equal(first.decision, 'recorded');
    const size = g.gw.ledger.size;
    const again = await fw.registerRelease(envelope);
    assert.equal(again.decision, 'unchanged');
    assert.deepEqual(again.receipt, first.receipt);
    assert.deepEqual(again.body, (await g.gw.ledger.get(first.receipt.index)).record.body);
    assert.equal(g.gw.ledger.size, size);
    // The same manifest as COSE is another envelope: registered again, as before.
    const cose = await fw.registerRelease(createManifest(manifest(7), vendor, 'cose'));
    assert.equal(cose.decision, 'recorded');
    assert.equal(g.gw.ledger.size, size + 1);
    // Now the COSE envelope is the registered one; the JWS again replaces it (a change).
    assert.equal((await fw.registerRelease(envelope)).decision, 'recorded');
    assert.equal((await fw.registerRelease(envelope)).decision, 'unchanged');
    assert.equal(g.gw.ledger.size, size + 2);
    // A later expiry is a change too.
    assert.equal((await fw.registerRelease(createManifest(manifest(7, { expires: '2099-01-01T00:00:00Z' }), vendor))).decision, 'recorded');
    const later = createManifest(manifest(7, { expires: '2099-01-01T00:00:00Z' }), vendor);
    await g.restart();
    const fw2 = await g.gw.firmware();
    assert.equal((await fw2.registerRelease(later)).decision, 'unchanged', 'after a restart');
    assert.equal(g.gw.ledger.size, size + 3);
    // A repeat that fails a check is still a rejection, recorded as before.
    await fw2.trustVendor('acme', keyToDid(vendor), 'revoke');
    const refused = await fw2.registerRelease(later);
    assert.equal(refused.decision, 'rejected');
    assert.equal(g.gw.ledger.size, size + 5);
    assert.deepEqual((await g.audit()).findings, []);
  });

  it('an older ledger holding repeated revocations and releases loads, audits clean, and takes the repeat as unchanged', async () => {
    const did = keyToDid(generateKey('Ed25519'));
    await g.gw.enrol({ did, name: 'probe' });
    const fw = await g.gw.firmware();
    await fw.trustVendor('acme', keyToDid(vendor));
    const envelope = createManifest(manifest(7), vendor);
    // As gateways before this change wrote them: every revocation and registration a record.
    const firstRevoke = await g.gw.record({ type: REVOKE, device: did, body: { did, reason: 'key lost' } });
    await g.gw.record({ type: REVOKE, device: did, body: { did, reason: 'key lost' } });
    const releases = [];
    for (let k = 0; k < 2; k++) {
      const body = toRecordBody(checkRelease(fw.state, envelope, Date.now()));
      releases.push(await g.gw.record({ type: FIRMWARE_RELEASE, body, envelope }));
    }
    assert.deepEqual((await g.audit()).findings, []);
    await g.restart();
    assert.equal(g.gw.devices.get(did)?.revokedAt, firstRevoke.index);
    const size = g.gw.ledger.size;
    const revokedAgain = await g.gw.revoke({ did });
    assert.deepEqual([revokedAgain.index, revokedAgain.unchanged, revokedAgain.leafHash], [firstRevoke.index, true, firstRevoke.leafHash]);
    const again = await (await g.gw.firmware()).registerRelease(envelope);
    assert.equal(again.decision, 'unchanged');
    assert.equal(again.receipt.index, releases[1]?.index);
    assert.equal(g.gw.ledger.size, size);
    assert.deepEqual((await g.audit()).findings, []);
  });

  it('enrolling a device again as it stands writes nothing and answers the receipt of the enrolment, unchanged, also after a restart', async () => {
    const did = keyToDid(generateKey('Ed25519'));
    const meta = () => ({ room: 'cold room 2', n: 1, zero: 0, tags: ['a', 'b'], raw: Buffer.from([1, 2, 3]), deep: { ok: true, none: null } });
    const first = await g.gw.enrol({ did, name: 'probe', meta: meta() });
    assert.equal(first.unchanged, undefined);
    const size = g.gw.ledger.size;
    // New objects, keys in another order, a reason: the same enrolment.
    const { deep: _deep, ...rest } = meta();
    const again = await g.gw.enrol({ reason: 'on start', meta: { deep: { none: null, ok: true }, ...rest }, name: 'probe', did });
    assert.deepEqual(again, { ...first, unchanged: true });
    assert.equal(g.gw.ledger.size, size);
    await g.restart();
    assert.deepEqual(await g.gw.enrol({ did, name: 'probe', meta: meta() }), { ...first, unchanged: true }, 'after a restart (meta read back from the ledger)');
    assert.equal(g.gw.ledger.size, size);
    // Each change is recorded: another name, other meta (a value, -0 for 0, a key more or less, none).
    const changes: Record<string, unknown>[] = [
      { did, name: 'probe 2', meta: meta() },
      { did, name: 'probe 2', meta: { ...meta(), n: 2 } },
      { did, name: 'probe 2', meta: { ...meta(), n: 2, zero: -0 } },
      { did, name: 'probe 2', meta: { ...meta(), n: 2, zero: -0, more: 'x' } },
      { did, name: 'probe 2', meta: {} },
      { did, name: 'probe 2' },
    ];
    for (const [k, request] of changes.entries()) {
      const receipt = await g.gw.enrol(request);
      assert.deepEqual([receipt.index, receipt.unchanged], [size + k, undefined], `change ${k}`);
      assert.equal((await g.gw.enrol(request)).unchanged, true, `change ${k} again`);
    }
    assert.equal(g.gw.ledger.size, size + changes.length);
    // Without a name the device is known by the end of its did: that name given is the same.
    const other = keyToDid(generateKey('Ed25519'));
    const unnamed = await g.gw.enrol({ did: other });
    assert.deepEqual(await g.gw.enrol({ did: other, name: other.slice(-8) }), { ...unnamed, unchanged: true });
    // A revoked device enrolled again as it was is recorded: it is active again.
    await g.gw.revoke({ did });
    const back = await g.gw.enrol({ did, name: 'probe 2' });
    assert.equal(back.unchanged, undefined);
    assert.equal(g.gw.devices.active(did), true);
    assert.deepEqual((await g.audit()).findings, []);
  });

  it('enrolling a device trusted on first use is recorded, as it makes it an enrolled device', async () => {
    const did = keyToDid(generateKey('Ed25519'));
    await g.gw.record({ type: TOFU, device: did, body: { did, name: 'probe', reason: 'trust on first use' } });
    assert.equal(g.gw.devices.activeTofuCount, 1);
    const enrolled = await g.gw.enrol({ did, name: 'probe' });
    assert.equal(enrolled.unchanged, undefined);
    assert.equal(g.gw.devices.activeTofuCount, 0);
    assert.equal((await g.gw.enrol({ did, name: 'probe' })).unchanged, true);
  });

  it('three identical enrolments of one device at once write one record', async () => {
    const did = keyToDid(generateKey('Ed25519'));
    const size = g.gw.ledger.size;
    const answers = await Promise.all([0, 1, 2].map(() => g.gw.enrol({ did, name: 'probe', meta: { at: 'door' } })));
    assertOneRecordOfThree(answers, size);
  });

  it('an older ledger holding repeated enrolments loads, audits clean, and takes the repeat as unchanged', async () => {
    const did = keyToDid(generateKey('Ed25519'));
    // As gateways before this change wrote them: every enrolment a record.
    const enrolments = [];
    for (let k = 0; k < 3; k++) enrolments.push(await g.gw.record({ type: ENROL, device: did, body: { did, name: 'probe', meta: { room: 'A', n: 1 } } }));
    assert.deepEqual((await g.audit()).findings, []);
    await g.restart();
    assert.equal(g.gw.devices.get(did)?.enrolledAt, enrolments[2]?.index);
    const size = g.gw.ledger.size;
    const again = await g.gw.enrol({ did, name: 'probe', meta: { n: 1, room: 'A' } });
    assert.deepEqual([again.index, again.unchanged, again.leafHash], [enrolments[2]?.index, true, enrolments[2]?.leafHash]);
    assert.equal(g.gw.ledger.size, size);
    assert.deepEqual((await g.audit()).findings, []);
  });

  it('a vendor key trusted (revoked) again as it stands writes nothing: decision "unchanged", the receipt and body of its record', async () => {
    const fw = await g.gw.firmware();
    const did = keyToDid(vendor);
    const first = await fw.trustVendor('acme', did);
    assert.equal(first.decision, 'recorded');
    const size = g.gw.ledger.size;
    const again = await fw.trustVendor('acme', did);
    assert.equal(again.decision, 'unchanged');
    assert.deepEqual(again.receipt, first.receipt);
    assert.deepEqual(again.body, (await g.gw.ledger.get(first.receipt.index)).record.body);
    assert.equal(g.gw.ledger.size, size);
    // The same key for another vendor is another trust: recorded.
    assert.equal((await fw.trustVendor('other', did)).decision, 'recorded');
    assert.equal(g.gw.ledger.size, size + 1);
    await g.restart();
    const fw2 = await g.gw.firmware();
    const restarted = await fw2.trustVendor('acme', did);
    assert.deepEqual([restarted.decision, restarted.receipt], ['unchanged', first.receipt], 'after a restart');
    // Revoked: recorded once, then unchanged with the revocation's receipt.
    const revoked = await fw2.trustVendor('acme', did, 'revoke');
    assert.equal(revoked.decision, 'recorded');
    const revokedAgain = await fw2.trustVendor('acme', did, 'revoke');
    assert.deepEqual([revokedAgain.decision, revokedAgain.receipt, revokedAgain.body.action], ['unchanged', revoked.receipt, 'revoke']);
    assert.equal(g.gw.ledger.size, size + 2);
    // Trusting a revoked key is still a rejection, recorded.
    assert.equal((await fw2.trustVendor('acme', did)).decision, 'rejected');
    assert.equal(g.gw.ledger.size, size + 3);
    // A key never trusted, revoked: recorded (it cannot be trusted after it), then unchanged.
    const never = keyToDid(generateKey('Ed25519'));
    const blocked = await fw2.trustVendor('acme', never, 'revoke');
    assert.equal(blocked.decision, 'recorded');
    assert.deepEqual([(await fw2.trustVendor('acme', never, 'revoke')).decision, g.gw.ledger.size], ['unchanged', size + 4]);
    assert.deepEqual((await g.audit()).findings, []);
  });

  it('an older ledger holding repeated vendor key records loads, audits clean, and takes the repeat as unchanged', async () => {
    const trusted = keyToDid(vendor);
    const revoked = keyToDid(generateKey('Ed25519'));
    // As gateways before this change wrote them: every trust and revocation a record.
    const trusts = [];
    const revocations = [];
    for (let k = 0; k < 2; k++) trusts.push(await g.gw.record({ type: FIRMWARE_VENDOR, body: { vendor: 'acme', did: trusted, action: 'trust' } }));
    await g.gw.record({ type: FIRMWARE_VENDOR, body: { vendor: 'acme', did: revoked, action: 'trust' } });
    for (let k = 0; k < 2; k++) revocations.push(await g.gw.record({ type: FIRMWARE_VENDOR, body: { vendor: 'acme', did: revoked, action: 'revoke' } }));
    assert.deepEqual((await g.audit()).findings, []);
    await g.restart();
    const fw = await g.gw.firmware();
    assert.equal(fw.state.isTrusted('acme', trusted), true);
    assert.equal(fw.state.isRevoked('acme', revoked), true);
    const size = g.gw.ledger.size;
    const trustedAgain = await fw.trustVendor('acme', trusted);
    assert.deepEqual([trustedAgain.decision, trustedAgain.receipt.index, trustedAgain.receipt.leafHash], ['unchanged', trusts[1]?.index, trusts[1]?.leafHash]);
    const revokedAgain = await fw.trustVendor('acme', revoked, 'revoke');
    assert.deepEqual([revokedAgain.decision, revokedAgain.receipt.index], ['unchanged', revocations[1]?.index]);
    assert.equal(g.gw.ledger.size, size);
    assert.deepEqual((await g.audit()).findings, []);
  });
});
