import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fromBase64, toBase64, utf8 } from '../lib/encoding/bytes';
import { headerLine, signCheckpoint } from '../lib/note/checkpoint';
import { leafHash, rootFromLeafHashes } from '../lib/merkle';
import { generateKey, keyToDid } from '../lib/crypto';
import { isLedgerError } from '../lib/errors';
import { verifyConsistencyBundle, type ConsistencyBundle } from '../lib/ledger';
import { verifierKeyString } from '../lib/note/note';
import { runCli } from './support/cli';
import { listVectors, readVector } from './support/paths';

// Consistency bundles: two signed checkpoints and the RFC 9162 proof between them, made by
// `iot-ledger prove DIR --consistency FROM [TO]` and checked by `verify-proof`.

interface ConsistencyVector {
  size1: number;
  size2: number;
  root1: string;
  root2: string;
  proof: string[] | null;
  wantErr: boolean;
}

describe('consistency bundles', function () {
  this.timeout(60_000);
  const key = generateKey('Ed25519');
  const origin = 'example.org/consistency';
  const trusted = verifierKeyString(origin, key);

  describe('against the transparency-dev consistency vectors', () => {
    const files = listVectors('merkle', 'consistency');
    it('accepts exactly the vectors a verifier must accept, each wrapped in two signed checkpoints', () => {
      let accepted = 0;
      let checked = 0;
      for (const file of files) {
        const v = readVector<ConsistencyVector>('merkle', 'consistency', file);
        let root1: Uint8Array, root2: Uint8Array, proof: Uint8Array[];
        try {
          [root1, root2] = [fromBase64(v.root1), fromBase64(v.root2)];
          proof = (v.proof ?? []).map(fromBase64);
        } catch {
          continue; // not base64: cannot be put in a checkpoint at all
        }
        // A checkpoint holds a 32-byte root and a size that is a count: other vectors cannot be signed.
        if (root1.length !== 32 || root2.length !== 32 || !Number.isSafeInteger(v.size1) || !Number.isSafeInteger(v.size2) || v.size1 < 0 || v.size2 < 0) continue;
        const bundle: ConsistencyBundle = {
          format: 'iot-ledger-consistency/1',
          checkpoint1: signCheckpoint({ origin, size: v.size1, root: root1, extensions: [] }, origin, key),
          checkpoint2: signCheckpoint({ origin, size: v.size2, root: root2, extensions: [] }, origin, key),
          proof: v.proof ?? [],
          verifier: trusted,
        };
        const wellFormed = proof.every((h) => h.length === 32);
        let ok: boolean;
        try {
          verifyConsistencyBundle(bundle, trusted);
          ok = true;
        } catch (err) {
          assert.ok(isLedgerError(err) && err.code === 'ERR_MALFORMED_PROOF', `${file}: ${String(err)}`);
          ok = false;
        }
        checked++;
        assert.equal(ok, !v.wantErr && wellFormed, file);
        if (file.endsWith('happy-path.json')) assert.ok(ok, `${file} must be accepted`);
        if (ok) accepted++;
      }
      assert.ok(checked >= 70, `${checked} vectors checked`);
      assert.equal(accepted, 5);
    });

    it('refuses a happy-path bundle whose checkpoints another key signed, or whose origins differ', () => {
      const file = files.find((f) => f.endsWith('happy-path.json') && readVector<ConsistencyVector>('merkle', 'consistency', f).size1 < readVector<ConsistencyVector>('merkle', 'consistency', f).size2) as string;
      const v = readVector<ConsistencyVector>('merkle', 'consistency', file);
      const make = (k = key, o2 = origin): ConsistencyBundle => ({
        format: 'iot-ledger-consistency/1',
        checkpoint1: signCheckpoint({ origin, size: v.size1, root: fromBase64(v.root1), extensions: [] }, origin, key),
        checkpoint2: signCheckpoint({ origin: o2, size: v.size2, root: fromBase64(v.root2), extensions: [] }, o2, k),
        proof: v.proof ?? [],
        verifier: trusted,
      });
      assert.equal(verifyConsistencyBundle(make(), trusted).size2, v.size2);
      assert.throws(() => verifyConsistencyBundle(make(generateKey('Ed25519')), trusted), (e: unknown) => isLedgerError(e) && e.code === 'ERR_BAD_SIGNATURE');
      assert.throws(() => verifyConsistencyBundle(make(key, 'other.origin'), verifierKeyString('other.origin', key)), (e: unknown) => isLedgerError(e) && e.code === 'ERR_BAD_SIGNATURE');
      const swapped = make();
      [swapped.checkpoint1, swapped.checkpoint2] = [swapped.checkpoint2, swapped.checkpoint1];
      assert.throws(() => verifyConsistencyBundle(swapped, trusted), (e: unknown) => isLedgerError(e) && e.code === 'ERR_MALFORMED_PROOF');
    });
  });

  it('refuses two checkpoints whose block headers cannot both be of one ledger (the gateway signed a second header chain)', () => {
    // One tree (the empty proof between equal sizes holds), two blocks: each block ends at its own size,
    // so one size has one header and a larger size a higher block.
    const root = new Uint8Array(32).fill(9);
    const hash = (b: number): Uint8Array => new Uint8Array(32).fill(b);
    const note = (size: number, height: number, h: Uint8Array, r: Uint8Array = root): string => signCheckpoint({ origin, size, root: r, extensions: [headerLine(height, h)] }, origin, key);
    const bundle = (checkpoint1: string, checkpoint2: string, proof: string[] = []): ConsistencyBundle => ({ format: 'iot-ledger-consistency/1', checkpoint1, checkpoint2, proof, verifier: trusted });
    const refused = (e: unknown): boolean => isLedgerError(e, 'ERR_MALFORMED_PROOF') && /block header/.test(e.message);
    assert.equal(verifyConsistencyBundle(bundle(note(10, 3, hash(1)), note(10, 3, hash(1))), trusted).size2, 10);
    assert.throws(() => verifyConsistencyBundle(bundle(note(10, 3, hash(1)), note(10, 3, hash(2))), trusted), refused);
    assert.throws(() => verifyConsistencyBundle(bundle(note(10, 3, hash(1)), note(10, 4, hash(1))), trusted), refused);
    // A larger tree at the same or a lower height: refused before its proof is looked at.
    const r1 = rootFromLeafHashes([leafHash(utf8('a'))]);
    const r2 = rootFromLeafHashes([leafHash(utf8('a')), leafHash(utf8('b'))]);
    const proof = [toBase64(leafHash(utf8('b')))];
    assert.equal(verifyConsistencyBundle(bundle(note(1, 0, hash(1), r1), note(2, 1, hash(2), r2), proof), trusted).size2, 2);
    for (const height of [0, 5]) assert.throws(() => verifyConsistencyBundle(bundle(note(1, 5, hash(1), r1), note(2, height === 5 ? 5 : 0, hash(2), r2), proof), trusted), refused);
    // A checkpoint without the line (written before format 2) has nothing to compare.
    const plain = signCheckpoint({ origin, size: 1, root: r1, extensions: [] }, origin, key);
    assert.equal(verifyConsistencyBundle(bundle(plain, note(2, 0, hash(2), r2), proof), trusted).size2, 2);
  });

  describe('on a ledger made with the CLI', () => {
    let work: string;
    let dir: string;
    let keyFile: string;
    let did: string;
    const notes = (from: number, n: number): string => Array.from({ length: n }, (_, i) => JSON.stringify({ type: 'note', body: `note ${from + i}` })).join('\n') + '\n';

    before(() => {
      work = fs.mkdtempSync(path.join(os.tmpdir(), 'consistency-cli-'));
      dir = path.join(work, 'ledger');
      keyFile = path.join(work, 'gateway.key');
      // Three appends: three blocks, whose checkpoints are at tree sizes 3, 8 and 13.
      for (const [from, n] of [[0, 3], [3, 5], [8, 5]]) {
        const r = runCli(['append', dir, '--key', keyFile, '--name', 'consistency.test'], notes(from, n));
        assert.equal(r.status, 0, r.stderr);
      }
      did = runCli(['info', dir, '--json']).stdout.match(/did:key:z[1-9A-HJ-NP-Za-km-z]+/)?.[0] as string;
      assert.ok(did, 'info names the gateway did:key');
    });
    after(() => fs.rmSync(work, { recursive: true, force: true }));

    const prove = (...args: string[]) => runCli(['prove', dir, '--consistency', ...args]);
    const verify = (bundle: unknown, ...extra: string[]) => {
      const file = path.join(work, `bundle-${Math.random().toString(36).slice(2)}.json`);
      fs.writeFileSync(file, typeof bundle === 'string' ? bundle : JSON.stringify(bundle));
      return runCli(['verify-proof', file, '--key', did, ...extra]);
    };

    it('proves 3 -> 13 (the latest) and 3 -> 8; verify-proof accepts both', () => {
      for (const [args, size2] of [[['3'], 13], [['3', '8'], 8], [['8', '8'], 8]] as const) {
        const r = prove(...args);
        assert.equal(r.status, 0, r.stderr);
        const bundle = JSON.parse(r.stdout) as ConsistencyBundle;
        assert.equal(bundle.format, 'iot-ledger-consistency/1');
        assert.match(bundle.checkpoint1, /^consistency\.test\n3\n|^consistency\.test\n8\n/);
        const v = verify(r.stdout, '--json');
        assert.equal(v.status, 0, v.stdout + v.stderr);
        assert.deepEqual(JSON.parse(v.stdout), { valid: true, origin: 'consistency.test', size1: Number(args[0]), size2 });
      }
    });

    it('refuses tree sizes that are not checkpoints, naming the nearest (exit 2)', () => {
      const r = prove('5');
      assert.equal(r.status, 2);
      assert.match(r.stderr, /no checkpoint at tree size 5 \(the nearest: 3, 8\).*ERR_NOT_FOUND/);
      assert.equal(prove('8', '3').status, 2);
    });

    it('verify-proof exits 1 on a changed proof hash, a foreign key, and a fork of the ledger', () => {
      const bundle = JSON.parse(prove('3').stdout) as ConsistencyBundle;
      const bad = { ...bundle, proof: [...bundle.proof] };
      const h = fromBase64(bad.proof[0]);
      h[0] ^= 1;
      bad.proof[0] = Buffer.from(h).toString('base64');
      let v = verify(bad, '--json');
      assert.equal(v.status, 1);
      assert.equal(JSON.parse(v.stdout).code, 'ERR_MALFORMED_PROOF');

      v = runCli(['verify-proof', '-', '--key', keyToDid(generateKey('Ed25519'))], JSON.stringify(bundle));
      assert.equal(v.status, 1);
      assert.match(v.stdout, /ERR_BAD_SIGNATURE/);

      // The same gateway key and name, a history rewritten after record 2: its checkpoint at
      // 13 is validly signed but does not extend the original's checkpoint at 3.
      const fork = path.join(work, 'fork');
      runCli(['append', fork, '--key', keyFile, '--name', 'consistency.test'], notes(0, 3));
      runCli(['append', fork, '--key', keyFile, '--name', 'consistency.test'], notes(100, 10));
      const forked = JSON.parse(runCli(['prove', fork, '--consistency', '3']).stdout) as ConsistencyBundle;
      const mixed = { ...forked, checkpoint1: JSON.parse(prove('3', '8').stdout).checkpoint1 as string };
      assert.equal(verify(forked).status, 0, 'the fork is consistent with itself');
      const other = runCli(['append', path.join(work, 'fork2'), '--key', keyFile, '--name', 'consistency.test'], notes(50, 3));
      assert.equal(other.status, 0);
      const cp3 = JSON.parse(runCli(['prove', path.join(work, 'fork2'), '--consistency', '3', '3']).stdout).checkpoint1 as string;
      v = verify({ ...bundle, checkpoint1: cp3 }, '--json');
      assert.equal(v.status, 1, 'a checkpoint at 3 of another history is not a prefix of the original at 13');
      assert.equal(JSON.parse(v.stdout).code, 'ERR_MALFORMED_PROOF');
      assert.equal(verify(mixed).status, 1, 'same notes, other gateway times: another history');
    });
  });
});
