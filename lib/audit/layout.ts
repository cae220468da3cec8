// The LevelDB key layout of docs/FORMAT.md ("Storage"), written out independently of
// the ledger's store so that the audit checks the bytes against the spec, not against
// the code that wrote them.
import { crc32 } from '../encoding/crc32';
import { utf8 } from '../encoding/text';

export const PREFIX_RECORD = 0x72; // 'r'
export const PREFIX_NODE = 0x6e; // 'n'
export const PREFIX_BLOCK = 0x62; // 'b'
export const PREFIX_SUMMARY = 0x69; // 'i'
/** Format 2's per-record index entries: by device, type and gateway time. A format 3 ledger holds none. */
export const OLD_INDEX_PREFIXES: readonly number[] = [0x64, 0x74, 0x73]; // 'd', 't', 's'

export const META_KEY = utf8('mmeta');
export const HEAD_KEY = utf8('h');

/** The storage format (meta `v`) this audit reads. */
export const FORMAT_VERSION = 4;

/**
 * The lowest tree level whose nodes a format 4 ledger stores: nodes below it are derived from
 * the leaf hashes stored with the records, and a stored one is a finding.
 */
export const MIN_STORED_LEVEL = 1;

export const HASH_SIZE = 32;
export const NODE_CHECKSUM_SIZE = 4;
export const NODE_VALUE_SIZE = HASH_SIZE + NODE_CHECKSUM_SIZE;

/** Writes x (a safe non-negative integer) as 8 bytes big-endian at `at`. */
function putU64(out: Uint8Array, at: number, x: number): void {
  let lo = x % 2 ** 32;
  let hi = Math.floor(x / 2 ** 32);
  for (let i = 7; i >= 4; i--, lo = Math.floor(lo / 256)) out[at + i] = lo % 256;
  for (let i = 3; i >= 0; i--, hi = Math.floor(hi / 256)) out[at + i] = hi % 256;
}

/** Reads 8 bytes big-endian at `at`; undefined when the value is not a safe integer. */
export function getU64(b: Uint8Array, at: number): number | undefined {
  if (at < 0 || b.length < at + 8) return undefined;
  // b[at, at + 8) is inside b (checked just above).
  const hi = b[at]! * 0x1000000 + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!);
  if (hi >= 2 ** 21) return undefined;
  return hi * 2 ** 32 + b[at + 4]! * 0x1000000 + ((b[at + 5]! << 16) | (b[at + 6]! << 8) | b[at + 7]!);
}

export function u64(x: number): Uint8Array {
  const out = new Uint8Array(8);
  putU64(out, 0, x);
  return out;
}

/** `r` + u64(index) */
export function recordKey(index: number): Uint8Array {
  const k = new Uint8Array(9);
  k[0] = PREFIX_RECORD;
  putU64(k, 1, index);
  return k;
}

/** `n` + u8(level) + u64(index) */
export function nodeKey(level: number, index: number): Uint8Array {
  const k = new Uint8Array(10);
  k[0] = PREFIX_NODE;
  k[1] = level;
  putU64(k, 2, index);
  return k;
}

/** `b` + u64(height) */
export function blockKey(height: number): Uint8Array {
  const k = new Uint8Array(9);
  k[0] = PREFIX_BLOCK;
  putU64(k, 1, height);
  return k;
}

/** `i` + u64(height): the summary of block `height`. */
export function summaryKey(height: number): Uint8Array {
  const k = new Uint8Array(9);
  k[0] = PREFIX_SUMMARY;
  putU64(k, 1, height);
  return k;
}

/** The index a `r` key names; undefined for a key of another shape. */
export function recordKeyIndex(key: Uint8Array): number | undefined {
  return key.length === 9 && key[0] === PREFIX_RECORD ? getU64(key, 1) : undefined;
}

/** The index a `n` key names (its level is key[1]). */
export function nodeKeyIndex(key: Uint8Array): number | undefined {
  return key.length === 10 && key[0] === PREFIX_NODE ? getU64(key, 2) : undefined;
}

export function blockKeyHeight(key: Uint8Array): number | undefined {
  return key.length === 9 && key[0] === PREFIX_BLOCK ? getU64(key, 1) : undefined;
}

/** CRC-32 (IEEE) of key || node hash: the check stored after a node hash, as u32 big-endian. */
export function nodeChecksum(key: Uint8Array, hash: Uint8Array): number {
  return crc32(hash, crc32(key));
}

/** The u32 after the hash of a node value that readNodeValue has checked is NODE_VALUE_SIZE (HASH_SIZE + 4) bytes. */
const storedCheck = (value: Uint8Array): number =>
  ((value[HASH_SIZE]! << 24) | (value[HASH_SIZE + 1]! << 16) | (value[HASH_SIZE + 2]! << 8) | value[HASH_SIZE + 3]!) >>> 0;

export interface StoredNode {
  hash: Uint8Array;
  /** False when the value has the wrong length or its checksum does not match. */
  intact: boolean;
  why?: string;
}

const keyScratch = new Uint8Array(10);

let crcTable: Uint32Array | undefined;

/** CRC-32 (IEEE) table, as lib/encoding/crc32's JavaScript fallback builds it. */
function table(): Uint32Array {
  if (crcTable) return crcTable;
  crcTable = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    crcTable[n] = c >>> 0;
  }
  return crcTable;
}

/**
 * Whether `value` is an intact node value for (level, index): NODE_VALUE_SIZE bytes whose
 * check is nodeChecksum(nodeKey(level, index), hash). The audit's hot path: CRC-32 over 42
 * bytes in JavaScript costs less than the two calls into zlib, and nothing is allocated.
 */
export function nodeValueIntact(level: number, index: number, value: Uint8Array): boolean {
  if (value.length !== NODE_VALUE_SIZE) return false;
  const t = table();
  // The key's bytes straight into the CRC: index < 2^53, its high word by division, the low
  // word by >>> 0 (integer operations, where putU64's byte-by-byte float modulo costs more).
  const hi = Math.floor(index / 2 ** 32);
  const lo = index >>> 0;
  let c = 0xffffffff;
  c = t[(c ^ PREFIX_NODE) & 0xff]! ^ (c >>> 8);
  c = t[(c ^ level) & 0xff]! ^ (c >>> 8);
  for (let sh = 24; sh >= 0; sh -= 8) c = t[(c ^ (hi >>> sh)) & 0xff]! ^ (c >>> 8);
  for (let sh = 24; sh >= 0; sh -= 8) c = t[(c ^ (lo >>> sh)) & 0xff]! ^ (c >>> 8);
  for (let i = 0; i < HASH_SIZE; i++) c = t[(c ^ value[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0 === storedCheck(value);
}


/** readNodeValue for the node (level, index), without building its key. */
export function readNodeAt(level: number, index: number, value: Uint8Array): StoredNode {
  keyScratch[0] = PREFIX_NODE;
  keyScratch[1] = level;
  putU64(keyScratch, 2, index);
  return readNodeValue(keyScratch, value);
}

/** Splits a node value into its hash and checks the checksum against the key. */
export function readNodeValue(key: Uint8Array, value: Uint8Array): StoredNode {
  if (value.length !== NODE_VALUE_SIZE) {
    const hash = value.length >= HASH_SIZE ? value.subarray(0, HASH_SIZE) : new Uint8Array(HASH_SIZE);
    return { hash, intact: false, why: `node value is ${value.length} bytes, expected ${NODE_VALUE_SIZE}` };
  }
  const hash = value.subarray(0, HASH_SIZE);
  if (nodeChecksum(key, hash) !== storedCheck(value)) return { hash, intact: false, why: 'node checksum does not match its hash' };
  return { hash, intact: true };
}

