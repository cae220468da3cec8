import * as assert from 'node:assert/strict';
import { generateKey, keyToDid } from '../../lib/crypto';
import { isLedgerError } from '../../lib/errors';
import { gatewayPerTest } from '../support/gateway';

// Enrolment meta is held by its device.enrol record, as CBOR: the registry reads it back from
// there when the gateway starts. A BigInt, which a record holds but reads back as a number (up
// to 2^53 - 1), is refused at enrolment, naming it; what no record holds (a Date, a Map, NaN) is
// refused as before; what is accepted reads back the same before and after a restart.

describe('gateway: enrolment meta reads back as it was given, or is refused', () => {
  const gatewayKey = generateKey('Ed25519');
  const g = gatewayPerTest({ name: 'enrol-meta', gatewayKey, blockSeconds: 0 });

  const bigints: [string, Record<string, unknown>, string][] = [
    ['a BigInt', { serial: 5n }, 'meta.serial is 5n'],
    ['a BigInt past 2^53', { serial: 2n ** 60n }, 'meta.serial is 1152921504606846976n'],
    ['a BigInt in an array', { ids: [1, 2n] }, 'meta.ids[1] is 2n'],
    ['a BigInt deeper down', { site: { rack: { slot: -3n } } }, 'meta.site.rack.slot is -3n'],
  ];
  for (const [what, meta, named] of bigints) {
    it(`refuses ${what} with ERR_INVALID_ARGUMENT naming it, recording nothing`, async () => {
      const did = keyToDid(generateKey('Ed25519'));
      const size = g.gw.ledger.size;
      await assert.rejects(g.gw.enrol({ did, name: 'probe', meta }), (err: unknown) => {
        assert.ok(isLedgerError(err, 'ERR_INVALID_ARGUMENT'), String(err));
        assert.ok(err.message.includes(named), err.message);
        return true;
      });
      assert.equal(g.gw.ledger.size, size);
      assert.equal(g.gw.devices.get(did), undefined);
    });
  }

  // What no record holds is refused as the record refuses it, as before.
  for (const [what, meta] of [
    ['a Date', { installed: new Date(0) }],
    ['a Map', { labels: new Map([['room', 'cold']]) }],
    ['NaN', { ratio: NaN }],
    ['undefined', { left: undefined }],
  ] as const) {
    it(`refuses ${what} with ERR_MALFORMED_RECORD, recording nothing`, async () => {
      const did = keyToDid(generateKey('Ed25519'));
      const size = g.gw.ledger.size;
      await assert.rejects(g.gw.enrol({ did, meta }), { code: 'ERR_MALFORMED_RECORD', message: /^body\.meta\./ });
      assert.equal(g.gw.ledger.size, size);
      assert.equal(g.gw.devices.get(did), undefined);
    });
  }

  it('meta of text, numbers, true/false, null, bytes, arrays and objects reads back the same, before and after a restart', async () => {
    const did = keyToDid(generateKey('Ed25519'));
    const meta = {
      site: 'cold room 2',
      floor: 2,
      ratio: 1.5,
      large: 2 ** 60,
      negativeZero: -0,
      installed: true,
      owner: null,
      tags: ['a', 1, null, [false]],
      nested: { deep: { x: 'y' } },
      key: Uint8Array.from([1, 2, 3]),
    };
    await g.gw.enrol({ did, name: 'probe', meta });
    const before = g.gw.devices.get(did)?.meta as Record<string, unknown>;
    meta.nested.deep.x = 'changed by the caller afterwards';
    assert.deepEqual(before, { ...meta, nested: { deep: { x: 'y' } } });
    await g.restart();
    const after = g.gw.devices.get(did)?.meta as Record<string, unknown>;
    assert.deepEqual({ ...after, key: Uint8Array.from(after.key as Uint8Array) }, before);
    assert.ok(Object.is(after.negativeZero, -0));
    assert.equal(typeof after.large, 'number');
  });

  // A revocation records no meta: a request that carries the device's meta (the object the flow
  // enrolled it with before meta was checked, a BigInt serial or a Date) must still revoke it.
  for (const [what, meta] of [
    ['a BigInt', { serial: 2n ** 60n }],
    ['a Date', { installed: new Date(0) }],
  ] as const) {
    it(`revokes a device whose revoke request carries ${what} in meta, recording no meta`, async () => {
      const did = keyToDid(generateKey('Ed25519'));
      await g.gw.enrol({ did, name: 'probe', meta: { serial: '1152921504606846976' } });
      const receipt = await g.gw.revoke({ did, name: 'probe', meta, reason: 'retired' });
      assert.notEqual(receipt.unchanged, true);
      assert.notEqual(g.gw.devices.get(did)?.revokedAt, undefined);
      assert.deepEqual((await g.gw.ledger.get(receipt.index)).record.body, { did, reason: 'retired' });
    });
  }
});
