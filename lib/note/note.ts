// C2SP signed notes (https://c2sp.org/signed-note) with Ed25519 signatures.
import { concatBytes, fromBase64, toBase64, toHex, utf8 } from '../encoding/bytes';
import { LedgerError } from '../errors';
import { sha256 } from '../crypto/hash';
import { publicKeyFromBytes, type PrivateKey, type PublicKey } from '../crypto/keys';
import { sign, verifySignature } from '../crypto/signature';
import { openNote, splitNote, type SignatureVerifier } from './note-open';

const SIG_PREFIX = '\u2014 '; // em dash and a space start every signature line
const ED25519_TYPE = 0x01;

export interface NoteVerifier {
  name: string;
  keyId: Uint8Array; // 4 bytes
  key: PublicKey;
}

export interface NoteSignature {
  name: string;
  keyId: Uint8Array;
  signature: Uint8Array;
}

function malformed(message: string): LedgerError {
  return new LedgerError('ERR_MALFORMED_NOTE', message);
}

function checkName(name: string): void {
  if (!name || /[\s+]/u.test(name)) throw malformed(`invalid key name ${JSON.stringify(name)}`);
}

/** Key id = first 4 bytes of SHA-256(name || 0x0A || 0x01 || public key). */
export function noteKeyId(name: string, key: PublicKey): Uint8Array {
  if (key.alg !== 'Ed25519') throw new LedgerError('ERR_UNSUPPORTED_ALG', 'signed notes use Ed25519 keys');
  return sha256(utf8(name), Uint8Array.of(0x0a, ED25519_TYPE), key.publicKey).subarray(0, 4);
}

/** The verifier key string `name+hexid+base64(0x01||pubkey)`. */
export function verifierKeyString(name: string, key: PublicKey): string {
  checkName(name);
  const id = noteKeyId(name, key);
  return `${name}+${toHex(id)}+${toBase64(concatBytes(Uint8Array.of(ED25519_TYPE), key.publicKey))}`;
}

export function parseVerifierKey(vkey: string): NoteVerifier {
  if (typeof vkey !== 'string') throw malformed('verifier key must be a string');
  const m = /^([^+\s]+)\+([^+]*)\+(\S+)$/u.exec(vkey.trim());
  if (!m) throw malformed('verifier key must be name+hexid+base64key');
  const [, name = '', hexId = '', b64 = ''] = m;
  checkName(name);
  if (!/^[0-9a-f]{8}$/.test(hexId)) throw malformed('verifier key id must be 8 hex digits');
  let raw: Uint8Array;
  try {
    raw = fromBase64(b64);
  } catch {
    throw malformed('verifier key is not base64');
  }
  if (raw.length !== 33 || raw[0] !== ED25519_TYPE) throw malformed('verifier key must be an Ed25519 key (type 0x01)');
  const key = publicKeyFromBytes('Ed25519', raw.subarray(1));
  const keyId = noteKeyId(name, key);
  if (toHex(keyId) !== hexId) throw malformed('verifier key id does not match its name and key');
  return { name, keyId, key };
}

/** Signs note text (which must end in a newline) and returns the whole signed note. */
export function signNote(text: string, name: string, key: PrivateKey): string {
  checkName(name);
  if (!text.endsWith('\n')) throw malformed('note text must end in a newline');
  const sig = sign(key, utf8(text));
  const blob = concatBytes(noteKeyId(name, key), sig);
  return `${text}\n${SIG_PREFIX}${name} ${toBase64(blob)}\n`;
}

/** Adds a signature to an already signed note (e.g. a witness cosignature). */
export function addNoteSignature(note: string, name: string, key: PrivateKey): string {
  const { text } = parseNote(note);
  const extra = signNote(text, name, key).slice(text.length + 1);
  return note + extra;
}

/**
 * Splits a signed note into its text and signature lines; throws ERR_MALFORMED_NOTE.
 * The one note parser is `splitNote` (note-open.ts): Go's checks, including its bound
 * of MAX_NOTE_SIGNATURES (100) signature lines, all made before any signature is checked.
 */
export function parseNote(note: string): { text: string; signatures: NoteSignature[] } {
  const { text, lines } = splitNote(note);
  return { text, signatures: lines.map(({ name, keyId, signature }) => ({ name, keyId, signature })) };
}

/** The note verifier as a `SignatureVerifier` (note-open.ts): Ed25519 over the note text. */
export function noteSignatureVerifier(v: NoteVerifier): SignatureVerifier {
  return { name: v.name, keyId: v.keyId, verify: (text, signature) => verifySignature('Ed25519', v.key.publicKey, text, signature) };
}

function isSignatureVerifier(v: NoteVerifier | SignatureVerifier): v is SignatureVerifier {
  return typeof (v as Partial<SignatureVerifier>).verify === 'function';
}

/**
 * True when the note carries a valid signature by the given verifier; never throws.
 * Opened as Go's note.Open does: a malformed note (more than 100 signature lines among
 * other things) is false before any signature is checked, and only the first line of
 * the verifier's name and key ID is checked (at most one verification) — repeats are
 * dropped, so a bad first line is false whatever lines follow it.
 */
export function verifyNote(note: string, verifierKey: string | NoteVerifier | SignatureVerifier): boolean {
  try {
    const v = typeof verifierKey === 'string' ? parseVerifierKey(verifierKey) : verifierKey;
    openNote(note, [isSignatureVerifier(v) ? v : noteSignatureVerifier(v)]);
    return true;
  } catch {
    return false;
  }
}
