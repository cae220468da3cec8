// A ledger from someone else with as many bad contract verdicts as its author likes: the audit
// reports every one (counted past maxFindings) while its re-checks hold none of them
// (docs/AUDIT.md, "Cost").
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { auditLedger } from '../lib/audit';
import { DeviceChecker } from '../lib/audit/devices';
import { Findings } from '../lib/audit/findings';
import { RuleChecker } from '../lib/audit/rules';
import { contractRef, validateTerms } from '../lib/contracts';
import { toRecordBody } from '../lib/envelope/payload';
import type { RecordInput } from '../lib/ledger';
import { appendAll, createLedger, makeDevice, readRecords, tempDir } from './support/audit-fixtures';

const VERDICTS = 1500;
const MAX_FINDINGS = 100;

/** A contract and VERDICTS violations no reading caused. */
function hostileRecords(): { inputs: RecordInput[]; bad: number } {
  const terms = validateTerms({
    id: 'room-1',
    version: 1,
    title: 'below 8',
    subjects: 'any',
    metric: 'temperature',
    rule: { op: '<', limit: 8 },
    alarm: { mode: 'instant' },
    parties: [makeDevice().did],
  });
  const ref = contractRef(terms);
  const inputs: RecordInput[] = [{ type: 'contract.register', body: toRecordBody({ ...ref, terms }) }];
  for (let i = 0; i < VERDICTS; i++) inputs.push({ type: 'contract.event', body: { ...ref, input: { kind: 'reading', time: i }, event: { type: 'violation', time: i } } });
  return { inputs, bad: VERDICTS };
}

describe('audit: bad verdicts are reported, not held', function () {
  this.timeout(60000);
  const dir = tempDir('audit-rules-');
  let bad = 0;

  before(async () => {
    const made = hostileRecords();
    bad = made.bad;
    const ledger = await createLedger(dir, { blockRecords: 1000 });
    await appendAll(ledger, made.inputs);
    await ledger.close();
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it(`${VERDICTS} made-up verdicts: the report counts every one; the re-checks hold none`, async () => {
    const r = await auditLedger(dir, { workers: 0, maxFindings: MAX_FINDINGS });
    assert.equal(r.findings.length, MAX_FINDINGS);
    assert.equal(r.findings.length + r.omitted, bad);
    assert.equal(r.findings[0].kind, 'contract-verdict');
    assert.equal(r.findings[0].index, 1);

    // The same records through the audit's rule re-checks, as the audit feeds them.
    const findings = new Findings(MAX_FINDINGS);
    const rules = new RuleChecker(findings, new DeviceChecker(findings));
    const records = await readRecords(dir);
    records.forEach((rec, index) => {
      const type = rec.type as string;
      if (type.startsWith('contract.') || type.startsWith('firmware.')) rules.apply({ index, time: rec.time as number, type, rule: { body: rec.body } });
    });
    rules.finish();
    assert.deepEqual(rules.held, { mismatches: 0 });
    const result = findings.result();
    assert.equal(result.findings.length + result.omitted, bad);
    assert.deepEqual(new Set(result.findings.map((f) => f.kind)), new Set(['contract-verdict']));
  });
});
