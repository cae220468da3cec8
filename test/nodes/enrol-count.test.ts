import * as assert from 'node:assert/strict';
import { openGateways } from '../../lib/gateway';
import { generateKey, keyToDid } from '../../lib/index';
import { TOFU } from '../../lib/registry/devices';
import { until } from '../support/until';
import { helper, ledgerNode, nextMessage, onTab, packNodes, useTestRuntime } from './support';

// Enrol shows the count of active devices after every message. With trust on first use anyone
// who can publish grows the fleet (a device per key): the count must not cost a walk of it.

describe('nodes: Enrol counts active devices without walking the fleet', function () {
  this.timeout(30000);

  useTestRuntime();

  it('enrols and revokes with 500 devices trusted on first use, the status counting them, the list never walked', async () => {
    await helper.load(
      packNodes(),
      onTab([
        ledgerNode('ledger', { blockRecords: 1000 }),
        { id: 'enrol', type: 'iot-ledger-enrol', ledger: 'ledger', action: 'msg', wires: [['enrolled']] },
        { id: 'catcher', type: 'catch', scope: ['enrol'], uncaught: false, wires: [['caught']] },
        { id: 'enrolled', type: 'helper' },
        { id: 'caught', type: 'helper' },
      ]),
    );
    const gw = await until('the ledger open', async () => (await openGateways()).find((g) => g.ledger.name === 'test-room'), { timeoutMs: 20_000, pollMs: 50 });
    await gw.recordMany(
      Array.from({ length: 500 }, (_, i) => {
        const did = keyToDid(generateKey('Ed25519'));
        return { type: TOFU, device: did, body: { did, name: `tofu-${i}`, reason: 'trust on first use' } };
      }),
    );
    const statuses: { text?: string }[] = [];
    helper.getNode('enrol').on('call:status', (call: never) => statuses.push((call as { args: { text?: string }[] }).args[0]));
    gw.devices.list = () => assert.fail('the device list was walked for one message');

    const answer = async () => {
      const caught = nextMessage<{ error: { code: string; message: string } }>(helper.getNode('caught'), 10000).then((m) => {
        throw new Error(`${m.error.code}: ${m.error.message}`);
      });
      caught.catch(() => undefined);
      const out = nextMessage<{ payload: { revoked: boolean } }>(helper.getNode('enrolled'), 10000);
      return Promise.race([out, caught]);
    };
    const a = keyToDid(generateKey('Ed25519'));
    let out = answer();
    helper.getNode('enrol').receive({ payload: { did: a, name: 'a' } });
    assert.equal((await out).payload.revoked, false);
    assert.equal(statuses.at(-1)?.text, '501 devices enrolled');

    out = answer();
    helper.getNode('enrol').receive({ payload: { action: 'revoke', did: a } });
    assert.equal((await out).payload.revoked, true);
    assert.equal(statuses.at(-1)?.text, '500 devices enrolled');
  });
});
