// Opening a signed note with several signatures by the rules of golang.org/x/mod/sumdb/note
// (the reference implementation of C2SP signed-note): unknown signers are ignored, a known
// signer's bad signature rejects the whole note, and at least one known signer must verify.
import { bytesEqual, fromBase64, toHex, utf8 } from '../encoding/bytes';
import { LedgerError } from '../errors';

/** One trusted key: its name and 4-byte key ID, and how it checks a signature over the note text. */
export interface SignatureVerifier {
  readonly name: string;
  readonly keyId: Uint8Array;
  verify(text: Uint8Array, signature: Uint8Array): boolean;
}

export interface NoteSignatureLine {
  name: string;
  keyId: Uint8Array;
  /** The signature bytes after the key ID. */
  signature: Uint8Array;
  /** The line as it appeared, without the newline. */
  line: string;
}

export interface OpenedNote {
  text: string;
  /** Signatures by known verifiers that verified, in note order, one per verifier. */
  verified: { verifier: SignatureVerifier; signature: NoteSignatureLine }[];
  /** Signatures by keys not in the verifier list (identical lines once). */
  unknown: NoteSignatureLine[];
}

/** Go's note allows at most 100 signature lines; C2SP requires accepting at least 16. */
export const MAX_NOTE_SIGNATURES = 100;
const SIG_PREFIX = '\u2014 ';

function malformed(message: string): LedgerError {
  return new LedgerError('ERR_MALFORMED_NOTE', message);
}

// Go's unicode.IsSpace is the Unicode White_Space property (JS \s differs: it lacks U+0085 and adds U+FEFF).
// eslint-disable-next-line no-control-regex -- tab to carriage return are spaces in Go too
const BAD_NAME = /[\u0009-\u000d\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000+]/u;

/** A key name by C2SP signed-note: non-empty, no Unicode spaces, no plus sign. */
export function isValidKeyName(name: string): boolean {
  return typeof name === 'string' && name.length > 0 && !BAD_NAME.test(name) && !/[\ud800-\udfff]/u.test(name);
}

/** Splits a note into text and signature lines, with every check Go's note.Open makes before verifying. */
export function splitNote(note: string): { text: string; lines: NoteSignatureLine[] } {
  if (typeof note !== 'string') throw malformed('note must be a string');
  // Valid UTF-8 (a JS string with lone surrogates cannot be encoded) and no control characters but newline.
  // eslint-disable-next-line no-control-regex -- the check is about control characters
  if (/[\u0000-\u0009\u000b-\u001f]/u.test(note) || /\p{Cs}/u.test(note)) throw malformed('note holds a control character or invalid UTF-8');
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw malformed('note has no signature block');
  const text = note.slice(0, split + 1);
  const block = note.slice(split + 2);
  if (block.length === 0 || !block.endsWith('\n')) throw malformed('signature block must end in a newline');
  const lines: NoteSignatureLine[] = [];
  for (const raw of block.slice(0, -1).split('\n')) {
    if (!raw.startsWith(SIG_PREFIX)) throw malformed('signature line must start with an em dash and a space');
    const rest = raw.slice(SIG_PREFIX.length);
    const space = rest.indexOf(' ');
    const name = space < 0 ? rest : rest.slice(0, space);
    const b64 = space < 0 ? '' : rest.slice(space + 1);
    let blob: Uint8Array | undefined;
    try {
      blob = b64 ? fromBase64(b64) : undefined;
    } catch {
      blob = undefined;
    }
    if (!blob || !isValidKeyName(name) || blob.length < 5) throw malformed('signature line needs a key name and a base64 signature of at least 5 bytes');
    if (lines.length === MAX_NOTE_SIGNATURES) throw malformed(`note has more than ${MAX_NOTE_SIGNATURES} signatures`);
    lines.push({ name, keyId: blob.subarray(0, 4), signature: blob.subarray(4), line: rest });
  }
  return { text, lines };
}

function checkVerifiers(verifiers: readonly SignatureVerifier[]): void {
  const seen = new Set<string>();
  for (const v of verifiers) {
    const id = `${v.name}+${toHex(v.keyId)}`;
    if (seen.has(id)) throw new LedgerError('ERR_INVALID_ARGUMENT', `two verifiers share the name and key ID ${id}`);
    seen.add(id);
  }
}

/**
 * Opens a note against known verifiers. Throws ERR_MALFORMED_NOTE for a malformed note and
 * ERR_BAD_SIGNATURE when a known signer's signature fails or no known signer signed
 * (`details.unverified` is true in that last case).
 */
export function openNote(note: string, verifiers: readonly SignatureVerifier[]): OpenedNote {
  checkVerifiers(verifiers);
  const { text, lines } = splitNote(note);
  const msg = utf8(text);
  const out: OpenedNote = { text, verified: [], unknown: [] };
  const seenKnown = new Set<SignatureVerifier>();
  const seenUnknown = new Set<string>();
  for (const line of lines) {
    const v = verifiers.find((k) => k.name === line.name && bytesEqual(k.keyId, line.keyId));
    if (!v) {
      if (!seenUnknown.has(line.line)) {
        seenUnknown.add(line.line);
        out.unknown.push(line);
      }
      continue;
    }
    // Go checks only the first signature of each known key and drops repeats.
    if (seenKnown.has(v)) continue;
    seenKnown.add(v);
    if (!v.verify(msg, line.signature))
      throw new LedgerError('ERR_BAD_SIGNATURE', `invalid signature for key ${v.name}+${toHex(v.keyId)}`, { name: v.name });
    out.verified.push({ verifier: v, signature: line });
  }
  if (out.verified.length === 0) throw new LedgerError('ERR_BAD_SIGNATURE', 'note has no verifiable signatures', { unverified: true });
  return out;
}
