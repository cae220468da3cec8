import * as assert from 'node:assert/strict';
import { signCheckpoint } from '../../lib/note/checkpoint';
import { generateKey } from '../../lib/crypto';
import { isLedgerError } from '../../lib/errors';
import { concatBytes, toBase64 } from '../../lib/encoding/bytes';
import { addNoteSignature, noteKeyId, verifierKeyString } from '../../lib/note/note';
import { isValidKeyName, openNote, splitNote } from '../../lib/note/note-open';
import { logVerifier } from '../../lib/witness/cosignature';

// The rules of golang.org/x/mod/sumdb/note Open(), case by case.
describe('opening notes with several signatures (Go sumdb/note rules)', () => {
  const a = generateKey('Ed25519');
  const b = generateKey('Ed25519');
  const stranger = generateKey('Ed25519');
  const note = signCheckpoint({ origin: 'a.example/log', size: 1, root: new Uint8Array(32), extensions: [] }, 'a.example/log', a);
  const va = logVerifier(verifierKeyString('a.example/log', a), 'a.example/log');
  const vb = logVerifier(verifierKeyString('b.example/log', b), 'b.example/log');
  const isCode = (code: string) => (e: unknown) => isLedgerError(e) && e.code === code;

  it('ignores signatures by unknown keys, also one sharing a name with a known key', () => {
    const withStranger = addNoteSignature(addNoteSignature(note, 'stranger.example', stranger), 'a.example/log', stranger);
    const opened = openNote(withStranger, [va]);
    assert.equal(opened.verified.length, 1);
    assert.equal(opened.unknown.length, 2);
  });

  it('rejects the whole note when a known signature fails, and when no known key signed', () => {
    const line = note.slice(note.lastIndexOf('\n\n') + 2);
    const at = line.length - 20; // inside the Ed25519 signature, after the key ID
    const forged = `${note.slice(0, note.lastIndexOf('\n\n') + 2)}${line.slice(0, at)}${line[at] === 'A' ? 'B' : 'A'}${line.slice(at + 1)}`;
    assert.notEqual(forged, note);
    assert.throws(() => openNote(forged, [va]), isCode('ERR_BAD_SIGNATURE'));
    assert.throws(() => openNote(note, [vb]), (e: unknown) => isLedgerError(e, 'ERR_BAD_SIGNATURE') && e.details?.unverified === true);
  });

  it('checks only the first signature of a known key and drops repeats (as Go does)', () => {
    const twice = addNoteSignature(note, 'a.example/log', a);
    assert.equal(openNote(twice, [va]).verified.length, 1);
    // A later bad repeat is dropped unchecked; a bad first one rejects.
    const badLine = `\u2014 a.example/log ${toBase64(concatBytes(noteKeyId('a.example/log', a), new Uint8Array(64)))}\n`;
    assert.equal(openNote(note + badLine, [va]).verified.length, 1);
    const [text, sigs] = [note.slice(0, note.lastIndexOf('\n\n') + 2), note.slice(note.lastIndexOf('\n\n') + 2)];
    assert.throws(() => openNote(text + badLine + sigs, [va]), isCode('ERR_BAD_SIGNATURE'));
  });

  it('allows 100 signature lines and refuses 101', () => {
    const text = note.slice(0, note.lastIndexOf('\n\n') + 2);
    const line = note.slice(note.lastIndexOf('\n\n') + 2);
    const extra = (n: number) => Array.from({ length: n }, (_, i) => `\u2014 x${i}.example AAAAAAAA\n`).join('');
    assert.equal(openNote(text + line + extra(99), [va]).unknown.length, 99);
    assert.throws(() => openNote(text + line + extra(100), [va]), isCode('ERR_MALFORMED_NOTE'));
  });

  it('refuses control characters, a missing signature block and malformed lines', () => {
    const cases = [
      note.replace('a.example/log\n1', 'a.example/log\r\n1'),
      note.replace('\n1\n', '\n1\t\n'),
      note.replace(/\n\n/, '\n'),
      note.slice(0, -1),
      `${note}\u2014 nosig\n`,
      `${note}- ascii.dash AAAAAAAA\n`,
      `${note}\u2014 short AAAA\n`,
      `${note}\u2014 bad+name AAAAAAAA\n`,
      `${note}\u2014 x AAAAAAA!\n`,
    ];
    for (const c of cases) assert.throws(() => splitNote(c), isCode('ERR_MALFORMED_NOTE'), JSON.stringify(c));
  });

  it('uses Go unicode.IsSpace for key names (U+0085 is a space, U+FEFF is not)', () => {
    assert.equal(isValidKeyName('a\u0085b'), false);
    assert.equal(isValidKeyName('a\u3000b'), false);
    assert.equal(isValidKeyName('a\ufeffb'), true);
    assert.equal(isValidKeyName('sum.golang.org'), true);
    assert.equal(isValidKeyName(''), false);
  });

  it('refuses two verifiers with the same name and key ID', () => {
    assert.throws(() => openNote(note, [va, va]), isCode('ERR_INVALID_ARGUMENT'));
  });
});
