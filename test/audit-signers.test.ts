import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { auditLedger } from '../lib/audit';
import { signContract, validateTerms } from '../lib/contracts';
import { generateKey, keyToDid } from '../lib/crypto';
import { createManifest } from '../lib/firmware';
import { Ledger } from '../lib/ledger';

// Contract party signatures and firmware release manifests are signed by someone who is not an
// enrolled device: the audit checks the signature under the did the record or the kid names.

describe('audit: envelopes signed by contract parties and firmware vendors', function () {
  this.timeout(20000);
  const gatewayKey = generateKey('Ed25519');
  const party = generateKey('Ed25519');
  const vendor = generateKey('ES256');
  const terms = validateTerms({
    id: 'room',
    version: 1,
    title: 'room',
    subjects: 'any',
    metric: 'temperature',
    rule: { op: '<', limit: -20 },
    alarm: { mode: 'instant' },
    parties: [keyToDid(party)],
  });
  const manifest = createManifest({ vendor: 'acme', class: 'c', version: '1.0.0', sequence: 1, digest: '1'.padStart(64, '0'), size: 1 }, vendor);
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iot-ledger-audit-signers-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function write(records: Parameters<Ledger['append']>[0][]): Promise<void> {
    const ledger = await Ledger.open(dir, { name: 'signers', gatewayKey });
    for (const r of records) await ledger.append(r);
    await ledger.close();
  }

  it('finds nothing wrong with a party signature and a release manifest', async () => {
    await write([
      { type: 'contract.sign', device: keyToDid(party), body: { party: keyToDid(party) }, envelope: signContract(terms, party, { kid: keyToDid(party) }) },
      { type: 'firmware.release', body: { vendor: 'acme' }, envelope: manifest },
    ]);
    const report = await auditLedger(dir, { trustedKey: keyToDid(gatewayKey) });
    assert.deepEqual(report.findings, []);
  });

  it('reports a party signature that does not verify, and a manifest that names no signer', async () => {
    const stranger = generateKey('Ed25519');
    await write([
      { type: 'contract.sign', device: keyToDid(party), body: { party: keyToDid(party) }, envelope: signContract(terms, stranger, { kid: keyToDid(party) }) },
      { type: 'firmware.release', body: { vendor: 'acme' }, envelope: signContract(terms, vendor) },
    ]);
    const report = await auditLedger(dir, { trustedKey: keyToDid(gatewayKey) });
    assert.deepEqual(
      report.findings.map((f) => [f.kind, f.index]),
      [
        ['envelope-signature', 0],
        ['envelope-signature', 1],
      ],
    );
  });
});
