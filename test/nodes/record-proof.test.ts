import * as assert from 'node:assert/strict';
import { auditLedger, generateKey, keyToDid, Ledger, signEnvelope } from '../../lib/index';
import { helper, ledgerNode, nextMessage, onTab, packNodes, startTestRuntime, stopTestRuntime } from './support';

// Record writes a device envelope only as Verify handed it on (msg.verified.proof), once, in
// order, from a device that is still enrolled: anything else would fail the ledger's audit.

describe('nodes: Record only writes envelopes that Verify accepted', function () {
  this.timeout(30000);
  let userDir: string;
  const device = generateKey('Ed25519');
  const other = generateKey('Ed25519');
  const reading = (key: typeof device, counter: number, temperature = -21) =>
    signEnvelope({ temperature, counter, ts: 1764000000000 + counter }, key, { kid: keyToDid(key) });

  before((done) => {
    userDir = startTestRuntime(done);
  });
  after((done) => stopTestRuntime(userDir, done));

  /** A message into Record node `node`: resolves with 'recorded' or the Catch code, whichever comes first. */
  const record = (msg: Record<string, unknown>, node = 'record'): Promise<string> =>
    new Promise((resolve) => {
      const [rec, caught] = [helper.getNode('recorded'), helper.getNode('caught')];
      const finish = (v: string) => {
        setImmediate(() => {
          rec.removeListener('input', onRecorded);
          caught.removeListener('input', onCaught);
        });
        resolve(v);
      };
      const onRecorded = () => finish('recorded');
      const onCaught = (m: never) => finish((m as { error: { code: string } }).error.code);
      rec.on('input', onRecorded);
      caught.on('input', onCaught);
      helper.getNode(node).receive({ ...msg });
    });

  it('refuses forged, swapped, replayed, out-of-order and revoked messages; the audit stays clean', async () => {
    await helper.load(
      packNodes(),
      onTab([
        ledgerNode(),
        { id: 'enrol', type: 'iot-ledger-enrol', ledger: 'ledger', action: 'msg', wires: [['enrolled']] },
        { id: 'verify', type: 'iot-ledger-verify', ledger: 'ledger', wires: [['verified']] },
        { id: 'record', type: 'iot-ledger-record', ledger: 'ledger', wires: [['recorded']] },
        { id: 'catcher', type: 'catch', scope: ['record'], wires: [['caught']] },
        { id: 'enrolled', type: 'helper' },
        { id: 'verified', type: 'helper' },
        { id: 'recorded', type: 'helper' },
        { id: 'caught', type: 'helper' },
      ]),
    );
    for (const [key, name] of [[device, 'a'], [other, 'b']] as const) {
      const m = nextMessage(helper.getNode('enrolled'));
      helper.getNode('enrol').receive({ payload: { did: keyToDid(key), name } });
      await m;
    }
    const verify = async (env: unknown) => {
      const m = nextMessage<Record<string, unknown>>(helper.getNode('verified'));
      helper.getNode('verify').receive({ payload: env });
      const { payload, device: dev, envelope, verified } = await m;
      return { payload, device: dev, envelope, verified };
    };

    const m1 = await verify(reading(device, 1));
    const m2 = await verify(reading(device, 2));
    const o1 = await verify(reading(other, 1));
    assert.equal(await record({ ...m1, envelope: reading(device, 1, -30) }), 'ERR_INVALID_ARGUMENT', 'another envelope, same counter');
    assert.equal(await record({ ...m1, verified: { ...(m1.verified as object), counter: 9 } }), 'ERR_INVALID_ARGUMENT', 'counter changed');
    assert.equal(await record({ ...m1, device: o1.device }), 'ERR_INVALID_ARGUMENT', 'device swapped');
    assert.equal(await record({ ...m1, verified: undefined }), 'ERR_INVALID_ARGUMENT', 'no proof');
    assert.equal(await record(m2), 'recorded');
    assert.equal(await record(m2), 'ERR_REPLAY', 'twice');
    assert.equal(await record(m1), 'ERR_REPLAY', 'older than the one recorded');
    const revoked = nextMessage(helper.getNode('enrolled'));
    helper.getNode('enrol').receive({ payload: { action: 'revoke', did: keyToDid(other) } });
    await revoked;
    assert.equal(await record(o1), 'ERR_REVOKED_DEVICE', 'verified before the revocation, recorded after');
    assert.equal(await record({ payload: { note: 'no envelope' } }), 'recorded');

    await helper.unload();
    const report = await auditLedger(`${userDir}/iot-ledger/ledgers/test-room`);
    assert.deepEqual(report.findings, []);
    assert.equal(report.size, 5); // two enrolments, m2, a revocation, the note
  });

  it('refuses the types other nodes give a meaning to, from msg.recordType or configured: no device enrolled or revoked through it', async () => {
    const stranger = generateKey('Ed25519');
    await helper.load(
      packNodes(),
      onTab([
        ledgerNode('ledger', { ledgerName: 'reserved-room' }),
        { id: 'enrol', type: 'iot-ledger-enrol', ledger: 'ledger', action: 'msg', wires: [['enrolled']] },
        { id: 'verify', type: 'iot-ledger-verify', ledger: 'ledger', wires: [['verified']] },
        { id: 'record', type: 'iot-ledger-record', ledger: 'ledger', wires: [['recorded']] },
        { id: 'anchors', type: 'iot-ledger-record', ledger: 'ledger', recordType: 'anchor', wires: [['recorded']] },
        { id: 'catcher', type: 'catch', scope: ['record', 'anchors', 'verify'], wires: [['caught']] },
        { id: 'enrolled', type: 'helper' },
        { id: 'verified', type: 'helper' },
        { id: 'recorded', type: 'helper' },
        { id: 'caught', type: 'helper' },
      ]),
    );
    const enrolled = nextMessage(helper.getNode('enrolled'));
    helper.getNode('enrol').receive({ payload: { did: keyToDid(device), name: 'a' } });
    await enrolled;
    // A flow that takes the type from the message (a topic level, a payload field) and an attacker who sets it.
    assert.equal(await record({ payload: { did: keyToDid(stranger), name: 'mine' }, recordType: 'device.enrol' }), 'ERR_RESERVED_TYPE');
    assert.equal(await record({ payload: { did: keyToDid(device), reason: 'gone' }, recordType: 'device.revoke' }), 'ERR_RESERVED_TYPE');
    for (const type of ['device.tofu', 'contract.sign', 'firmware.report', 'security', 'anchor'])
      assert.equal(await record({ payload: { note: type }, recordType: type }), 'ERR_RESERVED_TYPE', type);
    assert.equal(await record({ payload: { note: 'configured' } }, 'anchors'), 'ERR_RESERVED_TYPE');
    assert.equal(await record({ payload: { note: 'a type of its own' }, recordType: 'device.status' }), 'recorded');

    // The stranger is still unknown, the device still enrolled.
    const caught = nextMessage<{ error: { code: string } }>(helper.getNode('caught'));
    helper.getNode('verify').receive({ payload: reading(stranger, 1) });
    assert.equal((await caught).error.code, 'ERR_UNKNOWN_DEVICE');
    const verified = nextMessage(helper.getNode('verified'));
    helper.getNode('verify').receive({ payload: reading(device, 1) });
    await verified;
    await helper.unload();
    const report = await auditLedger(`${userDir}/iot-ledger/ledgers/reserved-room`);
    assert.deepEqual(report.findings, []);
    const ledger = await Ledger.open(`${userDir}/iot-ledger/ledgers/reserved-room`, { readOnly: true });
    try {
      const types: string[] = [];
      for (let i = 0; i < ledger.size; i++) types.push((await ledger.get(i)).record.type);
      assert.deepEqual(types.filter((t) => t !== 'security'), ['device.enrol', 'device.status'], types.join());
    } finally {
      await ledger.close();
    }
  });
});
