import * as assert from 'node:assert/strict';
import { toHex, utf8 } from '../../lib/encoding/bytes';
import { generateKey, keyToDid, sha256 } from '../../lib/crypto';
import { createManifest } from '../../lib/firmware';
import { openGateways } from '../../lib/gateway';
import { until } from '../support/until';
import { helper, ledgerNode, nextMessage, onTab, packNodes, useTestRuntime } from './support';

// Revoking a revoked device and registering a release again with the same manifest envelope
// change nothing: the nodes send their output (not an error) saying so, with the receipt of the
// record that holds it, and write no record.

type Out = { payload: Record<string, unknown>; ledger: { index: number }; firmware?: { decision: string } };

describe('nodes: a repeat that changes nothing is reported, not recorded', function () {
  this.timeout(30000);

  useTestRuntime();

  it('Enrol: enrol twice, revoke twice; Firmware: trust a vendor key twice, register a release twice', async () => {
    await helper.load(
      packNodes(),
      onTab([
        ledgerNode('ledger'),
        { id: 'enrol', type: 'iot-ledger-enrol', ledger: 'ledger', action: 'msg', wires: [['out']] },
        { id: 'firmware', type: 'iot-ledger-firmware', ledger: 'ledger', mode: 'release', wires: [['out']] },
        { id: 'catcher', type: 'catch', scope: ['enrol', 'firmware'], uncaught: false, wires: [['caught']] },
        { id: 'out', type: 'helper' },
        { id: 'caught', type: 'helper' },
      ]),
    );
    const gw = await until('the ledger open', async () => (await openGateways()).find((g) => g.ledger.name === 'test-room'), { timeoutMs: 20_000, pollMs: 50 });
    const statuses: { text?: string }[] = [];
    helper.getNode('enrol').on('call:status', (call: never) => statuses.push((call as { args: { text?: string }[] }).args[0]));
    const fwStatuses: { text?: string }[] = [];
    helper.getNode('firmware').on('call:status', (call: never) => fwStatuses.push((call as { args: { text?: string }[] }).args[0]));
    const answer = async (node: string, msg: Record<string, unknown>): Promise<Out> => {
      const caught = nextMessage<{ error: { code: string; message: string } }>(helper.getNode('caught'), 10000).then((m) => {
        throw new Error(`${m.error.code}: ${m.error.message}`);
      });
      caught.catch(() => undefined);
      const out = nextMessage<Out>(helper.getNode('out'), 10000);
      helper.getNode(node).receive(msg);
      return Promise.race([out, caught]);
    };

    const did = keyToDid(generateKey('Ed25519'));
    const enrolled = await answer('enrol', { payload: { did, name: 'probe', meta: { room: 'A', n: 1 } } });
    assert.equal(enrolled.payload.unchanged, undefined);
    const sizeEnrolled = gw.ledger.size;
    const enrolledAgain = await answer('enrol', { payload: { did, name: 'probe', meta: { n: 1, room: 'A' } } });
    assert.deepEqual(enrolledAgain.payload, { action: 'enrol', did, name: 'probe', revoked: false, unchanged: true });
    assert.deepEqual(enrolledAgain.ledger, enrolled.ledger);
    assert.equal(statuses.at(-1)?.text, 'enrolled already as given, nothing recorded; 1 devices enrolled');
    assert.equal(gw.ledger.size, sizeEnrolled);
    // Other meta is a change: recorded.
    const changed = await answer('enrol', { payload: { did, name: 'probe', meta: { room: 'B', n: 1 } } });
    assert.equal(changed.payload.unchanged, undefined);
    assert.equal(changed.ledger.index, sizeEnrolled);
    assert.equal(statuses.at(-1)?.text, '1 devices enrolled');
    const first = await answer('enrol', { payload: { action: 'revoke', did } });
    assert.equal(first.payload.unchanged, undefined);
    const size = gw.ledger.size;
    const again = await answer('enrol', { payload: { action: 'revoke', did, reason: 'again' } });
    assert.deepEqual(again.payload, { action: 'revoke', did, name: 'probe', revoked: true, unchanged: true });
    assert.deepEqual(again.ledger, first.ledger);
    assert.equal(statuses.at(-1)?.text, 'revoked already, nothing recorded; 0 devices enrolled');
    assert.equal(gw.ledger.size, size);

    const vendor = generateKey('Ed25519');
    const trusted = await answer('firmware', { mode: 'vendor', payload: { vendor: 'acme', did: keyToDid(vendor) } });
    assert.equal(trusted.firmware?.decision, 'recorded');
    const sizeTrusted = gw.ledger.size;
    const trustedAgain = await answer('firmware', { mode: 'vendor', payload: { vendor: 'acme', did: keyToDid(vendor) } });
    assert.equal(trustedAgain.firmware?.decision, 'unchanged');
    assert.deepEqual(trustedAgain.ledger, trusted.ledger);
    assert.equal(fwStatuses.at(-1)?.text, 'vendor on the ledger already, nothing recorded');
    assert.equal(gw.ledger.size, sizeTrusted);
    const image = utf8('image');
    const envelope = createManifest({ vendor: 'acme', class: 'thermo', version: '1.0', sequence: 1, digest: toHex(sha256(image)), size: image.length }, vendor);
    const registered = await answer('firmware', { payload: envelope });
    assert.equal(registered.firmware?.decision, 'recorded');
    const sizeBefore = gw.ledger.size;
    const repeat = await answer('firmware', { payload: envelope });
    assert.equal(repeat.firmware?.decision, 'unchanged');
    assert.deepEqual(repeat.ledger, registered.ledger);
    assert.equal(fwStatuses.at(-1)?.text, 'release on the ledger already, nothing recorded');
    assert.equal(gw.ledger.size, sizeBefore);
  });
});
