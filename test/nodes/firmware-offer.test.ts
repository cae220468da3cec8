import * as assert from 'node:assert/strict';
import { toHex, utf8 } from '../../lib/encoding/bytes';
import { generateKey, keyToDid, sha256 } from '../../lib/crypto';
import { createManifest, verifyFirmwareOffer } from '../../lib/firmware';
import type { LedgerConfigNode } from '../../nodes/lib/ledger-config';
import { until } from '../support/until';
import { helper, ledgerNode, messages, nextMessage, onTab, packNodes, useTestRuntime } from './support';

describe('Firmware node: publishes the offer a device pulls after an approved decision', function () {
  this.timeout(30000);
  useTestRuntime();

  it('sends the retained offer on iot-ledger/firmware/<device> only for approved decisions', async () => {
    const vendor = generateKey('Ed25519');
    const device = keyToDid(generateKey('Ed25519'));
    const image = utf8('image 7');
    const manifest = { vendor: 'acme', class: 'thermo', version: '1.7', sequence: 7, digest: toHex(sha256(image)), size: image.length };
    await helper.load(
      packNodes(),
      onTab([
        ledgerNode('ledger', { ledgerName: 'fw-offer' }),
        { id: 'fw', type: 'iot-ledger-firmware', ledger: 'ledger', mode: 'check', publishOffer: true, wires: [['out']] },
        { id: 'out', type: 'helper' },
      ]),
    );
    const gw = await (helper.getNode('ledger') as unknown as LedgerConfigNode).gateway();
    await gw.enrol({ did: device, name: 'thermo' });
    const fw = helper.getNode('fw');
    const out = helper.getNode('out');
    let next = nextMessage(out);
    fw.receive({ mode: 'vendor', payload: { vendor: 'acme', did: keyToDid(vendor) } });
    await next;
    next = nextMessage(out);
    fw.receive({ mode: 'release', payload: createManifest(manifest, vendor) });
    await next;
    const two = messages<{ topic?: string; retain?: boolean; payload: unknown; firmware?: { decision: string } }>(out, 2);
    fw.receive({ payload: { device, vendor: 'acme', class: 'thermo', sequence: 7 } });
    const [decision, offer] = await two;
    assert.equal(decision.firmware?.decision, 'approved');
    assert.equal(offer.topic, `iot-ledger/firmware/${device}`);
    assert.equal(offer.retain, true);
    const ok = verifyFirmwareOffer(JSON.parse(JSON.stringify(offer.payload)), { gatewayKey: gw.ledger.gatewayDid, device, vendorKeys: [keyToDid(vendor)], installedSequence: 6, image });
    assert.equal(ok.manifest.sequence, 7);
    // A rejected decision (unknown release) sends the decision only: the next message is the next decision.
    next = nextMessage(out);
    fw.receive({ payload: { device, vendor: 'acme', class: 'thermo', sequence: 8 } });
    assert.equal(((await next) as { firmware?: { decision: string } }).firmware?.decision, 'rejected');
    next = nextMessage(out);
    fw.receive({ payload: { device, vendor: 'acme', class: 'thermo', sequence: 7 } });
    assert.equal(((await next) as { firmware?: { decision: string } }).firmware?.decision, 'approved');
  });

  it('publishes its offer again when the broker hands back another payload on the offer topic (an MQTT in wired back), once for a flood; leaves reports and others alone', async () => {
    const vendor = generateKey('Ed25519');
    const device = keyToDid(generateKey('Ed25519'));
    const image = utf8('image 3');
    const manifest = { vendor: 'acme', class: 'thermo', version: '1.3', sequence: 3, digest: toHex(sha256(image)), size: image.length };
    await helper.load(
      packNodes(),
      onTab([
        ledgerNode('ledger', { ledgerName: 'fw-offer-kept' }),
        { id: 'fw', type: 'iot-ledger-firmware', ledger: 'ledger', mode: 'check', publishOffer: true, wires: [['out']] },
        { id: 'out', type: 'helper' },
        { id: 'catch', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
        { id: 'caught', type: 'helper' },
      ]),
    );
    const gw = await (helper.getNode('ledger') as unknown as LedgerConfigNode).gateway();
    await gw.enrol({ did: device, name: 'thermo' });
    const fw = helper.getNode('fw');
    const out = helper.getNode('out');
    const sent: { topic?: string; payload: unknown }[] = [];
    out.on('input', (m: { topic?: string; payload: unknown }) => sent.push(m));
    const caught: unknown[] = [];
    helper.getNode('caught').on('input', (m: unknown) => caught.push(m));
    fw.receive({ mode: 'vendor', payload: { vendor: 'acme', did: keyToDid(vendor) } });
    fw.receive({ mode: 'release', payload: createManifest(manifest, vendor) });
    fw.receive({ payload: { device, vendor: 'acme', class: 'thermo', sequence: 3 } });
    const topic = `iot-ledger/firmware/${device}`;
    const offer = await until('the offer', () => sent.find((m) => m.topic === topic));
    const ours = JSON.stringify(offer.payload);

    // Ours coming back (as bytes, as text, parsed) changes nothing; someone else's gets ours again, once for many.
    for (const payload of [Buffer.from(ours), ours, JSON.parse(ours) as unknown]) fw.receive({ topic, payload });
    fw.receive({ topic: 'iot-ledger/firmware/did:key:z6Mkother', payload: 'not ours' });
    const before = sent.length;
    for (let i = 0; i < 50; i++) fw.receive({ topic, payload: i % 2 ? '' : Buffer.from('{"forged":true}') });
    const again = await until('our offer again', () => sent.slice(before).find((m) => m.topic === topic));
    assert.deepEqual(again.payload, offer.payload);
    assert.equal(sent.slice(before).filter((m) => m.topic === topic).length, 1);
    // A report on the topic below still goes to the report path: with this node's mode it is a check request, refused.
    fw.receive({ topic: `${topic}/report`, payload: 'x' });
    await until('the report refused', () => caught.length === 1);
  });
  it('withdraws the offers of a vendor key it revokes: clears them on the broker and no longer publishes them again', async () => {
    const vendor = generateKey('Ed25519');
    const other = generateKey('Ed25519');
    const [device, device2] = [keyToDid(generateKey('Ed25519')), keyToDid(generateKey('Ed25519'))];
    const image = utf8('image 4');
    const manifest = { vendor: 'acme', class: 'thermo', version: '1.4', sequence: 4, digest: toHex(sha256(image)), size: image.length };
    await helper.load(
      packNodes(),
      onTab([
        ledgerNode('ledger', { ledgerName: 'fw-offer-revoked' }),
        { id: 'fw', type: 'iot-ledger-firmware', ledger: 'ledger', mode: 'check', publishOffer: true, wires: [['out']] },
        { id: 'out', type: 'helper' },
      ]),
    );
    const gw = await (helper.getNode('ledger') as unknown as LedgerConfigNode).gateway();
    await gw.enrol({ did: device, name: 'thermo' });
    await gw.enrol({ did: device2, name: 'thermo-2' });
    const fw = helper.getNode('fw');
    const sent: { topic?: string; retain?: boolean; payload: unknown; firmware?: { decision: string } }[] = [];
    helper.getNode('out').on('input', (m: (typeof sent)[number]) => sent.push(m));
    // Release 4 of vendor key 1 for the first device, release 4 of another vendor for the second.
    fw.receive({ mode: 'vendor', payload: { vendor: 'acme', did: keyToDid(vendor) } });
    fw.receive({ mode: 'vendor', payload: { vendor: 'other', did: keyToDid(other) } });
    fw.receive({ mode: 'release', payload: createManifest(manifest, vendor) });
    fw.receive({ mode: 'release', payload: createManifest({ ...manifest, vendor: 'other' }, other) });
    fw.receive({ payload: { device, vendor: 'acme', class: 'thermo', sequence: 4 } });
    fw.receive({ payload: { device: device2, vendor: 'other', class: 'thermo', sequence: 4 } });
    const [topic, topic2] = [`iot-ledger/firmware/${device}`, `iot-ledger/firmware/${device2}`];
    await until('both offers', () => sent.some((m) => m.topic === topic) && sent.some((m) => m.topic === topic2));

    // The key turns out to be compromised: its manifests must no longer reach devices.
    fw.receive({ mode: 'vendor', payload: { vendor: 'acme', did: keyToDid(vendor), action: 'revoke' } });
    const cleared = await until('the offer cleared', () => sent.find((m) => m.topic === topic && m.payload === ''));
    assert.equal(cleared.retain, true);
    assert.ok(!sent.some((m) => m.topic === topic2 && m.payload === ''), "the other vendor's offer stays");
    // Overwritten (by anyone, or the cleared copy coming back), the withdrawn offer is not published again; the other one is.
    const before = sent.length;
    fw.receive({ topic, payload: Buffer.from('{"forged":true}') });
    fw.receive({ topic: topic2, payload: Buffer.from('{"forged":true}') });
    await until('the other offer restored', () => sent.slice(before).some((m) => m.topic === topic2));
    assert.deepEqual(sent.slice(before).filter((m) => m.topic === topic), []);
  });
});
