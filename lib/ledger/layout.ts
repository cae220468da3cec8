// LevelDB keys and values of a ledger, as docs/FORMAT.md ("Storage") fixes them.
// Keys and values are Buffers: classic-level takes and returns them without copying.
import { bytesEqual } from '../encoding/bytes';
import { decodeCbor, encodeCbor } from '../encoding/codec';
import { LedgerError } from '../errors';
import { crc32 } from '../encoding/crc32';
import { sha256 } from '../crypto/hash';

export const HASH_SIZE = 32;
const NODE_CHECK_SIZE = 4;

/** The storage format this version writes and reads (meta `v`). Format 1 kept a truncated SHA-256 as node check. */
export const FORMAT_VERSION = 2;

const P_HEAD = 0x68; // 'h'
const P_RECORD = 0x72; // 'r'
const P_NODE = 0x6e; // 'n'
const P_BLOCK = 0x62; // 'b'
const P_DEVICE = 0x64; // 'd'
const P_TYPE = 0x74; // 't'
const P_TIME = 0x73; // 's'

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

// ------------------------------------------------------------------ secondary indexes

/**
 * The value of every index entry: one 0x00 byte. Not empty, because classic-level 3 copies
 * each key and value into a `new char[size]` and frees it only when the size is not 0:
 * every empty value written leaks a small allocation (about 100 MB per million records).
 */
export const INDEX_VALUE: Buffer = Buffer.from([0]);

/** prefix + UTF-8 text + 0x00, for the few devices and types a ledger has (one cache per prefix). */
const TEXT_HEADS_MAX = 4096;
const deviceHeads = new Map<string, Buffer>();
const typeHeads = new Map<string, Buffer>();

function textIndexKey(heads: Map<string, Buffer>, prefix: number, text: string, index: number): Buffer {
  let head = heads.get(text);
  if (!head) {
    const t = Buffer.from(text, 'utf8');
    head = Buffer.allocUnsafe(1 + t.length + 1);
    head[0] = prefix;
    t.copy(head, 1);
    head[1 + t.length] = 0;
    if (heads.size >= TEXT_HEADS_MAX) heads.clear();
    heads.set(text, head);
  }
  const key = Buffer.allocUnsafe(head.length + 8);
  head.copy(key, 0);
  writeU64(key, index, head.length);
  return key;
}

/** `d` + did + 0x00 + u64(index) */
export const deviceKey = (did: string, index: number): Buffer => textIndexKey(deviceHeads, P_DEVICE, did, index);
/** `t` + type + 0x00 + u64(index) */
export const typeKey = (type: string, index: number): Buffer => textIndexKey(typeHeads, P_TYPE, type, index);

/** `s` + u64(time) + u64(index) */
export function timeKey(time: number, index: number): Buffer {
  const key = Buffer.allocUnsafe(17);
  key[0] = P_TIME;
  writeU64(key, time, 1);
  writeU64(key, index, 9);
  return key;
}

export const deviceRange = (did: string, from: number, to: number): { gte: Buffer; lt: Buffer } => ({
  gte: deviceKey(did, from),
  lt: deviceKey(did, to),
});
export const typeRange = (type: string, from: number, to: number): { gte: Buffer; lt: Buffer } => ({
  gte: typeKey(type, from),
  lt: typeKey(type, to),
});
export const timeRange = (fromMs: number, toMs: number): { gte: Buffer; lt: Buffer } => ({
  gte: timeKey(fromMs, 0),
  lt: timeKey(toMs, 0),
});

/** The record index at the end of any secondary index key. */
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
  if (isPlain(v) && o.v === 1)
    throw new LedgerError(
      'ERR_LEDGER_FORMAT',
      `the ledger is in storage format 1; this version reads format ${FORMAT_VERSION}: run \`iot-ledger migrate <dir>\` once to convert it`,
      { format: 1 },
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
