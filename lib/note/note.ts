// C2SP signed notes (https://c2sp.org/signed-note) with Ed25519 signatures.
import { bytesEqual, concatBytes, fromBase64, toBase64, toHex, utf8 } from '../encoding/bytes';
import { LedgerError } from '../errors';
import { sha256 } from '../crypto/hash';
import { publicKeyFromBytes, type PrivateKey, type PublicKey } from '../crypto/keys';
import { sign, verifySignature } from '../crypto/signature';

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

/** Splits a signed note into its text and signature lines; throws ERR_MALFORMED_NOTE. */
export function parseNote(note: string): { text: string; signatures: NoteSignature[] } {
  if (typeof note !== 'string') throw malformed('note must be a string');
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw malformed('note has no signature block');
  const text = note.slice(0, split + 1);
  const block = note.slice(split + 2);
  if (!block.endsWith('\n')) throw malformed('signature block must end in a newline');
  const signatures: NoteSignature[] = [];
  for (const line of block.slice(0, -1).split('\n')) {
    if (!line.startsWith(SIG_PREFIX)) throw malformed('signature line must start with an em dash');
    const rest = line.slice(SIG_PREFIX.length);
    const space = rest.indexOf(' ');
    if (space <= 0) throw malformed('signature line needs a name and a signature');
    const name = rest.slice(0, space);
    checkName(name);
    let blob: Uint8Array;
    try {
      blob = fromBase64(rest.slice(space + 1));
    } catch {
      throw malformed('signature is not base64');
    }
    if (blob.length < 5) throw malformed('signature is too short');
    signatures.push({ name, keyId: blob.subarray(0, 4), signature: blob.subarray(4) });
  }
  if (signatures.length === 0) throw malformed('note has no signatures');
  return { text, signatures };
}

/** True when the note carries a valid signature by the given verifier; never throws. */
export function verifyNote(note: string, verifierKey: string | NoteVerifier): boolean {
  try {
    const v = typeof verifierKey === 'string' ? parseVerifierKey(verifierKey) : verifierKey;
    const { text, signatures } = parseNote(note);
    const msg = utf8(text);
    return signatures.some(
      (s) =>
        s.name === v.name &&
        bytesEqual(s.keyId, v.keyId) &&
        verifySignature('Ed25519', v.key.publicKey, msg, s.signature),
    );
  } catch {
    return false;
  }
}
