// C2SP tlog-cosignature, cosignature/v1 (https://c2sp.org/tlog-cosignature): timestamped
// Ed25519 witness signatures over a checkpoint note, signature type 0x04.
import { concatBytes, fromBase64, toBase64, toHex, utf8 } from '../encoding/bytes';
import { LedgerError } from '../errors';
import { sha256 } from '../crypto/hash';
import { publicKeyFromBytes, type PrivateKey, type PublicKey } from '../crypto/keys';
import { isValidKeyName, type SignatureVerifier } from '../note/note-open';
import { noteKeyId, parseVerifierKey } from '../note/note';
import { didToKey } from '../crypto/didkey';
import { sign, verifySignature } from '../crypto/signature';

export const COSIGNATURE_TYPE = 0x04;
const MAX_TIMESTAMP = 2n ** 63n - 1n;

function bad(message: string): LedgerError {
  return new LedgerError('ERR_MALFORMED_KEY', message);
}

function checkName(name: string): void {
  if (!isValidKeyName(name)) throw bad(`invalid key name ${JSON.stringify(name)}`);
}

/** Key ID = SHA-256(name || "\n" || 0x04 || 32-byte Ed25519 public key)[:4]. */
export function cosignerKeyId(name: string, key: PublicKey): Uint8Array {
  if (key.alg !== 'Ed25519') throw new LedgerError('ERR_UNSUPPORTED_ALG', 'cosignature/v1 uses Ed25519 keys');
  return sha256(utf8(name), Uint8Array.of(0x0a, COSIGNATURE_TYPE), key.publicKey).subarray(0, 4);
}

/** The message a cosignature/v1 signs: header line, time line, then the whole note text. */
export function cosignedMessage(noteText: string, timestamp: number | bigint): Uint8Array {
  const t = BigInt(timestamp);
  if (t < 0n || t > MAX_TIMESTAMP) throw new LedgerError('ERR_INVALID_ARGUMENT', 'cosignature timestamp out of range');
  if (!noteText.endsWith('\n')) throw new LedgerError('ERR_MALFORMED_NOTE', 'note text must end in a newline');
  return utf8(`cosignature/v1\ntime ${t.toString()}\n${noteText}`);
}

/** A witness: the C2SP key name and its Ed25519 key. */
export interface Cosigner {
  name: string;
  key: PrivateKey;
}

/**
 * Cosigns a checkpoint note text (everything before the blank line, final newline
 * included) and returns the signature line `— <name> base64(keyID || u64 time || sig)\n`.
 */
export function cosignLine(noteText: string, cosigner: Cosigner, timestamp: number): string {
  checkName(cosigner.name);
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw new LedgerError('ERR_INVALID_ARGUMENT', 'cosignature timestamp must be a non-negative integer');
  const sig = sign(cosigner.key, cosignedMessage(noteText, timestamp));
  const ts = new Uint8Array(8);
  new DataView(ts.buffer).setBigUint64(0, BigInt(timestamp), false);
  const blob = concatBytes(cosignerKeyId(cosigner.name, cosigner.key), ts, sig);
  return `\u2014 ${cosigner.name} ${toBase64(blob)}\n`;
}

/**
 * The timestamp of a cosignature/v1 signature (the bytes after the key ID), or undefined when
 * malformed. It may exceed 2^63 - 1, which C2SP forbids a cosigner to write: such a signature
 * is still checked (and then not counted, cosignatureVerifier).
 */
export function cosignatureTimestamp(signature: Uint8Array): bigint | undefined {
  if (signature.length !== 72) return undefined;
  return new DataView(signature.buffer, signature.byteOffset, 8).getBigUint64(0, false);
}

/** A witness's public identity as clients configure it. */
export interface WitnessKey {
  name: string;
  keyId: Uint8Array;
  key: PublicKey;
}

/** The vkey of a witness: `name+hex(keyID)+base64(0x04 || public key)` (C2SP signed-note verifier keys). */
export function witnessVerifierKey(name: string, key: PublicKey): string {
  checkName(name);
  const id = cosignerKeyId(name, key);
  return `${name}+${toHex(id)}+${toBase64(concatBytes(Uint8Array.of(COSIGNATURE_TYPE), key.publicKey))}`;
}

/** Parses a witness vkey (signature type 0x04) and checks its key ID. Throws ERR_MALFORMED_KEY. */
export function parseWitnessKey(vkey: string): WitnessKey {
  if (typeof vkey !== 'string') throw bad('witness key must be a string');
  const m = /^([^+]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/=]+)$/u.exec(vkey.trim());
  if (!m) throw bad('witness key must be name+hexid+base64key');
  const [, name = '', hexId = '', b64 = ''] = m;
  checkName(name);
  let raw: Uint8Array;
  try {
    raw = fromBase64(b64);
  } catch {
    throw bad('witness key is not base64');
  }
  if (raw.length !== 33 || raw[0] !== COSIGNATURE_TYPE) throw bad('witness key must be a cosignature/v1 key (type 0x04, 32 bytes)');
  const key = publicKeyFromBytes('Ed25519', raw.subarray(1));
  const keyId = cosignerKeyId(name, key);
  if (toHex(keyId) !== hexId) throw bad('witness key ID does not match its name and key');
  return { name, keyId, key };
}

export interface CosignatureVerifierOptions {
  /** Count no cosignature dated after this POSIX time (seconds). */
  notAfter?: number;
}

/**
 * A note verifier for cosignature/v1 signatures of one witness. `timestamps` are those of the
 * cosignatures it saw verify and counts; `uncounted` those of cosignatures that verify but are
 * dated after `notAfter` or past 2^53 - 1 (no time a Number holds; past 2^63 - 1 it breaks
 * C2SP's rule, but the witness's key signed it all the same). Such a cosignature is
 * genuine, so it is no bad signature (which rejects the whole note by the signed-note rules):
 * one witness dating its cosignature so (a clock far ahead, or on purpose) must not make the
 * note fail for the others' cosignatures.
 */
export function cosignatureVerifier(witness: WitnessKey, opts: CosignatureVerifierOptions = {}): SignatureVerifier & { timestamps: number[]; uncounted: bigint[] } {
  const timestamps: number[] = [];
  const uncounted: bigint[] = [];
  return {
    name: witness.name,
    keyId: witness.keyId,
    timestamps,
    uncounted,
    verify(text: Uint8Array, signature: Uint8Array): boolean {
      const ts = cosignatureTimestamp(signature);
      if (ts === undefined) return false;
      const prefix = utf8(`cosignature/v1\ntime ${ts.toString()}\n`);
      if (!verifySignature('Ed25519', witness.key.publicKey, concatBytes(prefix, text), signature.subarray(8))) return false;
      if (ts > BigInt(Number.MAX_SAFE_INTEGER) || (opts.notAfter !== undefined && Number(ts) > opts.notAfter)) uncounted.push(ts);
      else timestamps.push(Number(ts));
      return true;
    },
  };
}

/** A note verifier for a log's plain Ed25519 note signatures (type 0x01). */
export function ed25519NoteVerifier(name: string, key: PublicKey): SignatureVerifier {
  if (key.alg !== 'Ed25519') throw new LedgerError('ERR_UNSUPPORTED_ALG', 'note signatures use Ed25519 keys');
  return {
    name,
    keyId: noteKeyId(name, key),
    verify: (text, signature) => verifySignature('Ed25519', key.publicKey, text, signature),
  };
}

/**
 * The verifier for a log key given as a signed-note vkey (type 0x01) or an Ed25519
 * did:key, which is named after the origin. Throws ERR_MALFORMED_KEY.
 */
export function logVerifier(key: string, origin: string): SignatureVerifier {
  if (typeof key !== 'string') throw bad('log key must be a string');
  const k = key.trim();
  if (k.startsWith('did:')) {
    const pub = didToKey(k);
    if (pub.alg !== 'Ed25519') throw bad('log key must be an Ed25519 did:key');
    return ed25519NoteVerifier(origin, pub);
  }
  let v;
  try {
    v = parseVerifierKey(k);
  } catch (err) {
    throw bad(`log key is neither a did:key nor a verifier key: ${(err as Error).message}`);
  }
  return ed25519NoteVerifier(v.name, v.key);
}
