// The audit of the witness entries stored beside the blocks: `c` (a block's checkpoint with
// its cosignatures) and `w` (the size a witness holds). The gateway stores only cosignatures
// that verified, so whatever else is found there was written afterwards.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { auditLedger, formatReport, type AuditReport } from '../lib/audit';
import { generateKey } from '../lib/crypto';
import { cosignedMessage, cosignLine, parseWitnessKey, witnessVerifierKey } from '../lib/witness/cosignature';
import { sign } from '../lib/crypto/signature';
import { cosignedKey, witnessKey } from '../lib/witness/ledger-cosignatures';
import { decodeCbor, encodeCbor, type CborValue } from '../lib/encoding/codec';
import { buildSampleLedger, keys, scratchLedgers, type SampleLedger } from './support/audit-fixtures';
import { runCli } from './support/cli';

const W1 = { name: 'w1.example/audit', key: generateKey('Ed25519') };
const W2 = { name: 'w2.example/audit', key: generateKey('Ed25519') };
const vkey1 = witnessVerifierKey(W1.name, W1.key);
const vkey2 = witnessVerifierKey(W2.name, W2.key);
const TIME = 1_764_000_000;

/** Block `height`'s checkpoint as the gateway stores it once witnesses cosigned it. */
function cosigned(sample: SampleLedger, height: number, witnesses = [W1, W2]): string {
  const note = sample.checkpoints[height];
  const text = note.slice(0, note.indexOf('\n\n') + 1);
  return note + witnesses.map((w) => cosignLine(text, w, TIME + height)).join('');
}

const cosignedFindings = (r: AuditReport): string[] => r.findings.filter((f) => f.kind === 'cosignature').map((f) => `${f.height ?? '-'}: ${f.detail}`);

describe('audit: stored witness cosignatures', function () {
  this.timeout(60000);
  let sample: SampleLedger;
  const scratch = scratchLedgers();
  /** The sample with blocks 0-2 cosigned by both witnesses and witness sizes kept, then `fn`'s damage. */
  const witnessed = (fn: Parameters<typeof scratch.damaged>[1] = async () => undefined): Promise<string> =>
    scratch.damaged(sample.dir, async (db) => {
      for (const h of [0, 1, 2]) await db.put(cosignedKey(h), Buffer.from(cosigned(sample, h)));
      await db.put(witnessKey(W1.name), Buffer.alloc(8));
      await fn(db);
    });

  before(async () => {
    sample = await buildSampleLedger();
    assert.ok(sample.blocks >= 4);
  });
  after(() => fs.rmSync(sample.dir, { recursive: true, force: true }));

  it('an honest ledger: clean, each given witness with the blocks it cosigned; lines of witnesses not given are counted', async () => {
    const dir = await witnessed();
    const both = await auditLedger(dir, { trustedKey: sample.verifierKey, witnesses: [vkey1, parseWitnessKey(vkey2)] });
    assert.deepEqual(both.findings, []);
    assert.deepEqual(both.cosigned, {
      entries: 3,
      verified: 6,
      unchecked: 0,
      unreadable: 0,
      witnesses: [
        { name: W1.name, blocks: 3, newest: { height: 2, size: both.cosigned.witnesses[0]?.newest?.size } },
        { name: W2.name, blocks: 3, newest: { height: 2, size: both.cosigned.witnesses[1]?.newest?.size } },
      ],
    });
    assert.ok((both.cosigned.witnesses[0]?.newest?.size ?? 0) > 0);
    const one = await auditLedger(dir, { trustedKey: sample.verifierKey, witnesses: [vkey1] });
    assert.equal(one.clean, true);
    assert.deepEqual([one.cosigned.verified, one.cosigned.unchecked], [3, 3]);
    const none = await auditLedger(dir, { trustedKey: sample.verifierKey });
    assert.equal(none.clean, true);
    assert.deepEqual([none.cosigned.entries, none.cosigned.verified, none.cosigned.unchecked], [3, 0, 6]);
  });

  it("a forged cosignature of a given witness, another block's checkpoint, malformed lines, an entry without a block, a bad witness size: one finding each", async () => {
    const dir = await witnessed(async (db) => {
      // Block 0: W2's line keeps its key ID and timestamp, with another signature.
      const good = cosigned(sample, 0);
      const lines = good.split('\n');
      const forged = lines[lines.length - 2];
      const blob = Buffer.from(forged.slice(forged.lastIndexOf(' ') + 1), 'base64');
      blob[blob.length - 1] ^= 1;
      lines[lines.length - 2] = `${forged.slice(0, forged.lastIndexOf(' ') + 1)}${blob.toString('base64')}`;
      await db.put(cosignedKey(0), Buffer.from(lines.join('\n')));
      // Block 1 holds block 2's cosigned checkpoint.
      await db.put(cosignedKey(1), Buffer.from(cosigned(sample, 2)));
      // Block 2: a line that is no signature line.
      await db.put(cosignedKey(2), Buffer.from(`${cosigned(sample, 2)}not a signature\n`));
      await db.put(cosignedKey(sample.blocks + 5), Buffer.from(cosigned(sample, 0)));
      await db.put(witnessKey(W2.name), Buffer.alloc(3));
    });
    const report = await auditLedger(dir, { trustedKey: sample.verifierKey, witnesses: [vkey1, vkey2] });
    assert.deepEqual(cosignedFindings(report), [
      `0: the cosignature of witness ${W2.name} does not verify with its key`,
      "1: the cosigned checkpoint is not the block's signed checkpoint followed by cosignatures",
      "2: the cosignature lines after the block's checkpoint are malformed: signature line must start with an em dash and a space",
      `${sample.blocks + 5}: a cosigned checkpoint is stored for block ${sample.blocks + 5}, which is not a sealed block`,
      `-: the size kept for witness ${W2.name} is 3 bytes, not a u64`,
    ]);
    assert.equal(report.findings.length, 5);
    // Without W2's key its forged line cannot be told from a good one: counted, not a finding.
    const withoutW2 = await auditLedger(dir, { trustedKey: sample.verifierKey, witnesses: [vkey1] });
    assert.equal(cosignedFindings(withoutW2).length, 4);
  });

  it("a good line repeated counts once; a line under a given witness's name with another key (an old key, or anyone's) is not checked, not a finding", async () => {
    const other = { name: W1.name, key: generateKey('Ed25519') };
    const dir = await witnessed(async (db) => {
      const note = cosigned(sample, 1);
      const lines = note.split('\n');
      const w1 = lines.find((l) => l.startsWith(`\u2014 ${W1.name} `) && note.indexOf(l) > (sample.checkpoints[1]).length - 1) as string;
      const text = (sample.checkpoints[1]).slice(0, (sample.checkpoints[1]).indexOf('\n\n') + 1);
      await db.put(cosignedKey(1), Buffer.from(`${note}${w1}\n${cosignLine(text, other, TIME)}`));
    });
    const report = await auditLedger(dir, { trustedKey: sample.verifierKey, witnesses: [vkey1, vkey2] });
    assert.deepEqual(report.findings, []);
    assert.deepEqual([report.cosigned.verified, report.cosigned.unchecked], [6, 1]);
    assert.deepEqual(report.cosigned.witnesses.map((w) => w.blocks), [3, 3]);
  });

  it('a genuine cosignature dated past 2^53 - 1, which no quorum counts and the gateway never stores, is a finding, not a verified line', async () => {
    const dir = await witnessed(async (db) => {
      const note = sample.checkpoints[1];
      const text = note.slice(0, note.indexOf('\n\n') + 1);
      const ts = 2n ** 60n;
      const stamp = Buffer.alloc(8);
      stamp.writeBigUInt64BE(ts);
      const blob = Buffer.concat([parseWitnessKey(vkey1).keyId, stamp, sign(W1.key, cosignedMessage(text, ts))]);
      await db.put(cosignedKey(1), Buffer.from(`${note}\u2014 ${W1.name} ${blob.toString('base64')}\n`));
    });
    const report = await auditLedger(dir, { trustedKey: sample.verifierKey, witnesses: [vkey1, vkey2] });
    assert.deepEqual(cosignedFindings(report), [`1: the cosignature of witness ${W1.name} is dated ${2n ** 60n}, past any time a quorum counts (the gateway does not store such a line)`]);
    assert.deepEqual(report.cosigned.witnesses.map((w) => w.blocks), [2, 2]);
  });

  it('a 10 MB cosigned checkpoint and a 10 MB witness size: one finding each, nothing parsed', async () => {
    const dir = await witnessed(async (db) => {
      await db.put(cosignedKey(1), Buffer.concat([Buffer.from(cosigned(sample, 1)), Buffer.alloc(10 << 20, 0x41)]));
      await db.put(witnessKey(W2.name), Buffer.alloc(10 << 20));
    });
    const report = await auditLedger(dir, { trustedKey: sample.verifierKey, witnesses: [vkey1, vkey2] });
    const bytes = Buffer.byteLength(cosigned(sample, 1)) + (10 << 20);
    assert.deepEqual(cosignedFindings(report), [
      `1: the cosigned checkpoint is ${bytes} bytes, more than any checkpoint with its cosignatures (131072)`,
      `-: the size kept for witness ${W2.name} is ${10 << 20} bytes, not a u64`,
    ]);
    assert.deepEqual(report.cosigned.witnesses.map((w) => w.blocks), [2, 2]);
  });

  it("a block whose checkpoint has no signature lines, and a cosigned entry that adds one: a report, not an exception", async () => {
    const dir = await witnessed(async (db) => {
      const block = decodeCbor((await db.get(keys.block(0))) as Buffer) as Record<string, CborValue>;
      const note = sample.checkpoints[0];
      const text = note.slice(0, note.indexOf('\n\n') + 2); // the checkpoint's text and the blank line, no signature
      await db.put(keys.block(0), Buffer.from(encodeCbor({ ...block, checkpoint: text })));
      await db.put(cosignedKey(0), Buffer.from(text + cosignLine(text.slice(0, -1), W1, TIME)));
    });
    const report = await auditLedger(dir, { trustedKey: sample.verifierKey, witnesses: [vkey1, vkey2] });
    assert.equal(report.clean, false);
    assert.ok(report.findings.some((f) => f.kind === 'checkpoint-signature' && f.height === 0), JSON.stringify(report.findings));
    assert.deepEqual(cosignedFindings(report), []);
    // Block 0's entry cannot be checked against a checkpoint that is no note; blocks 1 and 2 verify.
    assert.deepEqual([report.cosigned.unreadable, report.cosigned.unchecked, report.cosigned.verified], [1, 0, 4]);
    assert.match(formatReport(report), /witness cosignatures on 3 blocks: 4 verified \([^)]*\); 1 block unreadable, its cosignatures not checked/);
  });

  it("the CLI's quorum summary passes over an entry the audit reports as altered (not UTF-8 text) and names the newest one it accepts", async () => {
    // Block 2's entry with a line of an unknown witness whose name holds a byte that is no UTF-8.
    const dir = await witnessed(async (db) => {
      const line = Buffer.concat([Buffer.from('\u2014 w'), Buffer.of(0xff), Buffer.from(`.example/other ${Buffer.alloc(68, 1).toString('base64')}\n`)]);
      await db.put(cosignedKey(2), Buffer.concat([Buffer.from(cosigned(sample, 2)), line]));
    });
    const r = runCli(['audit', dir, '--key', sample.verifierKey, '--witness', vkey1, '--quorum', '1', '--json']);
    assert.equal(r.status, 1, r.stderr);
    const report = JSON.parse(r.stdout) as AuditReport & { witnessed: { cosigned: { height: number } | null } };
    assert.deepEqual(cosignedFindings(report), ['2: the cosigned checkpoint is not UTF-8 text']);
    assert.equal(report.witnessed.cosigned?.height, 1, r.stdout);
  });

  it('reads the blocks of the entries in height order, across runs of blocks without one and past a missing block', async () => {
    const many = await buildSampleLedger(undefined, { blockRecords: 1 }); // 40 blocks
    try {
      const heights = [0, 1, 2, 5, 30, 31, 33];
      const dir = await scratch.damaged(many.dir, async (db) => {
        for (const h of heights) await db.put(cosignedKey(h), Buffer.from(cosigned(many, h, [W1])));
        await db.put(cosignedKey(3), Buffer.from(cosigned(many, 4, [W1]))); // block 4's checkpoint, stored for block 3
        await db.del(keys.block(31));
      });
      const report = await auditLedger(dir, { trustedKey: many.verifierKey, witnesses: [vkey1] });
      assert.deepEqual(cosignedFindings(report), ["3: the cosigned checkpoint is not the block's signed checkpoint followed by cosignatures"]);
      assert.deepEqual(report.cosigned, { entries: 8, verified: 6, unchecked: 0, unreadable: 1, witnesses: [{ name: W1.name, blocks: 6, newest: { height: 33, size: 34 } }] });
      // From block 29's checkpoint (size 30): the entries of the blocks before it are not read.
      const from = await auditLedger(dir, { trustedKey: many.verifierKey, witnesses: [vkey1], from: many.checkpoints[29] });
      assert.deepEqual([from.cosigned.entries, from.cosigned.verified, from.cosigned.unreadable], [3, 2, 1]);
    } finally {
      fs.rmSync(many.dir, { recursive: true, force: true });
    }
  });

  it('the CLI checks with its --witness keys and prints what it verified', async () => {
    const dir = await witnessed();
    const clean = runCli(['audit', dir, '--key', sample.verifierKey, '--witness', vkey1, '--quorum', '1']);
    assert.equal(clean.status, 0, clean.stderr);
    assert.match(clean.stdout, new RegExp(`witness cosignatures on 3 blocks: 3 verified \\(${W1.name} 3 blocks, newest 2\\); 3 not checked \\(witnesses not given\\)`));
    const plain = runCli(['audit', dir, '--key', sample.verifierKey]);
    assert.match(plain.stdout, /witness cosignatures on 3 blocks: 0 verified; 6 not checked \(pass --witness keys to check them\)/);
    const forged = await witnessed(async (db) => {
      const other = { name: W1.name, key: generateKey('Ed25519') };
      const note = sample.checkpoints[1];
      // W1's name and key ID with a signature by another key.
      const line = cosignLine(note.slice(0, note.indexOf('\n\n') + 1), other, TIME).split(' ');
      const blob = Buffer.from(line[2], 'base64');
      parseWitnessKey(vkey1).keyId.forEach((b, i) => (blob[i] = b));
      await db.put(cosignedKey(1), Buffer.from(`${note}${line[0]} ${line[1]} ${blob.toString('base64')}\n`));
    });
    const found = runCli(['audit', forged, '--key', sample.verifierKey, '--witness', vkey1, '--quorum', '1']);
    assert.equal(found.status, 1, found.stderr);
    assert.match(found.stdout, new RegExp(`first failure: cosignature at block 1, \\S+: the cosignature of witness ${W1.name} does not verify with its key`));
  });
});
