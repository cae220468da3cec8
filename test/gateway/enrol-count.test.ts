import * as assert from 'node:assert/strict';
import { generateKey, keyToDid } from '../../lib/crypto';
import { DeviceRegistry, ENROL, REVOKE, TOFU } from '../../lib/registry/devices';

// The Enrol node shows how many devices are active after every message. Counting them must not
// walk the fleet: with trust on first use anyone who can publish grows it (a device per key),
// and then every enrolment would cost a list of all devices.

describe('registry: the count of active devices, kept without walking the fleet', () => {
  it('activeCount follows enrol, trust on first use, revoke and re-enrol as activeDevices() does', () => {
    const r = new DeviceRegistry();
    const [a, b, c] = [0, 1, 2].map(() => keyToDid(generateKey('Ed25519'))) as [string, string, string];
    const check = (want: number) => {
      assert.equal(r.activeCount, want);
      assert.equal(r.activeDevices().length, want);
    };
    check(0);
    r.apply(ENROL, { did: a, name: 'a' }, 0);
    r.apply(TOFU, { did: b, name: 'b' }, 1);
    check(2);
    r.apply(ENROL, { did: a, name: 'a2' }, 2); // renamed: still one device
    check(2);
    r.apply(REVOKE, { did: a }, 3);
    check(1);
    r.apply(REVOKE, { did: a }, 4); // revoked twice: counted once
    r.apply(REVOKE, { did: c }, 5); // never enrolled
    check(1);
    r.apply(ENROL, { did: a }, 6); // enrolled again: active again
    check(2);
    r.apply(ENROL, { did: c }, 7);
    r.apply('reading', { did: c }, 8);
    r.apply(ENROL, { name: 'no did' }, 9);
    check(3);
  });

  it('activeCount does not list the devices', () => {
    const r = new DeviceRegistry();
    for (let i = 0; i < 1000; i++) r.apply(TOFU, { did: `did:key:z6Mk${String(i).padStart(44, 'x')}` }, i);
    r.list = () => assert.fail('the device list was walked to count it');
    assert.equal(r.activeCount, 1000);
  });
});
