// The bytes of tiles and bundles: hash tiles (concatenated 32-byte hashes), entry bundles
// (big-endian uint16 length-prefixed entries, C2SP tlog-tiles) and this pack's block
// bundles (big-endian uint32 length-prefixed stored block values, docs/FORMAT.md "Tiles").
import { LedgerError } from '../errors';
import { rootFromLeafHashes } from '../merkle';

const HASH_SIZE = 32;
/** The largest entry an entry bundle can carry. */
export const MAX_ENTRY_BYTES = 0xffff;

function malformed(message: string): LedgerError {
  return new LedgerError('ERR_REPLICA_BAD_TILE', message);
}

export function encodeHashTile(hashes: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(hashes.length * HASH_SIZE);
  hashes.forEach((h, i) => out.set(h, i * HASH_SIZE));
  return out;
}

/** Splits a hash tile that must hold exactly `width` hashes. */
export function decodeHashTile(bytes: Uint8Array, width: number): Uint8Array[] {
  if (bytes.length !== width * HASH_SIZE) throw malformed(`hash tile is ${bytes.length} bytes, expected ${width * HASH_SIZE}`);
  const out: Uint8Array[] = [];
  for (let i = 0; i < width; i++) out.push(bytes.slice(i * HASH_SIZE, (i + 1) * HASH_SIZE));
  return out;
}

/** The hash of a full tile: the Merkle Tree Hash of the subtree whose 256 leaves-level nodes it holds. */
export function tileRoot(hashes: Uint8Array[]): Uint8Array {
  if (hashes.length === 0 || (hashes.length & (hashes.length - 1)) !== 0) throw malformed('only a power-of-two run of hashes has a subtree hash');
  return rootFromLeafHashes(hashes); // of a power-of-two run: the perfect subtree's hash
}

function encodePrefixed(items: Uint8Array[], prefix: 2 | 4, what: string): Uint8Array {
  let total = 0;
  for (const e of items) {
    if (prefix === 2 && e.length > MAX_ENTRY_BYTES)
      throw new LedgerError('ERR_REPLICA_ENTRY_TOO_LARGE', `${what} of ${e.length} bytes does not fit a uint16 length prefix`);
    total += prefix + e.length;
  }
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (const e of items) {
    if (prefix === 2) out.writeUInt16BE(e.length, at);
    else out.writeUInt32BE(e.length, at);
    at += prefix;
    out.set(e, at);
    at += e.length;
  }
  return out;
}

/**
 * Copies by default. With `views`, the items are views into `bytes` (which must not change
 * while they are used): a replica takes thousands of entries a second, and an ArrayBuffer
 * per entry was much of its garbage collector's work.
 */
function decodePrefixed(bytes: Uint8Array, width: number, prefix: 2 | 4, what: string, views: boolean): Uint8Array[] {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < b.length) {
    // Before the item, not after the loop: empty items cost 2 bytes each, so a 64 MiB body would be 32 Mi of them.
    if (out.length === width) throw malformed(`${what} bundle holds more than ${width} items`);
    if (at + prefix > b.length) throw malformed(`${what} bundle ends inside a length prefix`);
    const len = prefix === 2 ? b.readUInt16BE(at) : b.readUInt32BE(at);
    at += prefix;
    if (at + len > b.length) throw malformed(`${what} bundle ends inside an item`);
    out.push(views ? new Uint8Array(b.buffer, b.byteOffset + at, len) : Uint8Array.prototype.slice.call(b, at, at + len));
    at += len;
  }
  if (out.length !== width) throw malformed(`${what} bundle holds ${out.length} items, expected ${width}`);
  return out;
}

export const encodeEntryBundle = (entries: Uint8Array[]): Uint8Array => encodePrefixed(entries, 2, 'entry');
export const decodeEntryBundle = (bytes: Uint8Array, width: number, views = false): Uint8Array[] => decodePrefixed(bytes, width, 2, 'entry', views);
export const encodeBlockBundle = (blocks: Uint8Array[]): Uint8Array => encodePrefixed(blocks, 4, 'block');
export const decodeBlockBundle = (bytes: Uint8Array, width: number, views = false): Uint8Array[] => decodePrefixed(bytes, width, 4, 'block', views);
