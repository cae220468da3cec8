import * as assert from 'node:assert/strict';
import * as fc from 'fast-check';
import { fromBase64, toBase64 } from '../lib/encoding/bytes';
import { formatCheckpoint, openCheckpoint, parseCheckpointText, signCheckpoint } from '../lib/note/checkpoint';
import { generateKey, privateKeyFromBytes } from '../lib/crypto';
import { isLedgerError } from '../lib/errors';
import { addNoteSignature, parseNote, parseVerifierKey, signNote, verifierKeyString, verifyNote } from '../lib/note/note';

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
    for (const bad of ['', 'o\n', `o\n01\n${b64}\n`, `o\n-1\n${b64}\n`, `o\n1\nAAAA\n`, `o\n1\n${b64}`, `\n1\n${b64}\n`]) {
      assert.throws(() => parseCheckpointText(bad), (e: unknown) => isLedgerError(e, 'ERR_MALFORMED_NOTE'), JSON.stringify(bad));
    }
  });
});
