// Proof bundles (docs/FORMAT.md "Proof bundle"): a record, its inclusion proof and the
// signed checkpoint it leads to, checkable offline with only the gateway's public key.
import { bytesEqual, fromBase64, toBase64 } from '../encoding/bytes';
import { checkpointHeader, openCheckpoint, type Checkpoint } from '../note/checkpoint';
import { didToKey } from '../crypto/didkey';
import { isLedgerError, LedgerError } from '../errors';
import { checkConsistency, checkInclusion, leafHash } from '../merkle';
import { noteKeyId, parseVerifierKey, type NoteVerifier } from '../note/note';
import { MAX_NOTE_SIGNATURES } from '../note/note-open';
import { MAX_BLOCK_BYTES } from './block-limits';
import { decodeRecord, type LedgerRecord } from './record';

export const PROOF_BUNDLE_FORMAT = 'iot-ledger-proof/1';

export interface ProofBundle {
  format: 'iot-ledger-proof/1';
  index: number;
  record: string;
  proof: string[];
  checkpoint: string;
  verifier: string;
}

export interface VerifiedBundle {
  index: number;
  record: LedgerRecord;
  checkpoint: { origin: string; size: number };
}

export function makeProofBundle(
  index: number,
  bytes: Uint8Array,
  proof: Uint8Array[],
  checkpoint: string,
  verifier: string,
): ProofBundle {
  return { format: PROOF_BUNDLE_FORMAT, index, record: toBase64(bytes), proof: proof.map(toBase64), checkpoint, verifier };
}

function malformed(message: string): LedgerError {
  return new LedgerError('ERR_MALFORMED_PROOF', message);
}

/**
 * Bounds checked before any decoding, so that a bundle costs work in proportion to what a
 * real one can hold, not to its size. A tree of fewer than 2^64 leaves (sizes here are safe
 * integers, below 2^53) has inclusion paths of at most 64 hashes (RFC 9162 §2.1.3: one per
 * level) and consistency proofs no longer (§2.1.4: one per level and the first subtree); a
 * hash is 44 characters of canonical base64. A record is never larger than a
 * block (64 MiB). A checkpoint note is its origin (at most 255 characters), size, root, the
 * header line and at most 100 signature lines (Go's note limit): 64 Ki characters is far above.
 */
export const MAX_BUNDLE_PROOF_HASHES = 64;
const HASH_BASE64_CHARS = 44;
const MAX_RECORD_BASE64_CHARS = Math.ceil(MAX_BLOCK_BYTES / 3) * 4;
export const MAX_CHECKPOINT_NOTE_CHARS = 64 * 1024;
/**
 * The most bytes a bundle's JSON text (a file given to `verify-proof` or `audit --from`) is read
 * to: its record's base64 and 4 MiB for the rest, which is at most a few checkpoint notes
 * (64 Ki characters each, 6 bytes a character when escaped), 64 hashes and the other fields.
 */
export const MAX_BUNDLE_BYTES = MAX_RECORD_BASE64_CHARS + 4 * 1024 * 1024;

function base64Field(v: unknown, what: string, maxChars: number): Uint8Array {
  if (typeof v !== 'string') throw malformed(`${what} must be a base64 string`);
  if (v.length > maxChars) throw malformed(`${what} is longer than ${maxChars} characters`);
  try {
    return fromBase64(v);
  } catch {
    throw malformed(`${what} is not valid base64`);
  }
}

/** The hashes of a bundle's `proof`: its length and each entry's checked before any is decoded. */
function proofHashes(v: unknown): Uint8Array[] {
  if (!Array.isArray(v)) throw malformed('proof must be an array of base64 hashes');
  if (v.length > MAX_BUNDLE_PROOF_HASHES) throw malformed(`proof has ${v.length} hashes, more than the ${MAX_BUNDLE_PROOF_HASHES} of any tree`);
  const hashes: Uint8Array[] = [];
  for (let i = 0; i < v.length; i++) {
    const p: unknown = v[i];
    if (typeof p !== 'string' || p.length !== HASH_BASE64_CHARS) throw malformed(`proof[${i}] must be a 32-byte hash in base64`);
    const h = base64Field(p, `proof[${i}]`, HASH_BASE64_CHARS);
    if (h.length !== 32) throw malformed(`proof[${i}] must be a 32-byte hash`);
    hashes.push(h);
  }
  return hashes;
}

/**
 * Checkpoints already verified, keyed by trusted key and note text exactly: a verifier that
 * checks many proofs under one checkpoint pays for its signature once. Bounded (oldest out).
 */
const verified = new Map<string, Checkpoint>();
const VERIFIED_MAX = 64;

function rememberVerified(key: string, cp: Checkpoint): void {
  if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value as string);
  verified.set(key, cp);
}

/** The note verifier for a trusted key: a verifier key string, or an Ed25519 did:key named after the origin. */
function trustedVerifier(trustedKey: string, origin: string): NoteVerifier {
  if (typeof trustedKey !== 'string') throw new LedgerError('ERR_INVALID_ARGUMENT', 'trusted key must be a string');
  if (trustedKey.startsWith('did:')) {
    let key;
    try {
      key = didToKey(trustedKey);
    } catch (err) {
      if (isLedgerError(err, 'ERR_WEAK_KEY')) throw err;
      throw new LedgerError('ERR_INVALID_ARGUMENT', `trusted key: ${(err as Error).message}`, undefined, err);
    }
    if (key.alg !== 'Ed25519') throw new LedgerError('ERR_INVALID_ARGUMENT', 'trusted key must be an Ed25519 did:key (checkpoints are signed with Ed25519)');
    return { name: origin, keyId: noteKeyId(origin, key), key };
  }
  try {
    return parseVerifierKey(trustedKey);
  } catch (err) {
    if (isLedgerError(err, 'ERR_WEAK_KEY')) throw err;
    throw new LedgerError('ERR_INVALID_ARGUMENT', `trusted key is neither a did:key nor a verifier key: ${(err as Error).message}`, undefined, err);
  }
}

/**
 * Checks a bundle against a trusted key (the `verifier` field inside is informative only).
 * Throws ERR_MALFORMED_PROOF for a bundle that is malformed or does not prove inclusion,
 * ERR_BAD_SIGNATURE when the checkpoint is not signed by the trusted key, and
 * ERR_INVALID_ARGUMENT for an unusable trusted key.
 */
export function verifyProofBundle(bundle: unknown, trustedKey: string): VerifiedBundle {
  if (typeof bundle !== 'object' || bundle === null || Array.isArray(bundle)) throw malformed('proof bundle must be an object');
  const b = bundle as Record<string, unknown>;
  if (b.format !== PROOF_BUNDLE_FORMAT) throw malformed(`proof bundle format must be "${PROOF_BUNDLE_FORMAT}"`);
  if (typeof b.index !== 'number' || !Number.isSafeInteger(b.index) || b.index < 0)
    throw malformed('proof bundle index must be a non-negative integer');
  const index = b.index;
  const proof = proofHashes(b.proof);
  if (typeof b.checkpoint !== 'string') throw malformed('checkpoint must be a signed note');
  checkNoteBounds(b.checkpoint, 'checkpoint');
  const bytes = base64Field(b.record, 'record', MAX_RECORD_BASE64_CHARS);
  const cp = signedCheckpoint(b.checkpoint, 'checkpoint', trustedKey);
  committedHeader(cp, 'checkpoint');
  let record: LedgerRecord;
  try {
    record = decodeRecord(bytes);
  } catch (err) {
    throw malformed(`record: ${(err as Error).message}`);
  }
  if (index >= cp.size) throw malformed(`index ${index} is not below the checkpoint's tree size ${cp.size}`);
  const inclusion = checkInclusion(leafHash(bytes), index, cp.size, proof, cp.root);
  if (!inclusion.ok) throw malformed(`inclusion proof for index ${index} does not lead to the checkpoint root: ${inclusion.reason}`);
  return { index, record, checkpoint: { origin: cp.origin, size: cp.size } };
}

// ---------------------------------------------------------------- consistency bundles

export const CONSISTENCY_BUNDLE_FORMAT = 'iot-ledger-consistency/1';

/** Two signed checkpoints of one ledger and the RFC 9162 proof that the second extends the first. */
export interface ConsistencyBundle {
  format: 'iot-ledger-consistency/1';
  /** The older checkpoint (tree size `size1`). */
  checkpoint1: string;
  /** The newer checkpoint (tree size `size2` >= `size1`). */
  checkpoint2: string;
  proof: string[];
  verifier: string;
}

export interface VerifiedConsistency {
  origin: string;
  size1: number;
  size2: number;
}

export function makeConsistencyBundle(checkpoint1: string, checkpoint2: string, proof: Uint8Array[], verifier: string): ConsistencyBundle {
  return { format: CONSISTENCY_BUNDLE_FORMAT, checkpoint1, checkpoint2, proof: proof.map(toBase64), verifier };
}

/** Parses a checkpoint field and checks its signature with the trusted key (once per key and note text). */
function signedCheckpoint(text: unknown, what: string, trustedKey: string): Checkpoint {
  if (typeof text !== 'string') throw malformed(`${what} must be a signed note`);
  checkNoteBounds(text, what);
  const cacheKey = typeof trustedKey === 'string' ? `${trustedKey}\n${text}` : undefined;
  const known = cacheKey === undefined ? undefined : verified.get(cacheKey);
  if (known) return { ...known, root: known.root.slice(), extensions: [...known.extensions] };
  const cp = checkedCheckpoint(text, what, trustedKey);
  if (cacheKey !== undefined) rememberVerified(cacheKey, { ...cp, root: cp.root.slice() });
  return cp;
}

/** A checkpoint note within bounds: its length, and at most 100 signature lines, before it is parsed or a signature checked. */
function checkNoteBounds(text: string, what: string): void {
  if (text.length > MAX_CHECKPOINT_NOTE_CHARS) throw malformed(`${what} is longer than ${MAX_CHECKPOINT_NOTE_CHARS} characters`);
  const split = text.lastIndexOf('\n\n');
  if (split < 0) return; // no signature block: parsing says so
  let lines = 0;
  for (let at = text.indexOf('\n', split + 2); at >= 0; at = text.indexOf('\n', at + 1))
    if (++lines > MAX_NOTE_SIGNATURES) throw malformed(`${what} has more than ${MAX_NOTE_SIGNATURES} signature lines`);
}

function checkedCheckpoint(text: string, what: string, trustedKey: string): Checkpoint {
  let cp: Checkpoint;
  try {
    cp = openCheckpoint(text);
  } catch (err) {
    throw malformed(`${what}: ${(err as Error).message}`);
  }
  const verifier = trustedVerifier(trustedKey, cp.origin);
  if (verifier.name !== cp.origin)
    throw new LedgerError('ERR_BAD_SIGNATURE', `${what} is for "${cp.origin}" but the trusted key is for "${verifier.name}"`);
  try {
    return openCheckpoint(text, verifier);
  } catch (err) {
    if (err instanceof LedgerError && err.code === 'ERR_BAD_SIGNATURE') throw new LedgerError('ERR_BAD_SIGNATURE', `${what} is not signed by the trusted key`);
    throw malformed(`${what}: ${(err as Error).message}`);
  }
}

/**
 * The block header a bundle's checkpoint commits to: its `iot-ledger header` line, undefined
 * without one (written before format 2). A malformed line, a second one, or a height its tree
 * size cannot reach (every block holds a record, so block h ends at size h + 1 or later) is no
 * checkpoint of a ledger, whoever signed it.
 */
function committedHeader(cp: Checkpoint, what: string): { height: number; hash: Uint8Array } | undefined {
  let header;
  try {
    header = checkpointHeader(cp);
  } catch (err) {
    throw malformed(`${what}'s block header line: ${(err as Error).message}`);
  }
  if (header && header.height >= cp.size)
    throw malformed(`${what}'s block header line names block ${header.height}, which cannot end at tree size ${cp.size} (every block holds a record)`);
  return header;
}

/**
 * The block headers two checkpoints of one ledger commit to (their `iot-ledger header` lines,
 * when both have one) must be of one chain: a block ends at its own tree size and holds at least
 * one record, so one size has one header and a larger size a higher block. Anything else is a
 * second header chain the gateway signed (as a witness sees it: a fork), whatever the proof says.
 */
function checkHeaders(cp1: Checkpoint, cp2: Checkpoint): void {
  const [h1, h2] = [committedHeader(cp1, 'checkpoint1'), committedHeader(cp2, 'checkpoint2')];
  if (!h1 || !h2) return;
  if (cp1.size === cp2.size ? h1.height !== h2.height || !bytesEqual(h1.hash, h2.hash) : h1.height >= h2.height)
    throw malformed(
      `the checkpoints commit to block headers of two chains: tree size ${cp1.size} at block ${h1.height}, tree size ${cp2.size} at block ${h2.height}${cp1.size === cp2.size && h1.height === h2.height ? ' with another header hash' : ''}`,
    );
}

/**
 * Checks a consistency bundle against a trusted key: both checkpoints signed by it, for the
 * same origin, their block headers of one chain (checkHeaders), and the proof showing that the
 * tree of checkpoint1 is a prefix of that of checkpoint2. Throws as verifyProofBundle does.
 */
export function verifyConsistencyBundle(bundle: unknown, trustedKey: string): VerifiedConsistency {
  if (typeof bundle !== 'object' || bundle === null || Array.isArray(bundle)) throw malformed('consistency bundle must be an object');
  const b = bundle as Record<string, unknown>;
  if (b.format !== CONSISTENCY_BUNDLE_FORMAT) throw malformed(`consistency bundle format must be "${CONSISTENCY_BUNDLE_FORMAT}"`);
  const proof = proofHashes(b.proof);
  const cp1 = signedCheckpoint(b.checkpoint1, 'checkpoint1', trustedKey);
  const cp2 = signedCheckpoint(b.checkpoint2, 'checkpoint2', trustedKey);
  if (cp1.origin !== cp2.origin) throw malformed(`the checkpoints are of different ledgers ("${cp1.origin}", "${cp2.origin}")`);
  if (cp1.size > cp2.size) throw malformed(`checkpoint1 (tree size ${cp1.size}) is larger than checkpoint2 (${cp2.size})`);
  checkHeaders(cp1, cp2);
  const consistent = checkConsistency(cp1.size, cp2.size, proof, cp1.root, cp2.root);
  if (!consistent.ok)
    throw malformed(`consistency proof does not show tree size ${cp1.size} to be a prefix of tree size ${cp2.size}: ${consistent.reason}`);
  return { origin: cp1.origin, size1: cp1.size, size2: cp2.size };
}
