/**
 * Deterministic CBOR (RFC 8949 §4.2.1 core deterministic encoding) for ledger records,
 * and a strict decoder that can also read ordinary definite-length CBOR (e.g. COSE).
 */
import { types } from 'node:util';
import { asLedgerError, LedgerError } from '../errors';
import { byteAt } from './text';

export class CborTag {
  constructor(
    readonly tag: number,
    readonly value: CborValue,
  ) {}
}

export type CborValue =
  | number
  | bigint
  | string
  | Uint8Array
  | boolean
  | null
  | undefined
  | CborValue[]
  | Map<CborValue, CborValue>
  | { [key: string]: CborValue }
  | CborTag;

export interface DecodeOptions {
  /** Reject anything that is not the deterministic encoding (default true). */
  canonical?: boolean;
  /** Maximum nesting of arrays, maps and tags (default 64). */
  maxDepth?: number;
}

const MAX_DEPTH = 64;
/**
 * Bytes of composite map keys compared (lenient mode re-encodes each), at most this many times
 * the input: a map used as a key inside a map used as a key would otherwise re-encode what lies
 * below it once per level.
 */
const MAX_KEY_BYTES_PER_INPUT_BYTE = 4;
const MAX_U64 = 0xffff_ffff_ffff_ffffn;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

const MT_UINT = 0;
const MT_NINT = 1;
const MT_BYTES = 2;
const MT_TEXT = 3;
const MT_ARRAY = 4;
const MT_MAP = 5;
const MT_TAG = 6;
const MT_SIMPLE = 7;

const FALSE = 0xf4;
const TRUE = 0xf5;
const NULL = 0xf6;
const UNDEFINED = 0xf7;

// ignoreBOM keeps a leading U+FEFF in the string instead of silently dropping it.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
// Matches only unpaired surrogates, which UTF-8 cannot carry (TextEncoder would replace them).
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

function malformed(message: string, details?: Record<string, unknown>): LedgerError {
  return new LedgerError('ERR_MALFORMED_CBOR', message, details);
}

/** The smallest argument each of the additional information values 24..27 may carry in canonical form. */
const SHORTEST = [24, 0x100, 0x1_0000, 0x1_0000_0000] as const;

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = byteAt(a, i) - byteAt(b, i);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** compareBytes of data[aFrom, aTo) and data[bFrom, bTo), without making views of them. */
function compareRanges(data: Uint8Array, aFrom: number, aTo: number, bFrom: number, bTo: number): number {
  const n = Math.min(aTo - aFrom, bTo - bFrom);
  for (let i = 0; i < n; i++) {
    const d = byteAt(data, aFrom + i) - byteAt(data, bFrom + i);
    if (d !== 0) return d;
  }
  return aTo - aFrom - (bTo - bFrom);
}

// ---------------------------------------------------------------- floats

const scratch = new DataView(new ArrayBuffer(8));

/** The IEEE 754 half-precision bits of `v` when it is exactly representable, else undefined. */
function toHalfBits(v: number): number | undefined {
  if (Math.fround(v) !== v) return undefined;
  scratch.setFloat32(0, v);
  const bits = scratch.getUint32(0);
  const sign = (bits >>> 16) & 0x8000;
  const exp32 = (bits >>> 23) & 0xff;
  const mant32 = bits & 0x7fffff;
  if (exp32 === 0xff) return sign | 0x7c00; // infinity (NaN is handled by the caller)
  if (exp32 === 0) return mant32 === 0 ? sign : undefined; // float32 subnormals are below half range
  const exp = exp32 - 127;
  if (exp > 15 || exp < -24) return undefined;
  if (exp >= -14) {
    return (mant32 & 0x1fff) === 0 ? sign | ((exp + 15) << 10) | (mant32 >>> 13) : undefined;
  }
  // Half subnormal: value = significand * 2^(exp - 23) = halfMantissa * 2^-24.
  const significand = 0x800000 | mant32;
  const shift = -(exp + 1);
  return significand % 2 ** shift === 0 ? sign | (significand >>> shift) : undefined;
}

/** The value of an IEEE 754 half-precision float given as its 16 bits. */
export function fromHalfBits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (0x400 + mant) * 2 ** (exp - 25);
}

// ---------------------------------------------------------------- encoder

class Writer {
  // A Buffer: its native writers (text, floats, 64-bit integers) cost less than a DataView's.
  private buf: Buffer;
  private len = 0;

  constructor(capacity = 64, buf?: Buffer) {
    this.buf = buf ?? Buffer.allocUnsafe(capacity);
  }

  /** The buffer written into (a larger one once it grew). */
  get buffer(): Buffer {
    return this.buf;
  }

  /**
   * Makes room for `n` more bytes and returns their offset. Call it in its own statement:
   * in `this.buf.writeX(..., this.reserve(n))` the old buffer would be read before it grows.
   */
  private reserve(n: number): number {
    if (this.len + n > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
      this.buf.copy(next, 0, 0, this.len);
      this.buf = next;
    }
    const at = this.len;
    this.len += n;
    return at;
  }

  byte(b: number): void {
    const at = this.reserve(1);
    this.buf[at] = b;
  }

  bytes(b: Uint8Array): void {
    const n = b.length;
    const at = this.reserve(n);
    // A loop beats TypedArray#set's call for the few bytes of a map key or a hash.
    if (n <= 32) for (let i = 0; i < n; i++) this.buf[at + i] = b[i]!;
    else this.buf.set(b, at);
  }

  /** A text string: head and UTF-8 bytes, written in place (the caller rejects lone surrogates). */
  text(v: string): void {
    if (v.length < 64 && ASCII.test(v)) {
      const n = v.length;
      this.head(MT_TEXT, n);
      const at = this.reserve(n);
      for (let i = 0; i < n; i++) this.buf[at + i] = v.charCodeAt(i);
      return;
    }
    const n = Buffer.byteLength(v, 'utf8');
    this.head(MT_TEXT, n);
    const at = this.reserve(n);
    this.buf.write(v, at, n, 'utf8');
  }

  /** `n` (below 2^(8·width)) as `width` bytes big-endian. */
  private uint(n: number, width: number): void {
    const at = this.reserve(width);
    for (let i = width - 1, v = n; i >= 0; i--, v = Math.floor(v / 256)) this.buf[at + i] = v % 256;
  }

  /** Writes a major type with its argument in the shortest form. */
  head(major: number, arg: number | bigint): void {
    if (typeof arg === 'number' && arg < 24) {
      this.byte((major << 5) | arg);
      return;
    }
    const n = typeof arg === 'bigint' && arg <= MAX_SAFE ? Number(arg) : arg;
    const mt = major << 5;
    if (n < 24) {
      this.byte(mt | Number(n));
    } else if (n < 0x100) {
      this.byte(mt | 24);
      this.byte(Number(n));
    } else if (n < 0x10000) {
      this.byte(mt | 25);
      this.uint(Number(n), 2);
    } else if (n < 0x1_0000_0000) {
      this.byte(mt | 26);
      this.uint(Number(n), 4);
    } else if (typeof n === 'number') {
      this.byte(mt | 27);
      this.uint(Math.floor(n / 0x1_0000_0000), 4);
      this.uint(n % 0x1_0000_0000, 4);
    } else {
      this.byte(mt | 27);
      const at = this.reserve(8);
      this.buf.writeBigUInt64BE(BigInt(n), at);
    }
  }

  /** Writes a non-integer (or -0, NaN, ±Infinity) number in the shortest exact float width. */
  float(v: number): void {
    const half = Number.isNaN(v) ? 0x7e00 : toHalfBits(v);
    if (half !== undefined) {
      this.byte(0xf9);
      const at = this.reserve(2);
      this.buf.writeUInt16BE(half, at);
    } else if (Math.fround(v) === v) {
      this.byte(0xfa);
      const at = this.reserve(4);
      this.buf.writeFloatBE(v, at);
    } else {
      this.byte(0xfb);
      const at = this.reserve(8);
      this.buf.writeDoubleBE(v, at);
    }
  }

  /** `room` bytes, then a copy of what was written (allocUnsafe: small ones come from Node's pool). */
  withRoom(room: number): Buffer {
    const out = Buffer.allocUnsafe(room + this.len);
    this.buf.copy(out, room, 0, this.len);
    return out;
  }

  /** A copy of what was written, as a plain Uint8Array. */
  result(): Uint8Array {
    const out = new Uint8Array(this.len);
    out.set(this.buf.subarray(0, this.len));
    return out;
  }
}

// eslint-disable-next-line no-control-regex -- ASCII is 0x00-0x7f
const ASCII = /^[\x00-\x7f]*$/;
const MAX_CACHED_KEY = 32;
const MAX_CACHED_KEYS = 4096;
/** Encoded bytes of recently used short text map keys ("v", "type", "time", ...). */
const keyCache = new Map<string, Uint8Array>();

function isPlainObject(v: object): v is { [key: string]: CborValue } {
  // Compared structurally, not with `=== Object.prototype`: objects made in another realm
  // (e.g. a Node-RED function node's sandbox) have that realm's Object.prototype.
  const proto = Object.getPrototypeOf(v) as object | null;
  return proto === null || (Object.getPrototypeOf(proto) === null && Object.prototype.toString.call(v) === '[object Object]');
}

function writeInteger(w: Writer, v: number | bigint): void {
  if (typeof v === 'number') {
    if (v >= 0) w.head(MT_UINT, v);
    else w.head(MT_NINT, -1 - v);
  } else if (v >= 0n && v <= MAX_U64) {
    w.head(MT_UINT, v);
  } else if (v < 0n && v >= -1n - MAX_U64) {
    w.head(MT_NINT, -1n - v);
  } else {
    throw malformed('bigint outside the 64-bit CBOR integer range');
  }
}

interface MapEntry {
  key: Uint8Array;
  value: CborValue;
}

class Encoder {
  /** Containers currently being encoded, to detect cycles (an array: nesting is shallow). */
  private readonly open: object[] = [];

  item(w: Writer, v: CborValue, depth: number): void {
    switch (typeof v) {
      case 'number':
        if (Number.isSafeInteger(v) && !Object.is(v, -0)) writeInteger(w, v);
        else w.float(v);
        return;
      case 'bigint':
        writeInteger(w, v);
        return;
      case 'string':
        if (LONE_SURROGATE.test(v)) throw malformed('string contains an unpaired surrogate');
        w.text(v);
        return;
      case 'boolean':
        w.byte(v ? TRUE : FALSE);
        return;
      case 'undefined':
        w.byte(UNDEFINED);
        return;
      case 'object':
        if (v === null) w.byte(NULL);
        else if (types.isUint8Array(v)) this.byteString(w, MT_BYTES, v);
        else this.container(w, v, depth);
        return;
      default:
        throw malformed(`cannot encode a ${typeof v}`);
    }
  }

  private byteString(w: Writer, major: number, b: Uint8Array): void {
    w.head(major, b.length);
    w.bytes(b);
  }

  private container(w: Writer, v: object, depth: number): void {
    if (depth >= MAX_DEPTH) throw malformed(`nesting deeper than ${MAX_DEPTH}`);
    if (this.open.includes(v)) throw malformed('cannot encode a cyclic structure');
    this.open.push(v);
    if (Array.isArray(v)) {
      w.head(MT_ARRAY, v.length);
      for (let i = 0; i < v.length; i++) this.item(w, v[i] as CborValue, depth + 1);
    } else if (v instanceof CborTag) {
      if (!Number.isSafeInteger(v.tag) || v.tag < 0) throw malformed('tag number must be a non-negative safe integer');
      if (v.value === undefined) throw malformed('tag content cannot be undefined');
      w.head(MT_TAG, v.tag);
      this.item(w, v.value, depth + 1);
    } else if (types.isMap(v)) {
      const encoded: MapEntry[] = [];
      for (const [key, value] of v as Map<CborValue, CborValue>) {
        if (value === undefined) continue;
        if (key === undefined) throw malformed('map key cannot be undefined');
        encoded.push({ key: this.key(key, depth), value });
      }
      this.map(w, encoded, depth);
    } else if (isPlainObject(v)) {
      const encoded: MapEntry[] = [];
      for (const key of Object.keys(v)) {
        const value = v[key];
        if (value !== undefined) encoded.push({ key: this.key(key, depth), value });
      }
      this.map(w, encoded, depth);
    } else {
      throw malformed(`cannot encode an instance of ${v.constructor?.name ?? 'an unknown class'}`);
    }
    this.open.pop();
  }

  /** The encoded bytes of a map key; short text keys come from a cache (treat them as read-only). */
  private key(key: CborValue, depth: number): Uint8Array {
    const cacheable = typeof key === 'string' && key.length <= MAX_CACHED_KEY;
    if (cacheable) {
      const hit = keyCache.get(key);
      if (hit) return hit;
    }
    const kw = new Writer(cacheable ? 3 * MAX_CACHED_KEY + 2 : 64);
    this.item(kw, key, depth + 1);
    const bytes = kw.result();
    if (cacheable) {
      if (keyCache.size >= MAX_CACHED_KEYS) keyCache.clear();
      keyCache.set(key, bytes);
    }
    return bytes;
  }

  /** Map entries (values not undefined) sorted by their encoded keys, then written. */
  private map(w: Writer, encoded: MapEntry[], depth: number): void {
    sortEntries(encoded);
    w.head(MT_MAP, encoded.length);
    let previous: Uint8Array | undefined;
    for (const { key, value } of encoded) {
      if (previous && compareBytes(previous, key) === 0) throw malformed('duplicate map key');
      w.bytes(key);
      this.item(w, value, depth + 1);
      previous = key;
    }
  }
}

/** Sorts by encoded key: insertion sort for the few keys most maps have, the built-in sort past that. */
function sortEntries(entries: MapEntry[]): void {
  const n = entries.length;
  if (n > 16) {
    entries.sort((a, b) => compareBytes(a.key, b.key));
    return;
  }
  for (let i = 1; i < n; i++) {
    const e = entries[i] as MapEntry;
    let j = i - 1;
    while (j >= 0 && compareBytes((entries[j] as MapEntry).key, e.key) > 0) {
      entries[j + 1] = entries[j] as MapEntry;
      j--;
    }
    entries[j + 1] = e;
  }
}

/** The top-level writer's buffer, reused from one encodeCbor call to the next (never two at once). */
const SHARED_MAX = 64 * 1024;
let shared: Buffer | null = Buffer.allocUnsafe(1024);

/** Encodes `value` as RFC 8949 §4.2.1 deterministic CBOR. Throws ERR_MALFORMED_CBOR for unencodable input. */
export function encodeCbor(value: CborValue): Uint8Array {
  return encodeWith(value, (w) => w.result());
}

/**
 * encodeCbor into a Buffer that starts with `room` bytes left for the caller (what follows is
 * the encoding). The Buffer may be a slice of Node's shared pool: for values that are copied
 * and dropped soon (a record on its way into a storage batch), not ones kept for long.
 */
export function encodeCborWithRoom(value: CborValue, room: number): Buffer {
  return encodeWith(value, (w) => w.withRoom(room));
}

/**
 * A map's text keys, encoded and put in canonical order once, for encodeKnownMapWithRoom. Keys
 * that compare equal as encoded bytes are refused (they would be duplicates).
 */
export class KnownKeys {
  /** The keys in canonical (encoded byte) order, and their encodings. */
  readonly names: readonly string[];
  readonly encoded: readonly Uint8Array[];

  constructor(names: readonly string[]) {
    const entries = names.map((name) => ({ name, key: encodeCbor(name) }));
    entries.sort((a, b) => compareBytes(a.key, b.key));
    for (let i = 1; i < entries.length; i++)
      if (compareBytes(entries[i - 1]!.key, entries[i]!.key) === 0) throw malformed('duplicate map key');
    this.names = entries.map((e) => e.name);
    this.encoded = entries.map((e) => e.key);
  }
}

/**
 * encodeCborWithRoom of a plain object whose keys are all among `known`: the same bytes, without
 * collecting, encoding and sorting its keys per call. Fields that are undefined or absent are
 * left out, as encodeCborWithRoom leaves them out; a key outside `known` is not written (the
 * caller has checked the object's keys).
 */
export function encodeKnownMapWithRoom(value: Record<string, CborValue | undefined>, known: KnownKeys, room: number): Buffer {
  return encodeWith(value, (w) => w.withRoom(room), (w, e) => {
    const { names, encoded } = known;
    const values = new Array<CborValue | undefined>(names.length);
    let n = 0;
    for (let i = 0; i < names.length; i++) if ((values[i] = value[names[i]!]) !== undefined) n++;
    w.head(MT_MAP, n);
    for (let i = 0; i < names.length; i++) {
      const v = values[i];
      if (v === undefined) continue;
      w.bytes(encoded[i]!);
      e.item(w, v, 1);
    }
  });
}

function encodeWith<T>(value: CborValue, finish: (w: Writer) => T, write?: (w: Writer, e: Encoder) => void): T {
  // A getter that encodes while we do finds `shared` taken and gets its own buffer.
  const reused = shared;
  shared = null;
  const w = new Writer(256, reused ?? undefined);
  try {
    const e = new Encoder();
    if (write) write(w, e);
    else e.item(w, value, 0);
    return finish(w);
  } catch (err) {
    throw asLedgerError(err, 'ERR_MALFORMED_CBOR', 'cannot encode CBOR');
  } finally {
    if (reused) shared = w.buffer.length <= SHARED_MAX ? w.buffer : reused;
  }
}

// ---------------------------------------------------------------- decoder

interface Head {
  major: number;
  info: number;
  /** The argument; a bigint only for 8-byte arguments. */
  arg: number | bigint;
}

class Decoder {
  pos = 0;
  private readonly view: DataView;
  /** The input as a Buffer, made on the first ASCII text string. */
  private latin1: Buffer | undefined;
  /** Bytes of composite map keys so far (lenient mode: each is re-encoded to be compared). */
  private keyBytes = 0;

  constructor(
    private readonly data: Uint8Array,
    private readonly canonical: boolean,
    private readonly maxDepth: number,
  ) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  private malformed(message: string, at = this.pos): LedgerError {
    return malformed(message, { offset: at });
  }

  private noncanonical(message: string, at: number): LedgerError {
    return new LedgerError('ERR_NONCANONICAL_CBOR', message, { offset: at });
  }

  /** Claims `n` more bytes of input, returning where they start. */
  private take(n: number | bigint): number {
    if (n > this.data.length - this.pos) throw this.malformed('truncated input');
    const at = this.pos;
    this.pos += Number(n);
    return at;
  }

  private head(): Head {
    const start = this.pos;
    const ib = byteAt(this.data, this.take(1));
    const major = ib >> 5;
    const info = ib & 0x1f;
    let arg: number | bigint;
    if (info < 24) arg = info;
    else if (info === 24) arg = byteAt(this.data, this.take(1));
    else if (info === 25) arg = this.view.getUint16(this.take(2));
    else if (info === 26) arg = this.view.getUint32(this.take(4));
    else if (info === 27) arg = this.view.getBigUint64(this.take(8));
    else if (info === 31) {
      throw this.malformed(major === MT_SIMPLE ? 'unexpected break' : 'indefinite length is not supported', start);
    } else throw this.malformed(`reserved additional information ${info}`, start);
    if (this.canonical && major !== MT_SIMPLE && info >= 24) {
      const min = SHORTEST[info - 24] ?? 0;
      if (arg < min) throw this.noncanonical('integer or length not in shortest form', start);
    }
    return { major, info, arg };
  }

  item(depth: number): CborValue {
    const start = this.pos;
    const { major, info, arg } = this.head();
    switch (major) {
      case MT_UINT:
        return arg <= MAX_SAFE ? Number(arg) : arg;
      case MT_NINT:
        return typeof arg === 'number' ? -1 - arg : arg < MAX_SAFE ? -1 - Number(arg) : -1n - arg;
      case MT_BYTES:
        return this.data.slice(this.take(arg), this.pos);
      case MT_TEXT:
        return this.text(this.take(arg), this.pos);
      case MT_ARRAY:
        return this.array(arg, depth, start);
      case MT_MAP:
        return this.map(arg, depth, start);
      case MT_TAG:
        return this.tag(arg, depth, start);
      default:
        return this.simple(info, arg, start);
    }
  }

  private text(from: number, to: number): string {
    // ASCII (most keys and many values) reads the same in UTF-8 and Latin-1; a TextDecoder
    // call costs more than the check for the short strings of records.
    const d = this.data;
    let ascii = true;
    for (let i = from; i < to; i++) {
      if (d[i]! > 0x7f) {
        ascii = false;
        break;
      }
    }
    if (ascii) {
      this.latin1 ??= Buffer.from(d.buffer, d.byteOffset, d.byteLength);
      return this.latin1.toString('latin1', from, to);
    }
    try {
      return utf8Decoder.decode(d.subarray(from, to));
    } catch {
      throw this.malformed('invalid UTF-8 in text string', from);
    }
  }

  private enter(depth: number, start: number): void {
    if (depth >= this.maxDepth) throw this.malformed(`nesting deeper than ${this.maxDepth}`, start);
  }

  private array(count: number | bigint, depth: number, start: number): CborValue[] {
    this.enter(depth, start);
    // Every item takes at least one byte: a count beyond the rest of the input is a lie.
    if (count > this.data.length - this.pos) throw this.malformed('array longer than the input', start);
    const out: CborValue[] = [];
    for (let i = 0; i < count; i++) out.push(this.item(depth + 1));
    return out;
  }

  private map(count: number | bigint, depth: number, start: number): CborValue {
    this.enter(depth, start);
    if (count > (this.data.length - this.pos) / 2) throw this.malformed('map longer than the input', start);
    const keys: CborValue[] = [];
    const values: CborValue[] = [];
    let prevStart = -1;
    let prevEnd = -1;
    for (let i = 0; i < count; i++) {
      const keyStart = this.pos;
      keys.push(this.item(depth + 1));
      const keyEnd = this.pos;
      // toMap re-encodes a composite key to compare it: counted here, before that work.
      if (!this.canonical && typeof keys[i] === 'object' && keys[i] !== null) {
        this.keyBytes += keyEnd - keyStart;
        if (this.keyBytes > MAX_KEY_BYTES_PER_INPUT_BYTE * this.data.length) throw this.malformed('composite map keys nested too deep to compare', keyStart);
      }
      const valueStart = this.pos;
      values.push(this.item(depth + 1));
      if (this.canonical) {
        if (prevStart >= 0 && compareRanges(this.data, prevStart, prevEnd, keyStart, keyEnd) >= 0) {
          throw this.noncanonical('map keys not in sorted order or duplicated', keyStart);
        }
        // The encoder omits undefined values, rejects undefined keys and cannot express a -0 Map key.
        if (keys[i] === undefined || Object.is(keys[i], -0)) throw this.noncanonical('map key not encodable', keyStart);
        if (values[i] === undefined) throw this.noncanonical('map value is undefined', valueStart);
      }
      prevStart = keyStart;
      prevEnd = keyEnd;
    }
    return keys.every((k) => typeof k === 'string') ? this.toObject(keys, values, start) : this.toMap(keys, values, start);
  }

  private toObject(keys: string[], values: CborValue[], start: number): { [key: string]: CborValue } {
    const out: { [key: string]: CborValue } = {};
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      if (Object.prototype.hasOwnProperty.call(out, key)) throw this.malformed('duplicate map key', start);
      // A plain assignment to "__proto__" would replace the prototype instead of adding a key;
      // defining every key that way instead costs the decoder a third of its time.
      if (key === '__proto__') Object.defineProperty(out, key, { value: values[i], enumerable: true, writable: true, configurable: true });
      else out[key] = values[i]!;
    }
    return out;
  }

  private toMap(keys: CborValue[], values: CborValue[], start: number): Map<CborValue, CborValue> {
    const out = new Map<CborValue, CborValue>();
    // Keys such as 1 and 1.0, or two equal byte strings, are the same key once decoded.
    const seen = this.canonical ? undefined : new Set<string>();
    for (let i = 0; i < keys.length; i++) {
      if (seen && typeof keys[i] === 'object' && keys[i] !== null) {
        const id = keyIdentity(keys[i]);
        if (id !== undefined && seen.has(id)) throw this.malformed('duplicate map key', start);
        if (id !== undefined) seen.add(id);
      }
      out.set(keys[i], values[i]);
      if (out.size !== i + 1) throw this.malformed('duplicate map key', start);
    }
    return out;
  }

  private tag(tag: number | bigint, depth: number, start: number): CborTag {
    this.enter(depth, start);
    if (typeof tag === 'bigint' && tag > MAX_SAFE) throw this.malformed('tag number too large', start);
    const value = this.item(depth + 1);
    if (this.canonical && value === undefined) throw this.noncanonical('tag content is undefined', start);
    return new CborTag(Number(tag), value);
  }

  private simple(info: number, arg: number | bigint, start: number): CborValue {
    switch (info) {
      case FALSE & 0x1f:
        return false;
      case TRUE & 0x1f:
        return true;
      case NULL & 0x1f:
        return null;
      case UNDEFINED & 0x1f:
        return undefined;
      case 24:
        throw this.malformed(arg < 32 ? 'invalid two-byte simple value' : `unsupported simple value ${arg}`, start);
      case 25:
      case 26:
      case 27:
        return this.float(info, start);
      default:
        throw this.malformed(`unsupported simple value ${info}`, start);
    }
  }

  private float(info: number, start: number): number {
    const half = info === 25 ? this.view.getUint16(start + 1) : undefined;
    const v = half !== undefined ? fromHalfBits(half) : info === 26 ? this.view.getFloat32(start + 1) : this.view.getFloat64(start + 1);
    // What the encoder writes for v (Encoder.item, Writer.float), without encoding it: an
    // integer, or the narrowest float width that holds v exactly (NaN only as half 0x7e00).
    // Single and double bits round-trip through a JS number except for NaN payloads.
    if (this.canonical) {
      const integer = Number.isSafeInteger(v) && !Object.is(v, -0);
      const nan = Number.isNaN(v);
      const shortest = nan ? 25 : toHalfBits(v) !== undefined ? 25 : Math.fround(v) === v ? 26 : 27;
      const exact = half === undefined ? !nan : nan ? half === 0x7e00 : toHalfBits(v) === half;
      if (integer || shortest !== info || !exact) throw this.noncanonical('number not in its shortest deterministic form', start);
    }
    return v;
  }
}

/** A string naming a composite map key by value, or undefined if it cannot be encoded canonically. */
function keyIdentity(key: CborValue): string | undefined {
  try {
    return Buffer.from(encodeCbor(key)).toString('hex');
  } catch {
    return undefined;
  }
}

function decode(bytes: Uint8Array, opts: DecodeOptions | undefined, whole: boolean): { value: CborValue; length: number } {
  const maxDepth = opts?.maxDepth ?? MAX_DEPTH;
  if (!Number.isSafeInteger(maxDepth) || maxDepth < 0) {
    throw new LedgerError('ERR_INVALID_ARGUMENT', 'maxDepth must be a non-negative integer');
  }
  try {
    if (!types.isUint8Array(bytes)) throw malformed('CBOR input must be a Uint8Array');
    // A plain view, so that byte strings come out as Uint8Array copies even when given a Buffer.
    const data = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const d = new Decoder(data, opts?.canonical !== false, maxDepth);
    const value = d.item(0);
    if (whole && d.pos !== data.length) throw malformed('trailing bytes after the CBOR item', { offset: d.pos });
    return { value, length: d.pos };
  } catch (err) {
    throw asLedgerError(err, 'ERR_MALFORMED_CBOR', 'cannot decode CBOR');
  }
}

/**
 * Decodes exactly one CBOR item filling all of `bytes`. By default the input must be the
 * deterministic encoding (re-encoding the result gives back the same bytes).
 */
export function decodeCbor(bytes: Uint8Array, opts?: DecodeOptions): CborValue {
  return decode(bytes, opts, true).value;
}

/** Decodes the first CBOR item of `bytes`, returning it and how many bytes it took. */
export function decodeCborPrefix(bytes: Uint8Array, opts?: DecodeOptions): { value: CborValue; length: number } {
  return decode(bytes, opts, false);
}
