import * as assert from 'node:assert/strict';
import { auditLedger } from '../../lib/audit';
import { generateKey, keyToDid } from '../../lib/crypto';
import { signContract, validateTerms } from '../../lib/contracts';
import { ContractRunner, Gateway } from '../../lib/gateway';
import { tempDir } from '../support/ledger';

// A restart (a new ContractRunner loaded from the ledger) in the middle of a data gap or of a
// running excursion: the state is rebuilt from the same inputs the audit re-runs (readings and
// the ticks named by events), so the runner neither repeats a verdict nor contradicts the audit.

describe('contracts: a runner loaded after a restart resumes from the recorded inputs', () => {
  const party = generateKey('Ed25519');
  const gatewayKey = generateKey('Ed25519');
  const terms = validateTerms({
    id: 'room-restart',
    version: 1,
    title: 'below -20',
    subjects: 'any',
    metric: 'temperature',
    rule: { op: '<', limit: -20 },
    alarm: { mode: 'consecutive', seconds: 5 },
    maxGapSeconds: 10,
    parties: [keyToDid(party)],
  });
  const t0 = Date.UTC(2026, 10, 25, 10);
  let tmp: ReturnType<typeof tempDir>;

  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => tmp.cleanup());

  const open = () => Gateway.open(tmp.dir, { name: 'runner-restart', gatewayKey, blockRecords: 100, blockSeconds: 0 });
  const dataGaps = async (gw: Gateway): Promise<number> => {
    let n = 0;
    for await (const r of gw.ledger.byType('contract.event')) if ((r.record.body as { event: { type: string } }).event.type === 'data.gap') n++;
    return n;
  };

  it('does not report an ongoing gap twice, and the audit stays clean', async () => {
    let gw = await open();
    let runner = await ContractRunner.load(gw, terms);
    await runner.sign(signContract(terms, party));
    await runner.reading({ temperature: -22 }, t0);
    assert.deepEqual((await runner.tick(t0 + 11_000)).events.map((e) => e.type), ['data.gap']);
    await gw.close();

    gw = await open();
    runner = await ContractRunner.load(gw, terms);
    assert.deepEqual(runner.current().gap, { since: t0, reportedAt: t0 + 11_000 });
    assert.deepEqual((await runner.tick(t0 + 12_000)).events, []);
    assert.deepEqual((await runner.reading({ temperature: -22 }, t0 + 13_000)).events.map((e) => e.type), ['data.resumed']);
    assert.equal(await dataGaps(gw), 1);
    const report = await auditLedger(tmp.dir, { db: gw.ledger.database, workers: 0 });
    await gw.close();
    assert.equal(report.clean, true, JSON.stringify(report.findings));
  });

  it('keeps a violation a tick raised during an excursion', async () => {
    let gw = await open();
    let runner = await ContractRunner.load(gw, terms);
    await runner.sign(signContract(terms, party));
    await runner.reading({ temperature: -22 }, t0);
    await runner.reading({ temperature: -18 }, t0 + 1000);
    assert.ok((await runner.tick(t0 + 7000)).events.some((e) => e.type === 'violation'));
    const live = runner.current();
    await gw.close();

    gw = await open();
    runner = await ContractRunner.load(gw, terms);
    assert.equal(runner.current().status, live.status);
    assert.deepEqual((await runner.tick(t0 + 8000)).events, []);
    await runner.reading({ temperature: -22 }, t0 + 9000);
    const report = await auditLedger(tmp.dir, { db: gw.ledger.database, workers: 0 });
    await gw.close();
    assert.equal(report.clean, true, JSON.stringify(report.findings));
  });
  it('counts silence from the activating signature, so a gap before any reading audits clean', async () => {
    let gw = await open();
    let runner = await ContractRunner.load(gw, terms);
    const receipt = await runner.sign(signContract(terms, party));
    assert.deepEqual((await runner.tick(receipt.time + 5_000)).events, []);
    const gap = (await runner.tick(receipt.time + 11_000)).events;
    assert.deepEqual(gap.map((e) => [e.type, (e as { since?: number }).since]), [['data.gap', receipt.time]]);
    await gw.close();

    gw = await open();
    runner = await ContractRunner.load(gw, terms);
    assert.deepEqual((await runner.tick(receipt.time + 30_000)).events, []);
    const report = await auditLedger(tmp.dir, { db: gw.ledger.database, workers: 0 });
    await gw.close();
    assert.equal(report.clean, true, JSON.stringify(report.findings));
  });
});
