// `iot-ledger verify-evidence`: a third party's offline check, with the gateway's public key
// alone, of the evidence a witness (equivocation) or a replica (fork, rollback) keeps. The
// replica's own files are checked with it in test/replica/replica.test.ts.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateKey, keyToDid } from '../lib/crypto';
import { signCheckpoint } from '../lib/note/checkpoint';
import { verifierKeyString } from '../lib/note/note';
import { runCli } from './support/cli';

const ORIGIN = 'evidence.example/gw';

describe('cli: verify-evidence', function () {
  this.timeout(30000);
  const key = generateKey('Ed25519');
  const did = keyToDid(key);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'verify-evidence-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const note = (size: number, fill: number, k = key): string => signCheckpoint({ origin: ORIGIN, size, root: new Uint8Array(32).fill(fill), extensions: [] }, ORIGIN, k);
  const file = (name: string, content: unknown): string => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, typeof content === 'string' ? content : JSON.stringify(content));
    return f;
  };
  /** A witness's equivocation evidence: two notes of one size. */
  const witnessEvidence = (latest: string, submitted: string) => ({ origin: ORIGIN, kind: 'equivocation', latest, submitted, oldSize: 5 });

  it("shows a witness's equivocation evidence (two roots for one size) with the did:key or the verifier key alone: exit 0", () => {
    const f = file('equivocation.json', witnessEvidence(note(7, 1), note(7, 2)));
    for (const k of [did, verifierKeyString(ORIGIN, key)]) {
      const r = runCli(['verify-evidence', f, '--key', k]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, `conflict shown for ledger ${ORIGIN}: the gateway signed two trees that cannot both be its log: different roots for one size, or a larger tree that does not extend the smaller\n`);
    }
    const json = runCli(['verify-evidence', f, '--key', did, '--json']);
    assert.deepEqual(JSON.parse(json.stdout), { conflict: 'roots', origin: ORIGIN });
  });

  it('prints a ledger name with its bidi characters escaped (the origin is the gateway key holder\'s text)', () => {
    const origin = 'evil\u202e.example';
    const sign = (fill: number): string => signCheckpoint({ origin, size: 3, root: new Uint8Array(32).fill(fill), extensions: [] }, origin, key);
    const r = runCli(['verify-evidence', file('bidi.json', { origin, kind: 'equivocation', latest: sign(1), submitted: sign(2) }), '--key', did]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^conflict shown for ledger evil\\u202e\.example: /);
  });

  it('refuses what shows no conflict (exit 1): one note twice, a note of another key, sizes apart without a proof, not JSON, no notes', () => {
    const other = generateKey('Ed25519');
    const cases: [string, unknown, RegExp][] = [
      ['same', witnessEvidence(note(7, 1), note(7, 1)), /no conflict shown: the evidence shows no conflict: both checkpoints sign the same tree \(ERR_MALFORMED_PROOF\)/],
      ['other-key', witnessEvidence(note(7, 1), note(7, 2, other)), /no conflict shown: .* \(ERR_BAD_SIGNATURE\)/],
      ['sizes', { origin: ORIGIN, kind: 'rollback', ours: note(9, 1), theirs: note(7, 2), proof: null }, /no conflict shown: the evidence shows no conflict: its proof is missing or malformed \(ERR_MALFORMED_PROOF\)/],
      ['text', 'not json', /no conflict shown: .* is not JSON \(ERR_MALFORMED_PROOF\)/],
      ['empty', { origin: ORIGIN }, /no conflict shown: .* holds no evidence/],
    ];
    for (const [name, content, message] of cases) {
      const r = runCli(['verify-evidence', file(`${name}.json`, content), '--key', did]);
      assert.equal(r.status, 1, `${name}: ${r.stderr}`);
      assert.match(r.stdout, message, name);
    }
  });

  it('reads no more than the largest evidence: a 10 MB file, /dev/zero and 100,000 levels of nesting are refused (exit 1)', () => {
    const big = file('big.json', JSON.stringify({ ...witnessEvidence(note(7, 1), note(7, 2)), pad: 'x'.repeat(10 << 20) }));
    for (const f of [big, '/dev/zero']) {
      const r = runCli(['verify-evidence', f, '--key', did]);
      assert.equal(r.status, 1, `${f}: ${r.stderr}`);
      assert.match(r.stdout, /no conflict shown: .* is larger than \d+ bytes, more than any evidence \(ERR_MALFORMED_PROOF\)/);
    }
    const deep = runCli(['verify-evidence', file('deep.json', `${'['.repeat(100_000)}${']'.repeat(100_000)}`), '--key', did]);
    assert.equal(deep.status, 1, deep.stderr);
    assert.match(deep.stdout, /no conflict shown: .* (is not JSON|holds no evidence)/);
  });

  it('usage and I/O errors: exit 2', () => {
    assert.equal(runCli(['verify-evidence', path.join(dir, 'equivocation.json')]).status, 2);
    const missing = runCli(['verify-evidence', path.join(dir, 'none.json'), '--key', did]);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /cannot read .*none\.json: ENOENT/);
  });
});
