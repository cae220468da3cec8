// What an anchor commits to: the ledger's origin, the checkpoint's tree size and root, and the
// hash of the signed checkpoint note exactly as the gateway produced it (never rebuilt, so
// extension lines and cosignatures count too).
import { utf8 } from '../encoding/bytes';
import { openCheckpoint } from '../note/checkpoint';
import { sha256 } from '../crypto/hash';

export interface AnchorSubject {
  origin: string;
  /** SHA-256 of the origin line (UTF-8): the indexed topic anchors are looked up by. */
  originHash: Uint8Array;
  size: number;
  root: Uint8Array;
  /** SHA-256 of the signed checkpoint note's bytes (UTF-8). */
  checkpointHash: Uint8Array;
}

export function originHash(origin: string): Uint8Array {
  return sha256(utf8(origin));
}

export function checkpointHash(note: string): Uint8Array {
  return sha256(utf8(note));
}

/** The subject of a signed checkpoint note (ERR_MALFORMED_NOTE when it is not one). */
export function anchorSubject(note: string): AnchorSubject {
  const cp = openCheckpoint(note);
  return { origin: cp.origin, originHash: originHash(cp.origin), size: cp.size, root: cp.root, checkpointHash: checkpointHash(note) };
}
