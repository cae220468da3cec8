import * as assert from 'node:assert/strict';
import { auditLedger } from '../../lib/audit';
import { generateKey, keyToDid } from '../../lib/crypto';
import { signContract, validateTerms } from '../../lib/contracts';
import { ContractRunner, Gateway } from '../../lib/gateway';
import type { Ledger, RecordInput } from '../../lib/ledger';
import { tempDir } from '../support/ledger';

// A contract input and the events it causes are one ledger write: a crash keeps all or none,
// so a restarted gateway never leaves a recorded input whose verdicts the audit cannot find.

describe('contracts: ContractRunner writes an input with its events', () => {
  const party = generateKey('Ed25519');
  const t = validateTerms({
    id: 'room-9',
    version: 1,
    title: 'below -20',
    subjects: 'any',
    metric: 'temperature',
    rule: { op: '<', limit: -20 },
    alarm: { mode: 'instant' },
    parties: [keyToDid(party)],
  });
  let tmp: ReturnType<typeof tempDir>;
  let gw: Gateway;
  let writes: string[][];

  beforeEach(async () => {
    tmp = tempDir();
    gw = await Gateway.open(tmp.dir, { name: 'runner-commit', gatewayKey: generateKey('Ed25519'), blockRecords: 100, blockSeconds: 0 });
    const ledger: Ledger = gw.ledger;
    writes = [];
    const append = ledger.append.bind(ledger);
    const appendMany = ledger.appendMany.bind(ledger);
    ledger.append = (input: RecordInput) => {
      writes.push([input.type]);
      return append(input);
    };
    ledger.appendMany = (inputs: RecordInput[]) => {
      writes.push(inputs.map((i) => i.type));
      return appendMany(inputs);
    };
  });

  afterEach(async () => {
    await gw.close();
    tmp.cleanup();
  });

  it('records a reading and every event it causes in one appendMany', async () => {
    const runner = await ContractRunner.load(gw, t);
    await runner.sign(signContract(t, party));
    writes.length = 0;
    const t0 = Date.UTC(2026, 10, 25, 10);
    await runner.reading({ temperature: -22 }, t0);
    await runner.reading({ temperature: -18 }, t0 + 1000); // excursion starts, violation at once (instant)
    await runner.reading({ temperature: -22 }, t0 + 2000); // excursion ends, compliance restored
    assert.deepEqual(writes, [
      ['contract.reading'],
      ['contract.reading', 'contract.event', 'contract.event'],
      ['contract.reading', 'contract.event', 'contract.event'],
    ]);
    const report = await auditLedger(tmp.dir, { db: gw.ledger.database, workers: 0 });
    assert.equal(report.clean, true, JSON.stringify(report.findings));
  });

  it('records the events of one tick in one write, and moves its state only once they are written', async () => {
    const runner = await ContractRunner.load(gw, validateTerms({ ...t, maxGapSeconds: 5 }));
    await runner.sign(signContract(validateTerms({ ...t, maxGapSeconds: 5 }), party));
    const t0 = Date.UTC(2026, 10, 25, 10);
    await runner.reading({ temperature: -22 }, t0);
    writes.length = 0;
    const before = runner.current();
    const failing = gw.ledger.appendMany.bind(gw.ledger);
    gw.ledger.appendMany = () => Promise.reject(new Error('disk gone'));
    await assert.rejects(runner.tick(t0 + 10_000), /disk gone/);
    assert.deepEqual(runner.current(), before, 'state unchanged by a write that failed');
    gw.ledger.appendMany = failing;
    const { events } = await runner.tick(t0 + 10_000);
    assert.deepEqual(events.map((e) => e.type), ['data.gap']);
    assert.deepEqual(writes, [['contract.event']]);
  });
});
