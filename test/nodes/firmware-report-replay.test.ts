import * as assert from 'node:assert/strict';
import { createManifest, createReport } from '../../lib/firmware';
import { auditLedger, generateKey, keyToDid } from '../../lib/index';
import { helper, ledgerNode, nextMessage, onTab, packNodes, useTestRuntime } from './support';

const nodes = packNodes();
const digest = (n: number): string => n.toString(16).padStart(64, '0');

// A device's signed report is public: whoever reads the report topic can publish it again. A
// report the gateway refuses after checking its signature (it names a digest other than the
// registered release's) is recorded as a rejected decision; a copy of it sent again must be a
// replay (counted in the aggregated security records), not another rejected decision each.
describe('nodes: a refused firmware report sent again', function () {
  this.timeout(30000);
  const userDir = useTestRuntime();

  it('records the rejection once; copies, also after a restart, are refused as replays without a record', async () => {
    const vendor = generateKey('Ed25519');
    const device = generateKey('Ed25519');
    const did = keyToDid(device);
    const flow = onTab([
      ledgerNode('ledger', { ledgerName: 'fw-replay' }),
      { id: 'enrol', type: 'iot-ledger-enrol', ledger: 'ledger', action: 'enrol', wires: [['out']] },
      { id: 'admin', type: 'iot-ledger-firmware', ledger: 'ledger', mode: 'check', wires: [['out']] },
      { id: 'reports', type: 'iot-ledger-firmware', ledger: 'ledger', mode: 'report', wires: [['out']] },
      { id: 'query', type: 'iot-ledger-query', ledger: 'ledger', mode: 'type', wires: [['out']] },
      { id: 'catcher', type: 'catch', scope: ['reports'], wires: [['caught']] },
      { id: 'caught', type: 'helper' },
      { id: 'out', type: 'helper' },
    ]);
    await helper.load(nodes, flow);
    const out = () => helper.getNode('out');
    const ask = async (node: string, msg: Record<string, unknown>) => {
      const m = nextMessage<{ firmware?: { decision: string; reason?: string }; payload: unknown }>(out());
      helper.getNode(node).receive(msg);
      return m;
    };
    await ask('enrol', { payload: { did, name: 'thermo' } });
    assert.equal((await ask('admin', { mode: 'vendor', payload: { vendor: 'acme', did: keyToDid(vendor) } })).firmware?.decision, 'recorded');
    const manifest = createManifest({ vendor: 'acme', class: 'thermo-v1', version: '1.2.0', sequence: 2, digest: digest(2), size: 1002 }, vendor);
    assert.equal((await ask('admin', { mode: 'release', payload: manifest })).firmware?.decision, 'recorded');

    // The device says it runs sequence 2 with another image: refused (digest-mismatch) and recorded.
    const report = createReport({ class: 'thermo-v1', vendor: 'acme', version: '1.2.0', sequence: 2, digest: digest(7), counter: 1, ts: Date.now() }, device);
    const first = await ask('reports', { payload: report, deviceId: did });
    assert.deepEqual([first.firmware?.decision, first.firmware?.reason], ['rejected', 'digest-mismatch']);

    const rejections = async (): Promise<number> => {
      const answer = await ask('query', { payload: { type: 'firmware.decision', limit: 1000 } });
      return (answer.payload as { body: { decision: string; subject: string } }[]).filter((r) => r.body.decision === 'rejected' && r.body.subject === 'report').length;
    };
    assert.equal(await rejections(), 1);

    const replay = async (): Promise<{ code?: string; reason?: string }> => {
      const caught = nextMessage<{ error: { code?: string; message?: string } }>(helper.getNode('caught'));
      const sent = nextMessage<{ firmware?: { decision: string; reason?: string } }>(out()).then((m) => ({ sent: m }));
      helper.getNode('reports').receive({ payload: report, deviceId: did });
      const r = await Promise.race([caught.then((m) => ({ caught: m })), sent]);
      if ('sent' in r) return { code: `sent: ${r.sent.firmware?.decision}`, reason: r.sent.firmware?.reason };
      return { code: r.caught.error.code, reason: /report counter 1 is not above the last accepted 1/.test(String(r.caught.error.message)) ? 'replay' : r.caught.error.message };
    };
    for (let i = 0; i < 3; i++) assert.deepEqual(await replay(), { code: 'ERR_FIRMWARE_REJECTED', reason: 'replay' });
    assert.equal(await rejections(), 1, 'copies of the refused report add no rejected decision');

    // The state is the ledger's: after a restart the copy is still a replay.
    await helper.unload();
    await helper.load(nodes, flow);
    assert.deepEqual(await replay(), { code: 'ERR_FIRMWARE_REJECTED', reason: 'replay' });
    assert.equal(await rejections(), 1);

    // The device's next report (a newer counter and ts) is judged as before.
    const next = createReport({ class: 'thermo-v1', vendor: 'acme', version: '1.2.0', sequence: 2, digest: digest(2), counter: 2, ts: Date.now() + 1 }, device);
    const r = await ask('reports', { payload: next, deviceId: did });
    assert.equal(r.firmware?.decision, 'recorded');
    await helper.unload();
    const audit = await auditLedger(`${userDir()}/iot-ledger/ledgers/fw-replay`, { workers: 0 });
    assert.deepEqual(audit.findings, [], 'the audit replays the firmware rules over the same records');
  });
});
