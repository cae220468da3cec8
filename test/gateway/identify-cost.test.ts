import * as assert from 'node:assert/strict';
import { generateKey, keyToDid } from '../../lib/crypto';
import { signEnvelope } from '../../lib/envelope/envelope';
import { isLedgerError } from '../../lib/errors';
import { DeviceRegistry, ENROL, TOFU } from '../../lib/registry/devices';
import { identifySigner } from '../../lib/registry/verify-message';

// identifySigner runs on Node-RED's thread for every message, before any queue can shed it.
// A kid that is no enrolled did:key is looked up as a device name: that must not walk the
// fleet, which with trust on first use anyone who can publish can grow (a device per key).

describe('registry: who signed a message, found without walking the fleet', () => {
  const registry = new DeviceRegistry();
  const named = generateKey('Ed25519');
  before(() => {
    for (let i = 0; i < 1000; i++) registry.apply(TOFU, { did: `did:key:z6Mk${String(i).padStart(44, 'x')}` }, i);
    registry.apply(ENROL, { did: keyToDid(named), name: 'sensor-7' }, 1000);
  });

  it('an unknown kid is refused without listing the devices', () => {
    const list = registry.list.bind(registry);
    registry.list = () => assert.fail('the device list was walked for one message');
    try {
      for (let i = 0; i < 20; i++) {
        const m = signEnvelope({ counter: i }, generateKey('Ed25519'), { kid: `nobody-${i}` }) as string;
        assert.throws(() => identifySigner(m, registry), (err: unknown) => isLedgerError(err, 'ERR_UNKNOWN_DEVICE'));
      }
      const byName = signEnvelope({ counter: 1 }, named, { kid: 'sensor-7' }) as string;
      assert.equal(identifySigner(byName, registry).device.did, keyToDid(named));
    } finally {
      registry.list = list;
    }
  });

  it('an unknown kid of any length is quoted clipped in the error (it reaches logs and Catch)', () => {
    const kid = `nobody-${'k'.repeat(40_000)}`;
    const m = signEnvelope({ counter: 1 }, generateKey('Ed25519'), { kid }) as string;
    assert.throws(
      () => identifySigner(m, registry),
      (err: unknown) => isLedgerError(err, 'ERR_UNKNOWN_DEVICE') && err.message.length < 300 && err.message.includes(kid.slice(0, 128)) && String(err.details?.kid).length === 129,
    );
  });

  it('a kid or hint naming an enrolled device by its name still finds it, the first of that name', () => {
    const m = signEnvelope({ counter: 1 }, named, { kid: 'sensor-7' }) as string;
    assert.equal(identifySigner(m, registry).device.did, keyToDid(named));
    const noKid = signEnvelope({ counter: 1 }, named) as string;
    assert.equal(identifySigner(noKid, registry, { deviceHint: 'sensor-7' }).device.did, keyToDid(named));
    // A later device of the same name does not take it over; a renamed one gives it up.
    const other = keyToDid(generateKey('Ed25519'));
    const r = new DeviceRegistry();
    r.apply(ENROL, { did: keyToDid(named), name: 'a' }, 0);
    r.apply(ENROL, { did: other, name: 'a' }, 1);
    assert.equal(identifySigner(m.replace(/^[^.]+/, Buffer.from(JSON.stringify({ alg: 'EdDSA', kid: 'a' })).toString('base64url')), r).device.did, keyToDid(named));
    r.apply(ENROL, { did: keyToDid(named), name: 'b' }, 2);
    assert.equal(identifySigner(noKid, r, { deviceHint: 'a' }).device.did, other);
    assert.equal(identifySigner(noKid, r, { deviceHint: 'b' }).device.did, keyToDid(named));
    // Renamed back, it is again the first of the name: enrolment order is the first enrolment's.
    r.apply(ENROL, { did: keyToDid(named), name: 'a' }, 3);
    assert.equal(identifySigner(noKid, r, { deviceHint: 'a' }).device.did, keyToDid(named));
    assert.equal(r.named('b'), undefined);
  });
});
