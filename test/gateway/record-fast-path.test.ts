import * as assert from 'node:assert/strict';
import { generateKey, keyToDid } from '../../lib/crypto';
import { encodeCbor } from '../../lib/encoding/codec';
import { signEnvelope } from '../../lib/envelope/envelope';
import { isLedgerError } from '../../lib/errors';
import { Gateway, type GatewayVerified } from '../../lib/gateway';
import { recordFromMessage } from '../../nodes/lib/record-message';
import { tempDir } from '../support/ledger';

// recordMessage() takes a message verify() accepted from memory (no second HMAC or payload
// decoding). Whatever path it takes, it records exactly what the device signed, and refuses
// what it refused before.

describe('gateway: recording what verify() accepted', () => {
  const gatewayKey = generateKey('Ed25519');
  const device = generateKey('Ed25519');
  const did = keyToDid(device);
  let tmp: ReturnType<typeof tempDir>;
  let gw: Gateway;

  beforeEach(async () => {
    tmp = tempDir();
    gw = await Gateway.open(tmp.dir, { name: 'fast', gatewayKey, blockSeconds: 0 });
    await gw.enrol({ did, name: 'freezer' });
  });
  afterEach(async () => {
    await gw.close();
    tmp.cleanup();
  });

  const message = (v: GatewayVerified, payload: unknown = v.payload) => ({
    payload,
    device: { id: v.device.did },
    envelope: v.envelope,
    verified: { counter: v.freshness.counter, time: v.freshness.time, proof: v.proof },
  });
  const record = (msg: ReturnType<typeof message>) => gw.recordMessage(recordFromMessage(msg, 'reading'), msg.verified);
  const bodyAt = async (index: number) => (await gw.ledger.get(index)).record.body;

  it('records the signed body, also when the flow rebuilt the same payload with its keys in another order', async () => {
    const text = '{"temperature":-21.5,"counter":1,"neg":-0,"huge":1e400,"list":[1,{"b":2,"a":1}]}';
    const first = message(await gw.verify(signEnvelope(text, device, { kid: did })));
    const signedBody = { temperature: -21.5, counter: 1, neg: 0, huge: null, list: [1, { b: 2, a: 1 }] };
    assert.deepEqual(await bodyAt((await record(first)).index), signedBody);

    const v = await gw.verify(signEnvelope({ temperature: -21, counter: 2 }, device, { kid: did }));
    const reordered = message(v, { counter: 2, temperature: -21 });
    const r = await record(reordered);
    assert.deepEqual(Buffer.from(encodeCbor((await bodyAt(r.index)) as never)), Buffer.from(encodeCbor({ temperature: -21, counter: 2 })));
  });

  it('refuses a payload changed in place after verify(), a changed counter, and the same message twice', async () => {
    const v = await gw.verify(signEnvelope({ temperature: -21, counter: 5 }, device, { kid: did }));
    const changed = message(v);
    (changed.payload as { temperature: number }).temperature = -30;
    await assert.rejects(record(changed), (err: unknown) => isLedgerError(err, 'ERR_INVALID_ARGUMENT') && /payload the device signed/.test((err as Error).message));

    const w = await gw.verify(signEnvelope({ temperature: -21, counter: 6 }, device, { kid: did }));
    const bumped = message(w);
    bumped.verified.counter = 60;
    await assert.rejects(record(bumped), (err: unknown) => isLedgerError(err, 'ERR_INVALID_ARGUMENT'));

    const ok = message(w);
    await record(ok);
    await assert.rejects(record(message(w)), (err: unknown) => isLedgerError(err, 'ERR_REPLAY'));
  });

  it('takes a proof it no longer remembers the slow way (HMAC and the envelope decoded again)', async () => {
    const first = await gw.verify(signEnvelope({ temperature: -20, counter: 1 }, device, { kid: did }));
    // More accepted messages than the gateway remembers (4,096): the first drops out.
    const other = generateKey('Ed25519');
    await gw.enrol({ did: keyToDid(other), name: 'other' });
    let counter = 0;
    // In chunks below the pool's per-device bound, in order (each counter newer than the last).
    const flood = async (n: number) => {
      for (let done = 0; done < n; done += 500)
        await Promise.all(Array.from({ length: 500 }, () => gw.verify(signEnvelope({ counter: ++counter }, other, { kid: keyToDid(other) }))));
    };
    await flood(4100);
    const r = await record(message(first));
    assert.deepEqual(await bodyAt(r.index), { temperature: -20, counter: 1 });
    const changed = await gw.verify(signEnvelope({ temperature: -20, counter: 2 }, device, { kid: did }));
    await flood(4100);
    await assert.rejects(record(message(changed, { temperature: 99, counter: 2 })), (err: unknown) => isLedgerError(err, 'ERR_INVALID_ARGUMENT'));
  });
});
