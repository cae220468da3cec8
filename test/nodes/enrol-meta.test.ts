import * as assert from 'node:assert/strict';
import { openGateways } from '../../lib/gateway';
import { generateKey, keyToDid } from '../../lib/index';
import { until } from '../support/until';
import { helper, ledgerNode, nextMessage, onTab, packNodes, useTestRuntime } from './support';

// A flow can hand the Enrol node a meta holding a BigInt (a function node's 64-bit serial, say).
// Its record would read it back as a number after a restart, so the node refuses it: done(err)
// with ERR_INVALID_ARGUMENT, which a Catch node receives, and no record.

describe('nodes: Enrol refuses meta that would not read back as given', function () {
  this.timeout(30000);

  useTestRuntime();

  it('a BigInt in payload.meta goes to Catch as ERR_INVALID_ARGUMENT; the same meta with a number enrols', async () => {
    await helper.load(
      packNodes(),
      onTab([
        ledgerNode('ledger'),
        { id: 'enrol', type: 'iot-ledger-enrol', ledger: 'ledger', action: 'enrol', wires: [['enrolled']] },
        { id: 'catcher', type: 'catch', scope: ['enrol'], uncaught: false, wires: [['caught']] },
        { id: 'enrolled', type: 'helper' },
        { id: 'caught', type: 'helper' },
      ]),
    );
    const gw = await until('the ledger open', async () => (await openGateways()).find((g) => g.ledger.name === 'test-room'), { timeoutMs: 20_000, pollMs: 50 });
    const did = keyToDid(generateKey('Ed25519'));
    const size = gw.ledger.size;
    const caught = nextMessage<{ error: { code: string; message: string } }>(helper.getNode('caught'), 10000);
    helper.getNode('enrol').receive({ payload: { did, name: 'probe', meta: { serial: 12345678901n } } });
    const m = await caught;
    assert.equal(m.error.code, 'ERR_INVALID_ARGUMENT');
    assert.match(m.error.message, /BigInt: meta\.serial is 12345678901n/);
    assert.equal(gw.ledger.size, size);
    assert.equal(gw.devices.get(did), undefined);

    const out = nextMessage<{ payload: { did: string; revoked: boolean } }>(helper.getNode('enrolled'), 10000);
    helper.getNode('enrol').receive({ payload: { did, name: 'probe', meta: { serial: 12345678901 } } });
    assert.equal((await out).payload.did, did);
    assert.deepEqual(gw.devices.get(did)?.meta, { serial: 12345678901 });
  });
});
