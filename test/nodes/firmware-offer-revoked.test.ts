import * as assert from 'node:assert/strict';
import { toHex, utf8 } from '../../lib/encoding/bytes';
import { generateKey, keyToDid, sha256 } from '../../lib/crypto';
import { createManifest } from '../../lib/firmware';
import type { Gateway } from '../../lib/gateway';
import type { LedgerConfigNode } from '../../nodes/lib/ledger-config';
import { until } from '../support/until';
import { helper, ledgerNode, onTab, packNodes, useTestRuntime } from './support';

// A revoked device or vendor key gets no offer from the gateway any more, whoever revoked it and
// whether or not the Firmware node that published the offer has run since.

type Sent = { topic?: string; retain?: boolean; payload: unknown };

/** The helper's deploy, as the editor's "Modified nodes" deploy does it: changed nodes restart, the gateway stays open. */
const deploy = (flows: object[]): Promise<void> =>
  (helper as unknown as { setFlows(f: object[], type: string): Promise<void> }).setFlows(flows, 'nodes');

const flow = (ledgerName: string, fwName = 'offers') =>
  onTab([
    ledgerNode('ledger', { ledgerName }),
    { id: 'fw', type: 'iot-ledger-firmware', name: fwName, ledger: 'ledger', mode: 'check', publishOffer: true, wires: [['out']] },
    { id: 'keys', type: 'iot-ledger-firmware', ledger: 'ledger', mode: 'vendor', wires: [['out']] },
    { id: 'out', type: 'helper' },
  ]);

describe('Firmware node: offers to revoked devices and vendor keys are withdrawn', function () {
  this.timeout(30000);
  useTestRuntime();

  const vendor = generateKey('Ed25519');
  const image = utf8('image 5');
  const manifest = { vendor: 'acme', class: 'thermo', version: '1.5', sequence: 5, digest: toHex(sha256(image)), size: image.length };

  /** Loads the flow, trusts the vendor key, registers release 5 and has the Firmware node offer it to each device. */
  async function offered(ledgerName: string, devices: string[]): Promise<{ gw: Gateway; sent: Sent[]; topics: string[] }> {
    await helper.load(packNodes(), flow(ledgerName));
    const gw = await (helper.getNode('ledger') as unknown as LedgerConfigNode).gateway();
    for (const [i, did] of devices.entries()) await gw.enrol({ did, name: `thermo-${i}` });
    const sent: Sent[] = [];
    helper.getNode('out').on('input', (m: Sent) => sent.push(m));
    const fw = helper.getNode('fw');
    await (await gw.firmware()).trustVendor('acme', keyToDid(vendor));
    await (await gw.firmware()).registerRelease(createManifest(manifest, vendor));
    for (const device of devices) fw.receive({ payload: { device, vendor: 'acme', class: 'thermo', sequence: 5 } });
    const topics = devices.map((d) => `iot-ledger/firmware/${d}`);
    await until('the offers', () => topics.every((topic) => sent.some((m) => m.topic === topic && m.payload !== '')));
    return { gw, sent, topics };
  }

  it('a device revoked after its offer: the offer is cleared and not published again when overwritten', async () => {
    const [device, other] = [keyToDid(generateKey('Ed25519')), keyToDid(generateKey('Ed25519'))];
    const { gw, sent, topics } = await offered('fw-revoked-device', [device, other]);
    const [topic, otherTopic] = topics as [string, string];
    await gw.revoke({ did: device });
    const cleared = await until('the offer cleared', () => sent.find((m) => m.topic === topic && m.payload === ''));
    assert.equal(cleared.retain, true);
    assert.ok(!sent.some((m) => m.topic === otherTopic && m.payload === ''), "the other device's offer stays");
    // Both offers overwritten on the broker: the other device's comes back, the revoked device's does not.
    const before = sent.length;
    const fw = helper.getNode('fw');
    fw.receive({ topic, payload: Buffer.from('{"forged":true}') });
    fw.receive({ topic: otherTopic, payload: Buffer.from('{"forged":true}') });
    await until('the other offer restored', () => sent.slice(before).some((m) => m.topic === otherTopic));
    assert.deepEqual(sent.slice(before).filter((m) => m.topic === topic), []);
  });

  it('a vendor key revoked by another Firmware node: the offer is cleared', async () => {
    const device = keyToDid(generateKey('Ed25519'));
    const { sent, topics: [topic] } = await offered('fw-revoked-elsewhere', [device]);
    helper.getNode('keys').receive({ payload: { vendor: 'acme', did: keyToDid(vendor), action: 'revoke' } });
    const cleared = await until('the offer cleared', () => sent.find((m) => m.topic === topic && m.payload === ''));
    assert.equal(cleared.retain, true);
  });

  it('an offer published before the Firmware node restarted: revoking its vendor key afterwards clears it', async () => {
    const device = keyToDid(generateKey('Ed25519'));
    const { sent, topics: [topic] } = await offered('fw-revoked-after-restart', [device]);
    // The node is modified and redeployed: it starts again, with nothing sent in this run.
    await deploy(flow('fw-revoked-after-restart', 'offers (renamed)'));
    await until('the node restarted', () => (helper.getNode('fw') as unknown as { name?: string }).name === 'offers (renamed)');
    helper.getNode('fw').receive({ mode: 'vendor', payload: { vendor: 'acme', did: keyToDid(vendor), action: 'revoke' } });
    const cleared = await until('the offer cleared', () => sent.find((m) => m.topic === topic && m.payload === ''));
    assert.equal(cleared.retain, true);
  });
});
