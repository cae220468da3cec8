// A ledger from someone else with as many bad contract verdicts and firmware decisions as its
// author likes: the audit reports every one (counted past maxFindings) while its re-checks hold
// none of them (docs/AUDIT.md, "Cost").
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
const DECISIONS = 1500;
const MAX_FINDINGS = 100;
const digest = (n: number): string => n.toString(16).padStart(64, '0');

/** A contract and VERDICTS violations no reading caused; a device's approvals alternating two versions, every third a refusal. */
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
  const device = makeDevice().did;
  let approvals = 0;
  for (let i = 0; i < DECISIONS; i++) {
    const sequence = 1 + (i % 2);
    if (i % 3 === 2) {
      inputs.push({ type: 'firmware.decision', body: { decision: 'rejected', subject: 'update', reason: 'rollback', message: 'no', device } });
      continue;
    }
    approvals++;
    const body = { decision: 'approved', subject: 'update', device, vendor: 'acme', class: 'thermo', sequence, version: `1.${sequence}`, digest: digest(sequence), size: 1, signer: device, release: 0, at: 0 };
    inputs.push({ type: 'firmware.decision', body });
  }
  // Each verdict does not follow; each approval names no registered release.
  return { inputs, bad: VERDICTS + approvals };
}

describe('audit: bad verdicts and firmware decisions are reported, not held', function () {
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

  it(`${VERDICTS} made-up verdicts and ${DECISIONS} decisions: the report counts every one; the re-checks hold none`, async () => {
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
    assert.deepEqual(rules.held, { mismatches: 0, spans: 0, rejections: 0 });
    const result = findings.result();
    assert.equal(result.findings.length + result.omitted, bad);
    assert.deepEqual(new Set(result.findings.map((f) => f.kind)), new Set(['contract-verdict']));
  });
});
