// A fast path for reading records: validates canonical CBOR in place (no objects are
// built for bodies) and picks out the top-level fields the audit needs. It accepts only
// what lib/codec's canonical decoder accepts; whenever it is unsure it answers
// undefined and the caller decodes with lib/codec, whose verdict (and message) counts.
import { fromUtf8 } from '../encoding/text';
import { decodeCbor, fromHalfBits } from '../encoding/codec';
import { RECORD_TYPE, type RecordView } from './records';

const MAX_DEPTH = 64;
// One Error made once: thrown on every non-canonical item, it costs no stack capture each time.
const FAIL = new Error('not canonical');
// Byte reads below use `!` only at positions already proven inside the buffer (by need(), by a
// completed item(), or by the range check at the top of the function): this is the audit's hot
// loop, so no second bounds check per byte.

const F_V = 0x76; // "v"
const KEY_TYPE = [0x74, 0x79, 0x70, 0x65];
const KEY_TIME = [0x74, 0x69, 0x6d, 0x65];
const KEY_BODY = [0x62, 0x6f, 0x64, 0x79];
const KEY_DEVICE = [0x64, 0x65, 0x76, 0x69, 0x63, 0x65];
const KEY_ENVELOPE = [0x65, 0x6e, 0x76, 0x65, 0x6c, 0x6f, 0x70, 0x65];

/** Is b[from, to) exactly `word`? */
function is(b: Uint8Array, from: number, to: number, word: number[]): boolean {
  if (to - from !== word.length) return false;
  for (let i = 0; i < word.length; i++) if (b[from + i] !== word[i]) return false;
  return true;
}

/** Well-formed UTF-8 as the WHATWG decoder (fatal) accepts it: no overlongs, surrogates or values above U+10FFFF. */
export function validUtf8(b: Uint8Array, from: number, to: number): boolean {
  if (from < 0 || to > b.length) return false;
  let i = from;
  while (i < to) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let n: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) n = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      if (c === 0xe0) lo = 0xa0;
      else if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      if (c === 0xf0) lo = 0x90;
      else if (c === 0xf4) hi = 0x8f;
    } else return false;
    if (i + n >= to) return false; // truncated sequence
    const second = b[i + 1]!;
    if (second < lo || second > hi) return false;
    for (let k = 2; k <= n; k++) if ((b[i + k]! & 0xc0) !== 0x80) return false;
    i += n + 1;
  }
  return true;
}

class Scanner {
  pos = 0;
  major = 0;
  info = 0;
  /** The argument; for 8-byte arguments only good enough to compare (exact below 2^53). */
  arg = 0;
  argHigh = 0;
  /** Containers may start below this depth (the record map is at 0, its values at 1). */
  maxDepth = MAX_DEPTH;

  constructor(public b: Uint8Array) {}

  need(n: number): number {
    if (n > this.b.length - this.pos) throw FAIL;
    const at = this.pos;
    this.pos += n;
    return at;
  }

  head(): void {
    const b = this.b;
    const ib = b[this.need(1)]!;
    this.major = ib >> 5;
    this.info = ib & 0x1f;
    this.argHigh = 0;
    const info = this.info;
    if (info < 24) this.arg = info;
    else if (info === 24) this.arg = b[this.need(1)]!;
    else if (info === 25) {
      const at = this.need(2);
      this.arg = (b[at]! << 8) | b[at + 1]!;
    } else if (info === 26) {
      const at = this.need(4);
      this.arg = b[at]! * 0x1000000 + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!);
    } else if (info === 27) {
      const at = this.need(8);
      this.argHigh = b[at]! * 0x1000000 + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!);
      this.arg = this.argHigh * 2 ** 32 + b[at + 4]! * 0x1000000 + ((b[at + 5]! << 16) | (b[at + 6]! << 8) | b[at + 7]!);
    } else throw FAIL; // reserved, or indefinite length / break
    if (this.major !== 7 && info >= 24) {
      // The smallest argument each width may carry (shorter heads must be used below it).
      if (info === 27 ? this.argHigh === 0 : this.arg < (info === 24 ? 24 : info === 25 ? 0x100 : 0x10000)) throw FAIL;
    }
  }

  /**
   * Validates one item as lib/codec's canonical decoder would, within what a record may
   * hold (no tags, no undefined, finite numbers, text map keys). `decodesText`: a text
   * item here is decoded by the caller with the fatal UTF-8 decoder, which validates it.
   */
  item(depth: number, decodesText = false): void {
    const start = this.pos;
    this.head();
    const { major, arg } = this;
    switch (major) {
      case 0:
      case 1:
        return;
      case 2:
        if (this.argHigh !== 0) throw FAIL;
        this.need(arg);
        return;
      case 3: {
        if (this.argHigh !== 0) throw FAIL;
        const at = this.need(arg);
        if (!decodesText && !validUtf8(this.b, at, this.pos)) throw FAIL;
        return;
      }
      case 4:
        if (depth >= this.maxDepth || this.argHigh !== 0 || arg > this.b.length - this.pos) throw FAIL;
        for (let i = 0; i < arg; i++) this.item(depth + 1);
        return;
      case 5:
        if (depth >= this.maxDepth || this.argHigh !== 0 || arg > (this.b.length - this.pos) / 2) throw FAIL;
        this.mapEntries(arg, depth);
        return;
      case 6:
        throw FAIL; // a tag: not in a record
      default:
        this.simple(start);
    }
  }

  /** Map entries: text keys in strictly increasing byte order. */
  mapEntries(
    count: number,
    depth: number,
    onEntry?: (keyStart: number, keyEnd: number, valueStart: number) => void,
    decodesText?: (keyStart: number, keyEnd: number) => boolean,
  ): void {
    let prevStart = -1;
    let prevEnd = -1;
    for (let i = 0; i < count; i++) {
      const keyStart = this.pos;
      if (keyStart >= this.b.length || this.b[keyStart]! >> 5 !== 3) throw FAIL;
      this.item(depth + 1);
      const keyEnd = this.pos;
      if (prevStart >= 0 && compare(this.b, prevStart, prevEnd, this.b, keyStart, keyEnd) >= 0) throw FAIL;
      const valueStart = this.pos;
      this.item(depth + 1, decodesText?.(keyStart, keyEnd));
      onEntry?.(keyStart, keyEnd, valueStart);
      prevStart = keyStart;
      prevEnd = keyEnd;
    }
  }

  /** false, true, null, and floats in their shortest exact width (finite only). */
  simple(start: number): void {
    const info = this.info;
    if (info >= 20 && info <= 22) return;
    if (info < 25 || info > 27) throw FAIL; // undefined, other simple values, reserved
    const b = this.b;
    let v: number;
    // head() has read the whole float: b[start + 1, this.pos) are its bytes.
    if (info === 25) v = fromHalfBits((b[start + 1]! << 8) | b[start + 2]!);
    else {
      for (let i = 0; i < this.pos - start - 1; i++) floatBytes[i] = b[start + 1 + i]!;
      v = info === 26 ? floatView.getFloat32(0) : floatView.getFloat64(0);
    }
    if (!Number.isFinite(v) || !isShortestFloat(info, v)) throw FAIL;
  }
}

const floatBytes = new Uint8Array(8);
const floatView = new DataView(floatBytes.buffer);

/**
 * Whether a finite float item is how lib/codec writes that number: integers (but -0)
 * are not floats, everything else takes the shortest exact width.
 */
function isShortestFloat(info: number, v: number): boolean {
  if (Number.isSafeInteger(v) && !Object.is(v, -0)) return false;
  if (fitsHalf(v)) return info === 25;
  if (Math.fround(v) === v) return info === 26;
  return info === 27;
}

/** Whether finite v is exactly a half-precision value (incl. ±0 and subnormals). */
function fitsHalf(v: number): boolean {
  if (v === 0) return true;
  if (Math.fround(v) !== v) return false;
  const a = Math.abs(v);
  if (a > 65504) return false;
  // Half values are multiples of 2^-24, with 11 significant bits.
  const scaled = a * 2 ** 24;
  if (!Number.isInteger(scaled)) return false;
  let m = scaled;
  while (m % 2 === 0) m /= 2;
  return m < 2 ** 11;
}

/** Bytewise comparison of a[aFrom, aTo) with b[bFrom, bTo); a shorter prefix sorts first. */
function compare(a: Uint8Array, aFrom: number, aTo: number, b: Uint8Array, bFrom: number, bTo: number): number {
  const n = Math.min(aTo - aFrom, bTo - bFrom);
  for (let i = 0; i < n; i++) {
    const d = a[aFrom + i]! - b[bFrom + i]!;
    if (d !== 0) return d;
  }
  return aTo - aFrom - (bTo - bFrom);
}

/** Text fields repeat (types, device ids): remember the last few by their bytes. */
const textCache: { bytes: Uint8Array; text: string }[] = [];
function cachedText(b: Uint8Array, from: number, to: number): string {
  const n = to - from;
  for (const c of textCache) {
    if (c.bytes.length !== n) continue;
    let same = true;
    for (let i = 0; i < n; i++) {
      if (c.bytes[i] !== b[from + i]) {
        same = false;
        break;
      }
    }
    if (same) return c.text;
  }
  const text = fromUtf8(b.subarray(from, to));
  if (n <= 128) {
    if (textCache.length >= 8) textCache.shift();
    textCache.push({ bytes: b.slice(from, to), text });
  }
  return text;
}

const EMPTY = new Uint8Array(0);
const scanner = new Scanner(EMPTY);

/** RECORD_TYPE.test, remembering the last type that passed (types repeat from record to record). */
let lastValidType = '';
function validType(type: string): boolean {
  if (type === lastValidType) return true;
  if (!RECORD_TYPE.test(type)) return false;
  lastValidType = type;
  return true;
}

// Bodies the audit reads: enrolments (who may sign) and contract/firmware records (re-checked).
const needsBody = (t: string): boolean =>
  t === 'device.enrol' || t === 'device.tofu' || t === 'device.revoke' || t === 'security' || t.startsWith('contract.') || t.startsWith('firmware.');

/**
 * The record in `bytes` (from `from` to the end) when it is a canonical v1 record this fast
 * path fully understands; undefined when lib/codec must decide (malformed, or unusual).
 * A container at `maxDepth` or deeper (the record map is at depth 0) is left to lib/codec too.
 */
export function scanRecord(bytes: Uint8Array, from = 0, maxDepth = MAX_DEPTH): RecordView | undefined {
  // One scanner for every record (nothing here re-enters scanRecord), and the map's entries
  // read in this loop rather than through mapEntries' callbacks: no allocation per record but the view.
  const s = scanner;
  s.b = bytes;
  s.pos = from;
  s.maxDepth = maxDepth;
  try {
    s.head();
    if (s.major !== 5 || s.argHigh !== 0 || s.arg > (bytes.length - from) / 2) return undefined;
    let v = false;
    let type: string | undefined;
    let time: number | undefined;
    let device: string | undefined;
    let envelope: string | Uint8Array | undefined;
    let bodyStart = -1;
    let bodyEnd = -1;
    let ok = true;
    // As mapEntries(count, 0): text keys in strictly increasing byte order, items at depth 1.
    const count = s.arg;
    let prevStart = -1;
    let prevEnd = -1;
    for (let n = 0; n < count; n++) {
      const ks = s.pos;
      if (ks >= bytes.length || bytes[ks]! >> 5 !== 3) throw FAIL;
      s.item(1);
      const ke = s.pos;
      if (prevStart >= 0 && compare(bytes, prevStart, prevEnd, bytes, ks, ke) >= 0) throw FAIL;
      const vs = s.pos;
      s.item(1, is(bytes, ks + 1, ke, KEY_ENVELOPE) || is(bytes, ks + 1, ke, KEY_DEVICE));
      prevStart = ks;
      prevEnd = ke;
      const ve = s.pos;
      // ks and vs start items the scanner has just read whole.
      const k0 = ks + 1; // every known key is shorter than 24 bytes: a one-byte head
      const first = bytes[vs]!;
      if (ke - k0 === 1 && bytes[k0] === F_V) v = ve - vs === 1 && first === 0x01;
      else if (is(bytes, k0, ke, KEY_TYPE)) type = first >> 5 === 3 ? cachedText(bytes, textStart(bytes, vs), ve) : undefined;
      else if (is(bytes, k0, ke, KEY_TIME)) time = first >> 5 === 0 ? uintValue(bytes, vs) : undefined;
      else if (is(bytes, k0, ke, KEY_DEVICE)) device = first >> 5 === 3 ? cachedText(bytes, textStart(bytes, vs), ve) : '';
      else if (is(bytes, k0, ke, KEY_ENVELOPE)) {
        if (first >> 5 === 3) envelope = fromUtf8(bytes.subarray(textStart(bytes, vs), ve));
        else if (first >> 5 === 2) envelope = bytes.slice(textStart(bytes, vs), ve);
        else ok = false;
      } else if (is(bytes, k0, ke, KEY_BODY)) {
        bodyStart = vs;
        bodyEnd = ve;
      } else ok = false;
    }
    if (s.pos !== bytes.length || !ok || !v || !type || time === undefined || !validType(type)) return undefined;
    if (device !== undefined && !device.startsWith('did:key:')) return undefined;
    const record: RecordView = { type, time };
    if (device !== undefined) record.device = device;
    if (envelope !== undefined) record.envelope = envelope;
    if (bodyStart >= 0 && needsBody(type)) record.body = decodeCbor(bytes.subarray(bodyStart, bodyEnd));
    if (bodyStart >= 0 && envelope !== undefined) record.bodyBytes = bytes.subarray(bodyStart, bodyEnd);
    return record;
  } catch {
    return undefined; // not canonical here, or a surprise: lib/encoding/codec decides
  } finally {
    s.b = EMPTY; // holds no record between calls
  }
}

/** Where the content of a (valid, definite) byte or text string starting at `at` begins. */
function textStart(b: Uint8Array, at: number): number {
  const info = b[at]! & 0x1f;
  return at + 1 + (info < 24 ? 0 : 1 << (info - 24)); // a 1, 2, 4 or 8 byte argument
}

/** A valid unsigned integer item at `at` as a number, or undefined when it is not safe. */
function uintValue(b: Uint8Array, at: number): number | undefined {
  const info = b[at]! & 0x1f;
  if (info < 24) return info;
  let v = 0;
  const n = 1 << (info - 24); // a 1, 2, 4 or 8 byte argument
  for (let i = 1; i <= n; i++) v = v * 256 + b[at + i]!;
  return Number.isSafeInteger(v) ? v : undefined;
}
