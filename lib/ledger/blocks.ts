// Block headers (hash-chained) and their signed checkpoints (docs/FORMAT.md "Blocks and checkpoints").
import { bytesEqual } from '../encoding/bytes';
import { checkpointHeader, headerLine, openCheckpoint, signCheckpoint } from '../note/checkpoint';
import { decodeCbor, encodeCbor } from '../encoding/codec';
import { LedgerError } from '../errors';
import { sha256 } from '../crypto/hash';
import type { PrivateKey } from '../crypto/keys';
import type { NoteVerifier } from '../note/note';
import { HASH_SIZE, type StoredBlock } from './layout';

export interface BlockHeader {
  v: 1;
  height: number;
  prev: Uint8Array;
  first: number;
  size: number;
  root: Uint8Array;
  time: number;
}

export interface BlockInfo {
  height: number;
  header: BlockHeader;
  hash: Uint8Array;
  checkpoint: string;
}

/** prev of block 0 */
export const GENESIS_PREV: Uint8Array = new Uint8Array(HASH_SIZE);

const HEADER_KEYS = ['v', 'height', 'prev', 'first', 'size', 'root', 'time'];

function corrupt(height: number, message: string): LedgerError {
  return new LedgerError('ERR_LEDGER_CORRUPT', `block ${height}: ${message}`, { height });
}

export function encodeHeader(h: BlockHeader): Uint8Array {
  return encodeCbor({ v: h.v, height: h.height, prev: h.prev, first: h.first, size: h.size, root: h.root, time: h.time });
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isHash = (v: unknown): v is Uint8Array => v instanceof Uint8Array && v.length === HASH_SIZE;

/** Strictly decodes header bytes; throws ERR_LEDGER_CORRUPT naming `height`. */
export function decodeHeader(bytes: Uint8Array, height: number): BlockHeader {
  let v: unknown;
  try {
    v = decodeCbor(bytes);
  } catch (err) {
    throw corrupt(height, `header is not canonical CBOR: ${(err as Error).message}`);
  }
  const o = v as Record<string, unknown>;
  if (typeof v !== 'object' || v === null || v instanceof Map || Array.isArray(v) || v instanceof Uint8Array)
    throw corrupt(height, 'header is not a map');
  const keys = Object.keys(o);
  if (keys.length !== HEADER_KEYS.length || !HEADER_KEYS.every((k) => k in o)) throw corrupt(height, 'header has the wrong fields');
  if (o.v !== 1 || !isCount(o.height) || !isHash(o.prev) || !isCount(o.first) || !isCount(o.size) || !isHash(o.root) || !isCount(o.time))
    throw corrupt(height, 'header has a field of the wrong type');
  if (o.first > o.size) throw corrupt(height, 'header starts after its end');
  return { v: 1, height: o.height, prev: o.prev, first: o.first, size: o.size, root: o.root, time: o.time };
}

/** Builds block `height` over [first, size) with the given root, and signs its checkpoint. */
export function makeBlock(
  fields: { height: number; prev: Uint8Array; first: number; size: number; root: Uint8Array; time: number },
  origin: string,
  key: PrivateKey,
): { info: BlockInfo; stored: StoredBlock } {
  const header: BlockHeader = { v: 1, ...fields };
  const bytes = encodeHeader(header);
  const hash = sha256(bytes);
  // The checkpoint commits to this header too, so the newest header is under a signature.
  const extensions = [headerLine(header.height, hash)];
  const checkpoint = signCheckpoint({ origin, size: header.size, root: header.root, extensions }, origin, key);
  return { info: { height: header.height, header, hash, checkpoint }, stored: { header: bytes, hash, checkpoint } };
}

/**
 * Turns a stored block back into BlockInfo, checking the header hash, the height, and
 * that the checkpoint names this ledger, its size and root (and, with a verifier, its signature).
 */
export function openBlock(stored: StoredBlock, height: number, origin: string, verifier?: NoteVerifier): BlockInfo {
  const header = decodeHeader(stored.header, height);
  if (!bytesEqual(sha256(stored.header), stored.hash)) throw corrupt(height, 'header hash does not match the header bytes');
  if (header.height !== height) throw corrupt(height, `header says height ${header.height}`);
  let cp;
  try {
    cp = openCheckpoint(stored.checkpoint, verifier);
  } catch (err) {
    throw corrupt(height, `checkpoint does not verify: ${(err as Error).message}`);
  }
  if (cp.origin !== origin || cp.size !== header.size || !bytesEqual(cp.root, header.root))
    throw corrupt(height, 'checkpoint does not match the header');
  let committed;
  try {
    committed = checkpointHeader(cp);
  } catch (err) {
    throw corrupt(height, (err as Error).message);
  }
  // Absent in checkpoints written before format 2 (docs/FORMAT.md).
  if (committed && (committed.height !== height || !bytesEqual(committed.hash, stored.hash)))
    throw corrupt(height, 'checkpoint commits to another header');
  return { height, header, hash: stored.hash, checkpoint: stored.checkpoint };
}
