// LevelDB keys and values of a ledger, as docs/FORMAT.md ("Storage") fixes them.
// Keys and values are Buffers: classic-level takes and returns them without copying.
import { bytesEqual } from '../encoding/bytes';
import { decodeCbor, encodeCbor } from '../encoding/codec';
import { LedgerError } from '../errors';
import { crc32 } from '../encoding/crc32';
import { sha256 } from '../crypto/hash';

export const HASH_SIZE = 32;
const NODE_CHECK_SIZE = 4;

/**
 * The storage format this version writes and reads (meta `v`). Format 1 kept a truncated SHA-256
 * as node check; format 2 kept an index entry per record (by device, type and time) where format 3
 * keeps one summary per sealed block; format 3 stored every Merkle node, format 4 none below
 * MIN_STORED_LEVEL.
 */
export const FORMAT_VERSION = 4;

/**
 * The lowest tree level whose perfect nodes are stored (`n` keys). Nodes below it are derived from
 * the leaf hashes stored in front of the records (level 0 is the leaf hash itself). At most 8, so
 * that tile level 1 (tree level 8) is read, not recomputed.
 */
export const MIN_STORED_LEVEL = 1;

const P_HEAD = 0x68; // 'h'
const P_RECORD = 0x72; // 'r'
const P_NODE = 0x6e; // 'n'
const P_BLOCK = 0x62; // 'b'
const P_SUMMARY = 0x69; // 'i'
/** Witness entries, kept beside the log (lib/witness/ledger-cosignatures.ts): cosigned checkpoints and witness sizes. */
export const P_COSIGNED = 0x63; // 'c'
export const P_WITNESS = 0x77; // 'w'
/** Key prefixes of format 2's per-record index entries (by device, type, time): gone in format 3. */
export const OLD_INDEX_PREFIXES: readonly number[] = [0x64, 0x74, 0x73]; // 'd', 't', 's'

/** `m` + `meta` */
export const META_KEY: Buffer = Buffer.from('mmeta', 'latin1');
export const HEAD_KEY: Buffer = Buffer.from([P_HEAD]);

function corrupt(message: string, details?: Record<string, unknown>): LedgerError {
  return new LedgerError('ERR_LEDGER_CORRUPT', message, details);
}

/** Writes `n` (a safe integer >= 0) as 8 bytes big-endian at `at`. */
function writeU64(buf: Buffer, n: number, at: number): void {
  buf.writeUInt32BE(Math.floor(n / 0x1_0000_0000), at);
  buf.writeUInt32BE(n % 0x1_0000_0000, at + 4);
}

/** Reads the 4-byte big-endian number at `at` (a RangeError past the end: callers check lengths first). */
function readU32(buf: Uint8Array, at: number): number {
  return Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).readUInt32BE(at);
}

/** Reads the 8-byte big-endian number at `at`. */
export function readU64(buf: Uint8Array, at: number): number {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  return b.readUInt32BE(at) * 0x1_0000_0000 + b.readUInt32BE(at + 4);
}

/** A plain Uint8Array copy of part of a (possibly Buffer) value. */
function copyOf(v: Uint8Array, start: number, end: number): Uint8Array {
  const out = new Uint8Array(end - start);
  out.set(v.subarray(start, end));
  return out;
}

function prefixU64(prefix: number, n: number): Buffer {
  const key = Buffer.allocUnsafe(9);
  key[0] = prefix;
  writeU64(key, n, 1);
  return key;
}

// ------------------------------------------------------------------ records, nodes, blocks

/** `r` + u64(index) */
export const recordKey = (index: number): Buffer => prefixU64(P_RECORD, index);

/** `b` + u64(height) */
export const blockKey = (height: number): Buffer => prefixU64(P_BLOCK, height);

/** `n` + u8(level) + u64(index): the perfect subtree of 2^level leaves starting at leaf index·2^level. */
export function nodeKey(level: number, index: number): Buffer {
  const key = Buffer.allocUnsafe(10);
  key[0] = P_NODE;
  key[1] = level;
  writeU64(key, index, 2);
  return key;
}

/** leaf hash (32) || canonical record bytes */
export function recordValue(leafHash: Uint8Array, bytes: Uint8Array): Buffer {
  const value = Buffer.allocUnsafe(HASH_SIZE + bytes.length);
  value.set(leafHash, 0);
  value.set(bytes, HASH_SIZE);
  return value;
}

/** Splits a stored record value; the caller checks the hash against the bytes. */
export function splitRecordValue(value: Uint8Array, index: number): { leafHash: Uint8Array; bytes: Uint8Array } {
  if (value.length <= HASH_SIZE) throw corrupt(`record ${index} is truncated`, { index });
  return { leafHash: copyOf(value, 0, HASH_SIZE), bytes: copyOf(value, HASH_SIZE, value.length) };
}

/** CRC-32 (IEEE, as zlib) of key || node hash: catches a value LevelDB hands back damaged or under the wrong key. */
function nodeCheck(key: Uint8Array, hash: Uint8Array): number {
  return crc32(hash, crc32(key));
}

/** node hash (32) || u32 big-endian CRC-32(key || node hash) */
export function nodeValue(key: Uint8Array, hash: Uint8Array): Buffer {
  const value = Buffer.allocUnsafe(HASH_SIZE + NODE_CHECK_SIZE);
  value.set(hash, 0);
  value.writeUInt32BE(nodeCheck(key, hash), HASH_SIZE);
  return value;
}

/** The node hash held in a stored value, after checking its checksum against the key. */
export function nodeHashFromValue(key: Uint8Array, value: Uint8Array | undefined, level: number, index: number): Uint8Array {
  const where = { level, index };
  if (value === undefined) throw corrupt(`Merkle node level ${level} index ${index} is missing`, where);
  if (value.length !== HASH_SIZE + NODE_CHECK_SIZE) throw corrupt(`Merkle node level ${level} index ${index} has a bad length`, where);
  const hash = copyOf(value, 0, HASH_SIZE);
  if (nodeCheck(key, hash) !== readU32(value, HASH_SIZE)) throw corrupt(`Merkle node level ${level} index ${index} fails its checksum`, where);
  return hash;
}

// ------------------------------------------------------------------ block summaries

/** `i` + u64(height) */
export const summaryKey = (height: number): Buffer => prefixU64(P_SUMMARY, height);

/** The records of one sealed block, summarised for queries: what `byType`, `byDevice` and `byTime` skip blocks by. */
export interface BlockSummary {
  /** Index of the block's first record. */
  first: number;
  /** Records in the block. */
  count: number;
  /** Smallest and largest gateway time of its records (both 0 for a block of no records). */
  tmin: number;
  tmax: number;
  /** The distinct types and devices of its records, in ascending order of their UTF-8 bytes. */
  types: string[];
  devices: string[];
}

export const summaryValue = (s: BlockSummary): Buffer =>
  Buffer.from(encodeCbor({ first: s.first, count: s.count, tmin: s.tmin, tmax: s.tmax, types: s.types, devices: s.devices }));

const isTextList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

export function decodeSummary(value: Uint8Array, height: number): BlockSummary {
  let v: unknown;
  try {
    v = decodeCbor(value);
  } catch (err) {
    throw corrupt(`the summary of block ${height} is unreadable: ${(err as Error).message}`, { height });
  }
  const o = v as Record<string, unknown>;
  if (
    !isPlain(v) ||
    Object.keys(o).length !== 6 ||
    !isCount(o.first) ||
    !isCount(o.count) ||
    !isCount(o.tmin) ||
    !isCount(o.tmax) ||
    !isTextList(o.types) ||
    !isTextList(o.devices)
  )
    throw corrupt(`the summary of block ${height} has the wrong shape`, { height });
  return { first: o.first, count: o.count, tmin: o.tmin, tmax: o.tmax, types: o.types, devices: o.devices };
}

/** The u64 a key ends with (the index of a record key). */
export const indexOfKey = (key: Uint8Array): number => readU64(key, key.length - 8);

// ------------------------------------------------------------------ head

/** The head: tree size, height of the next block to seal, and the index where that block starts. */
export interface Head {
  size: number;
  height: number;
  blockFirst: number;
}

function headHash(h: Head): Uint8Array {
  return sha256(encodeCbor({ size: h.size, height: h.height, blockFirst: h.blockFirst }));
}

export function headValue(h: Head): Buffer {
  return Buffer.from(encodeCbor({ size: h.size, height: h.height, blockFirst: h.blockFirst, hash: headHash(h) }));
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

export function decodeHead(value: Uint8Array): Head {
  let v: unknown;
  try {
    v = decodeCbor(value);
  } catch (err) {
    throw corrupt(`ledger head is unreadable: ${(err as Error).message}`);
  }
  const o = v as Record<string, unknown>;
  if (!isPlain(v) || Object.keys(o).length !== 4 || !isCount(o.size) || !isCount(o.height) || !isCount(o.blockFirst) || !(o.hash instanceof Uint8Array))
    throw corrupt('ledger head has the wrong shape');
  const head: Head = { size: o.size, height: o.height, blockFirst: o.blockFirst };
  if (!bytesEqual(o.hash, headHash(head))) throw corrupt('ledger head fails its hash check');
  if (head.blockFirst > head.size) throw corrupt('ledger head starts its open block past its size');
  return head;
}

// ------------------------------------------------------------------ meta

export interface Meta {
  v: typeof FORMAT_VERSION;
  name: string;
  gateway: string;
  verifier: string;
  created: number;
}

export const metaValue = (m: Meta): Buffer =>
  Buffer.from(encodeCbor({ v: m.v, name: m.name, gateway: m.gateway, verifier: m.verifier, created: m.created }));

export function decodeMeta(value: Uint8Array): Meta {
  let v: unknown;
  try {
    v = decodeCbor(value);
  } catch (err) {
    throw corrupt(`ledger meta is unreadable: ${(err as Error).message}`);
  }
  const o = v as Record<string, unknown>;
  if (isPlain(v) && typeof o.v === 'number' && Number.isSafeInteger(o.v) && o.v >= 1 && o.v < FORMAT_VERSION)
    throw new LedgerError(
      'ERR_LEDGER_FORMAT',
      `the ledger is in storage format ${o.v}; this version reads format ${FORMAT_VERSION}: run \`iot-ledger migrate <dir>\` once to convert it`,
      { format: o.v },
    );
  if (isPlain(v) && typeof o.v === 'number' && o.v > FORMAT_VERSION)
    throw new LedgerError('ERR_LEDGER_FORMAT', `the ledger is in storage format ${o.v}, newer than this version reads (${FORMAT_VERSION})`, { format: o.v });
  if (
    !isPlain(v) ||
    Object.keys(o).length !== 5 ||
    o.v !== FORMAT_VERSION ||
    typeof o.name !== 'string' ||
    typeof o.gateway !== 'string' ||
    typeof o.verifier !== 'string' ||
    !isCount(o.created)
  )
    throw corrupt('ledger meta has the wrong shape (or a newer format version)');
  return { v: FORMAT_VERSION, name: o.name, gateway: o.gateway, verifier: o.verifier, created: o.created };
}

// ------------------------------------------------------------------ blocks

export interface StoredBlock {
  header: Uint8Array;
  hash: Uint8Array;
  checkpoint: string;
}

export const blockValue = (b: StoredBlock): Buffer =>
  Buffer.from(encodeCbor({ header: b.header, hash: b.hash, checkpoint: b.checkpoint }));

export function decodeBlockValue(value: Uint8Array, height: number): StoredBlock {
  let v: unknown;
  try {
    v = decodeCbor(value);
  } catch (err) {
    throw corrupt(`block ${height} is unreadable: ${(err as Error).message}`, { height });
  }
  const o = v as Record<string, unknown>;
  if (
    !isPlain(v) ||
    Object.keys(o).length !== 3 ||
    !(o.header instanceof Uint8Array) ||
    !(o.hash instanceof Uint8Array) ||
    o.hash.length !== HASH_SIZE ||
    typeof o.checkpoint !== 'string'
  )
    throw corrupt(`block ${height} has the wrong shape`, { height });
  return { header: o.header, hash: o.hash, checkpoint: o.checkpoint };
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Map) && !(v instanceof Uint8Array);
}
