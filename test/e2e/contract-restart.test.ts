import * as assert from 'node:assert/strict';
import { generateKey, keyToDid } from '../../lib/crypto';
import { signContract, validateTerms } from '../../lib/contracts';
import { Ledger } from '../../lib/ledger';
import {
  cliAudit,
  coldRoomFlow,
  coldRoomTerms,
  enrol,
  LedgerRuntime,
  Mailbox,
  NODE_IDS,
  Sensor,
  TOPIC,
  waitFlowSubscribed,
} from '../support/ledger-runtime';

// Node-RED stopped and started while a contract's data gap is ongoing: the Contract node
// rebuilds its state from the ledger (readings and the ticks that caused events), so it does
// not report the same gap again, and the audit, re-running the contract, finds the ledger clean.
// A second contract whose gap opens only after the restart proves that the clock ticked
// several times in the new process before the test looks.

const LEDGER = 'restart-e2e';
const SIGN_B = 'coldroom/contract/sign-b';

describe('e2e: a restart during an ongoing data gap', function () {
  this.timeout(180_000);

  const a = new Sensor('gap-a', generateKey('Ed25519'));
  const b = new Sensor('gap-b', generateKey('Ed25519'));
  const parties = [generateKey('Ed25519')];
  const termsA = { ...coldRoomTerms([a.did], parties.map(keyToDid)), id: 'gap-a', maxGapSeconds: 2 };
  const termsB = { ...coldRoomTerms([b.did], parties.map(keyToDid)), id: 'gap-b', maxGapSeconds: 2 };
  let rt: LedgerRuntime;
  let box: Mailbox;

  const gapsOf = (id: string) => box.on(`contract/${id}/data.gap`).map((m) => JSON.parse(m.text) as { since: number; time: number });

  before(async () => {
    rt = await LedgerRuntime.create({ ledgerName: LEDGER, prefix: 'restart' });
    box = await Mailbox.connect(rt.broker.url, [TOPIC.ack, TOPIC.events, TOPIC.rejected, TOPIC.enrolled]);
    const flow = coldRoomFlow({ brokerPort: rt.broker.port, ledgerName: LEDGER, terms: [termsA, termsB] as unknown as Record<string, unknown>, blockRecords: 50, blockSeconds: 0.5, tickSeconds: 1 });
    // Signatures for the second contract: the Contract node picks its target by msg.contract.
    flow.push(
      { id: 'e2e-in-sign-b', type: 'mqtt in', z: NODE_IDS.tab, name: '', topic: SIGN_B, qos: '1', datatype: 'auto-detect', broker: NODE_IDS.broker, nl: false, rap: true, rh: 0, inputs: 0, x: 120, y: 360, wires: [['e2e-sign-b']] },
      {
        id: 'e2e-sign-b', type: 'change', z: NODE_IDS.tab, name: 'contract gap-b',
        rules: [
          { t: 'set', p: 'topic', pt: 'msg', to: 'contract/sign', tot: 'str' },
          { t: 'set', p: 'contract', pt: 'msg', to: 'gap-b', tot: 'str' },
        ],
        action: '', property: '', from: '', to: '', reg: false, x: 340, y: 360, wires: [[NODE_IDS.contract]],
      },
    );
    await rt.nr.deployFlows(flow);
    await waitFlowSubscribed(box);
    for (const s of [a, b]) await enrol(box, s);
    for (const k of parties) {
      await box.publish(TOPIC.sign, signContract(validateTerms(termsA), k) as string);
      await box.publish(SIGN_B, signContract(validateTerms(termsB), k) as string);
    }
    for (const id of ['gap-a', 'gap-b'])
      await box.waitFor(`contract/${id}/party.signed`, (m) => (JSON.parse(m.text) as { active: boolean }).active);
  });

  after(async () => {
    await box?.close();
    await rt?.dispose();
  });

  it('reports the gap once across the restart and audits clean', async () => {
    await box.publish(TOPIC.reading(a.name), a.sign(a.next(-22)));
    const gap = await box.waitFor('contract/gap-a/data.gap', undefined, 20_000);
    assert.equal((JSON.parse(gap.text) as { ongoing: boolean }).ongoing, true);

    await rt.stop();
    const restartedAt = Date.now();
    await rt.start();
    await waitFlowSubscribed(box);
    // Contract B's gap opens two seconds after this reading: by then the new process has
    // ticked contract A at least twice, while A's gap was still open.
    await box.publish(TOPIC.reading(b.name), b.sign(b.next(-22)));
    await box.waitFor('contract/gap-b/data.gap', (m) => (JSON.parse(m.text) as { since: number }).since >= restartedAt, 30_000);
    assert.equal(gapsOf('gap-a').length, 1, `gap-a reported ${gapsOf('gap-a').length} times`);

    // The gap ends with one reading: data.resumed, not a new gap.
    await box.publish(TOPIC.reading(a.name), a.sign(a.next(-22)));
    await box.waitFor('contract/gap-a/data.resumed', undefined, 20_000);
    await rt.stop();

    const { code, report, stderr } = await cliAudit(rt.ledgerDir);
    assert.equal(code, 0, `audit exit ${code}: ${JSON.stringify(report.findings.slice(0, 5), null, 1)}\n${stderr}`);
    assert.equal(report.clean, true);
    const ledger = await Ledger.open(rt.ledgerDir, { readOnly: true });
    try {
      let recorded = 0;
      for await (const r of ledger.byType('contract.event')) {
        const body = r.record.body as { contract: string; event: { type: string } };
        if (body.contract === 'gap-a' && body.event.type === 'data.gap') recorded++;
      }
      assert.equal(recorded, 1);
    } finally {
      await ledger.close();
    }
  });
});
