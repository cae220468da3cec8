import * as assert from 'node:assert/strict';
import * as fc from 'fast-check';
import { fromBase64, toBase64 } from '../lib/encoding/bytes';
import { formatCheckpoint, openCheckpoint, parseCheckpointText, signCheckpoint } from '../lib/note/checkpoint';
import { generateKey, privateKeyFromBytes } from '../lib/crypto';
import { isLedgerError } from '../lib/errors';
import {
  addNoteSignature,
  noteSignatureVerifier,
  parseNote,
  parseVerifierKey,
  signNote,
  verifierKeyString,
  verifyNote,
} from '../lib/note/note';
import { MAX_NOTE_SIGNATURES, type SignatureVerifier } from '../lib/note/note-open';

// The example of golang.org/x/mod/sumdb/note (the reference implementation of C2SP signed-note).
const VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const SEED_B64 = 'AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz'; // from its PRIVATE+KEY string: 0x01 || seed
const TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const NOTE = `${TEXT}\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`;

describe('signed notes (C2SP)', () => {
  const key = privateKeyFromBytes('Ed25519', fromBase64(SEED_B64).subarray(1));

  it('reproduces the reference verifier key, key id and signature byte for byte', () => {
    assert.equal(verifierKeyString('PeterNeumann', key), VKEY);
    assert.equal(signNote(TEXT, 'PeterNeumann', key), NOTE);
    assert.ok(verifyNote(NOTE, VKEY));
  });

  it('rejects a changed text, a foreign key, a wrong name and garbage', () => {
    assert.ok(!verifyNote(NOTE.replace('cryptography', 'cryptographY'), VKEY));
    const other = generateKey('Ed25519');
    assert.ok(!verifyNote(NOTE, verifierKeyString('PeterNeumann', other)));
    assert.ok(!verifyNote(NOTE.replace('\u2014 PeterNeumann', '\u2014 PaulNeumann'), VKEY));
    assert.ok(!verifyNote('', VKEY));
    assert.ok(!verifyNote(NOTE, 'not a key'));
  });

  it('verifies one of several signatures (witness cosigning)', () => {
    const witness = generateKey('Ed25519');
    const both = addNoteSignature(NOTE, 'witness.example', witness);
    assert.equal(parseNote(both).signatures.length, 2);
    assert.ok(verifyNote(both, VKEY));
    assert.ok(verifyNote(both, verifierKeyString('witness.example', witness)));
  });

  describe('signature line bounds (as Go\'s sumdb/note)', () => {
    const sigLine = NOTE.slice(TEXT.length + 1); // "— PeterNeumann <base64>\n"
    const blob = fromBase64(sigLine.slice('\u2014 PeterNeumann '.length, -1));
    // Same name and key ID, signature bytes flipped: matches the key, does not verify.
    const badBlob = Uint8Array.from(blob, (b, i) => (i < 4 ? b : b ^ 0xff));
    const badLine = `\u2014 PeterNeumann ${toBase64(badBlob)}\n`;
    const unknownLine = (i: number) => `\u2014 other${i}.example ${toBase64(Uint8Array.of(1, 2, 3, 4, i & 0xff, 6))}\n`;
    const noteWith = (lines: string[]) => `${TEXT}\n${lines.join('')}`;
    const counting = () => {
      const inner = noteSignatureVerifier(parseVerifierKey(VKEY));
      const v: SignatureVerifier & { calls: number } = {
        name: inner.name,
        keyId: inner.keyId,
        calls: 0,
        verify(text, signature) {
          v.calls++;
          return inner.verify(text, signature);
        },
      };
      return v;
    };
    const malformed = (e: unknown) => isLedgerError(e, 'ERR_MALFORMED_NOTE');

    it('accepts 100 signature lines and refuses 101 with ERR_MALFORMED_NOTE', () => {
      assert.equal(MAX_NOTE_SIGNATURES, 100);
      const hundred = [sigLine, ...Array.from({ length: 99 }, (_, i) => unknownLine(i))];
      assert.equal(parseNote(noteWith(hundred)).signatures.length, 100);
      assert.ok(verifyNote(noteWith(hundred), VKEY));
      const over = noteWith([...hundred, unknownLine(200)]);
      assert.throws(() => parseNote(over), malformed);
      assert.equal(verifyNote(over, VKEY), false);
      const cp = signCheckpoint({ origin: 'o.example', size: 1, root: new Uint8Array(32), extensions: [] }, 'o.example', generateKey('Ed25519'));
      assert.throws(() => openCheckpoint(cp + unknownLine(0).repeat(100)), malformed);
    });

    it('refuses 10,000 copies of a bad matching line as malformed, before any verification', () => {
      const flood = noteWith(Array.from({ length: 10_000 }, () => badLine));
      assert.throws(() => parseNote(flood), malformed);
      const v = counting();
      assert.equal(verifyNote(flood, v), false);
      assert.equal(v.calls, 0);
    });

    it('verifies only the first line of the matching key: 100 bad copies cost one verification', () => {
      // Go drops repeats by the same key: a bad first line is not rescued by a good one after it.
      assert.equal(verifyNote(noteWith([badLine, sigLine]), VKEY), false);
      const v = counting();
      assert.equal(verifyNote(noteWith(Array.from({ length: 100 }, () => badLine)), v), false);
      assert.equal(v.calls, 1);
      const w = counting();
      assert.equal(verifyNote(noteWith([badLine, sigLine]), w), false);
      assert.equal(w.calls, 1);
      // A good first line is the one verification; the bad repeats after it are dropped.
      const g = counting();
      assert.equal(verifyNote(noteWith([sigLine, ...Array.from({ length: 99 }, () => badLine)]), g), true);
      assert.equal(g.calls, 1);
    });
  });

  it('rejects verifier keys whose id does not match', () => {
    assert.throws(() => parseVerifierKey(VKEY.replace('c74f20a3', 'c74f20a4')), (e: unknown) => isLedgerError(e, 'ERR_MALFORMED_NOTE'));
  });

  it('never throws on mutated notes and keys', () => {
    fc.assert(
      fc.property(fc.nat(NOTE.length - 1), fc.integer({ min: 1, max: 0xffff }), (pos, ch) => {
        const mutated = NOTE.slice(0, pos) + String.fromCharCode(ch) + NOTE.slice(pos + 1);
        const ok = verifyNote(mutated, VKEY);
        if (mutated !== NOTE && mutated.slice(0, TEXT.length) !== TEXT) assert.equal(ok, false);
      }),
      { numRuns: 500 },
    );
    fc.assert(fc.property(fc.string(), fc.string(), (n, k) => verifyNote(n, k) === false || typeof n === 'string'));
  });
});

describe('checkpoints (C2SP tlog-checkpoint)', () => {
  const gw = generateKey('Ed25519');
  const root = new Uint8Array(32).fill(7);

  it('formats, signs, opens and verifies', () => {
    const text = formatCheckpoint({ origin: 'coldroom.example/ledger', size: 42, root, extensions: [] });
    assert.equal(text, `coldroom.example/ledger\n42\n${toBase64(root)}\n`);
    const note = signCheckpoint(parseCheckpointText(text), 'coldroom.example/ledger', gw);
    const vkey = verifierKeyString('coldroom.example/ledger', gw);
    const cp = openCheckpoint(note, vkey);
    assert.equal(cp.size, 42);
    assert.deepEqual(cp.root, root);
    assert.throws(
      () => openCheckpoint(note.replace('\n42\n', '\n43\n'), vkey),
      (e: unknown) => isLedgerError(e, 'ERR_BAD_SIGNATURE'),
    );
  });

  it('rejects malformed checkpoint bodies with ERR_MALFORMED_NOTE', () => {
    const b64 = toBase64(root);
    // Extension lines "MUST be non-empty" (C2SP tlog-checkpoint); a note's text may hold empty lines, so a signed one can carry them.
    const emptyExtension = [`o\n1\n${b64}\n\n`, `o\n1\n${b64}\n\next\n`, `o\n1\n${b64}\next\n\n`];
    for (const bad of ['', 'o\n', `o\n01\n${b64}\n`, `o\n-1\n${b64}\n`, `o\n1\nAAAA\n`, `o\n1\n${b64}`, `\n1\n${b64}\n`, ...emptyExtension]) {
      assert.throws(() => parseCheckpointText(bad), (e: unknown) => isLedgerError(e, 'ERR_MALFORMED_NOTE'), JSON.stringify(bad));
    }
    const signed = signNote(`o\n1\n${b64}\n\next\n`, 'o', gw);
    assert.throws(() => openCheckpoint(signed, verifierKeyString('o', gw)), (e: unknown) => isLedgerError(e, 'ERR_MALFORMED_NOTE'));
    assert.deepEqual(parseCheckpointText(`o\n1\n${b64}\next\n`).extensions, ['ext']);
  });
});
