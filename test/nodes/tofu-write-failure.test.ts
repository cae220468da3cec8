import * as assert from 'node:assert/strict';
import { LedgerError } from '../../lib/errors';
import { openGateways } from '../../lib/gateway';
import { generateKey, keyToDid, signEnvelope } from '../../lib/index';
import { TOFU } from '../../lib/registry/devices';
import { signatureChecks } from '../support/signature-checks';
import { helper, ledgerNode, messages, nextMessage, onTab, packNodes, useTestRuntime } from './support';
import { until } from '../support/until';

// A new device's first messages reach Verify together and wait for its device.tofu record; when
// that write fails, each of them reaches Catch through done(err) with the write's code
// (ERR_LEDGER_IO), and the device can still be trusted later, by its first message resent.
describe('nodes: Verify when a device.tofu record cannot be written', function () {
  this.timeout(30000);
  useTestRuntime();
  const checks = signatureChecks();

  it('its messages are caught with ERR_LEDGER_IO; its first message resent is then verified', async () => {
    await helper.load(
      packNodes(),
      onTab([
        ledgerNode('ledger', { ledgerName: 'tofu-node-write' }),
        { id: 'verify', type: 'iot-ledger-verify', ledger: 'ledger', tofu: true, wires: [['out']] },
        { id: 'out', type: 'helper' },
        { id: 'catcher', type: 'catch', scope: ['verify'], wires: [['caught']] },
        { id: 'caught', type: 'helper' },
      ]),
    );
    // With TOFU on, Verify opens its ledger at deploy.
    const gw = await until('the ledger open', async () => (await openGateways()).find((g) => g.ledger.name === 'tofu-node-write'), { timeoutMs: 2000 });
    assert.ok(gw);
    const ledger = gw.ledger;
    const appendThen = ledger.appendThen.bind(ledger);
    const held: ((err: Error) => void)[] = [];
    ledger.appendThen = (input, done) => (input.type === TOFU ? void held.push(done) : appendThen(input, done));

    const key = generateKey('Ed25519');
    const send = (counter: number) => helper.getNode('verify').receive({ topic: 'sensors/new', payload: signEnvelope({ temperature: 3, counter }, key, { kid: keyToDid(key) }) });
    const caught = messages<{ error: { code?: string } }>(helper.getNode('caught'), 3);
    checks.reset();
    const allChecked = checks.done(3);
    for (const counter of [1, 2, 3]) send(counter);
    await allChecked;
    assert.equal(held.length, 1, 'one record for the three messages');
    for (const done of held.splice(0)) done(new LedgerError('ERR_LEDGER_IO', 'write to ledger failed (test)'));
    assert.deepEqual((await caught).map((m) => m.error.code), ['ERR_LEDGER_IO', 'ERR_LEDGER_IO', 'ERR_LEDGER_IO']);

    ledger.appendThen = appendThen;
    const verified = nextMessage<{ device: { id: string; tofu?: boolean }; payload: { counter: number } }>(helper.getNode('out'));
    send(1);
    const v = await verified;
    assert.deepEqual([v.device.id, v.device.tofu, v.payload.counter], [keyToDid(key), true, 1]);
  });
});
