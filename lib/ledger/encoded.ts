// Records encoded away from the ledger's thread (a worker thread): storage values packed back to
// back in one buffer that can be transferred, and the walk that recovers from a record's bytes
// the fields a write indexes (type, time, device), so that they can never disagree with the bytes.
import { LedgerError } from '../errors';
import type { IndexedFields } from './commit';
import { HASH_SIZE } from './layout';
import { checkDevice, checkTime, checkType, recordValueFromInput, type RecordInput } from './record';

/**
 * Records as storage values back to back: value i is buffer[ends[i-1] (or 0), ends[i]): HASH_SIZE
 * free bytes (the write fills in the leaf hash), then the record's canonical CBOR. Made by
 * RecordPacker, i.e. by the same validation and encoding as Ledger.append; one ArrayBuffer
 * to transfer between threads.
 */
export interface EncodedRecords {
  buffer: ArrayBuffer;
  ends: Uint32Array;
}

/** Validates and encodes append requests into EncodedRecords, exactly as Ledger.appendMany would. */
export class RecordPacker {
  #buf: Buffer;
  #len = 0;
  #ends: number[] = [];

  constructor(initialBytes = 64 * 1024) {
    this.#buf = Buffer.allocUnsafeSlow(Math.max(initialBytes, 1024));
  }

  get count(): number {
    return this.#ends.length;
  }

  /**
   * Validates and encodes one request (`now`: the gateway time for a request without its own).
   * Throws what Ledger.append would (ERR_MALFORMED_RECORD, ERR_RECORD_TOO_LARGE, ...); nothing is added then.
   */
  add(input: RecordInput, now: number, maxBytes: number): void {
    const { value } = recordValueFromInput(input, now, maxBytes, HASH_SIZE);
    if (this.#len + value.length > this.#buf.length) {
      const next = Buffer.allocUnsafeSlow(Math.max(this.#buf.length * 2, this.#len + value.length));
      this.#buf.copy(next, 0, 0, this.#len);
      this.#buf = next;
    }
    value.copy(this.#buf, this.#len);
    this.#len += value.length;
    this.#ends.push(this.#len);
  }

  /** The records added since the last take, in a buffer of their own (the packer starts a new one). */
  take(): EncodedRecords {
    const buffer = new ArrayBuffer(this.#len);
    new Uint8Array(buffer).set(this.#buf.subarray(0, this.#len));
    const ends = Uint32Array.from(this.#ends);
    this.#len = 0;
    this.#ends = [];
    return { buffer, ends };
  }
}

function malformed(message: string): LedgerError {
  return new LedgerError('ERR_MALFORMED_RECORD', `encoded record: ${message}`);
}

const MAX_DEPTH = 64;

// The walk below reads heads into these (no object per head: it runs once per item of every record).
let major = 0;
let arg = 0;
/** The major type head() read last (a call: TypeScript would narrow the variable across head() calls). */
const majorRead = (): number => major;

/** Reads the CBOR head at `at` of b[0, end) into major/arg; returns where the item's content starts. */
function head(b: Uint8Array, at: number, end: number): number {
  if (at >= end) throw malformed('truncated');
  const first = b[at] as number;
  major = first >> 5;
  const ai = first & 0x1f;
  if (ai < 24) {
    arg = ai;
    return at + 1;
  }
  const width = ai === 24 ? 1 : ai === 25 ? 2 : ai === 26 ? 4 : ai === 27 ? 8 : 0;
  if (width === 0) throw malformed('indefinite lengths and reserved heads are not canonical');
  if (at + 1 + width > end) throw malformed('truncated');
  let a = 0;
  for (let i = 1; i <= width; i++) a = a * 256 + (b[at + i] as number);
  if (major !== 7 && a < (width === 1 ? 24 : 2 ** (4 * width))) throw malformed('an argument not in its shortest form');
  arg = a;
  return at + 1 + width;
}

/** Where the item at `at` ends (its heads walked, nothing decoded). */
function skip(b: Uint8Array, at: number, end: number, depth: number): number {
  if (depth > MAX_DEPTH) throw malformed(`nested deeper than ${MAX_DEPTH}`);
  let p = head(b, at, end);
  switch (major) {
    case 0:
    case 1:
    case 7:
      return p;
    case 2:
    case 3:
      if (arg > end - p) throw malformed('truncated');
      return p + arg;
    case 4:
    case 5: {
      const n = major === 5 ? 2 * arg : arg;
      for (let i = 0; i < n; i++) p = skip(b, p, end, depth + 1);
      return p;
    }
    default:
      return skip(b, p, end, depth + 1); // a tag and its content
  }
}

/**
 * Texts read before, by content: a record's type and device repeat from one record to the next,
 * and the same string (its hash computed once) makes the checks and the block summary cheaper.
 */
const interned = new Map<number, { bytes: Buffer; text: string }[]>();
let internedCount = 0;
const INTERNED_MAX = 4096;

function sameBytes(a: Buffer, b: Uint8Array, at: number): boolean {
  for (let i = a.length - 1; i >= 0; i--) if (a[i] !== b[at + i]) return false;
  return true;
}

/** A text item at `at`, its content as Latin-1 (the fields read here are ASCII when valid; anything else fails their check). */
function asciiText(b: Buffer, at: number, end: number, what: string): string {
  const p = head(b, at, end);
  if (majorRead() !== 3) throw malformed(`${what} must be text`);
  const n = arg;
  if (n > end - p) throw malformed('truncated');
  textEnd = p + n;
  let h = n;
  for (let i = p; i < textEnd; i++) h = Math.imul(h ^ (b[i] as number), 0x01000193);
  const bucket = interned.get(h);
  if (bucket) for (const e of bucket) if (e.bytes.length === n && sameBytes(e.bytes, b, p)) return e.text;
  const text = b.toString('latin1', p, textEnd);
  if (internedCount >= INTERNED_MAX) {
    interned.clear();
    internedCount = 0;
  }
  const entry = { bytes: Buffer.from(b.subarray(p, textEnd)), text };
  if (bucket) bucket.push(entry);
  else interned.set(h, [entry]);
  internedCount++;
  return text;
}
let textEnd = 0;

// The record's keys as encoded (a text head and the key), in canonical (bytewise) order.
const K_V = 0;
const K_BODY = 1;
const K_TIME = 2;
const K_TYPE = 3;
const K_DEVICE = 4;
const K_ENVELOPE = 5;
const KEYS = ['v', 'body', 'time', 'type', 'device', 'envelope'].map((k) => Buffer.from([0x60 + k.length, ...Buffer.from(k)]));

function keyAt(b: Buffer, at: number, end: number): number {
  for (let k = 0; k < KEYS.length; k++) {
    const key = KEYS[k] as Buffer;
    if (at + key.length <= end && b[at] === key[0] && sameBytes(key, b, at)) return k;
  }
  throw malformed('unknown record field');
}

/**
 * The fields a write indexes, read from a record's canonical bytes b[start, end) and checked as
 * the normal path checks them. Refuses bytes that are not a record map with known keys in
 * canonical order (its body and envelope are walked, not decoded: their validation is the encoder's).
 */
export function indexedFieldsOf(b: Buffer, start = 0, end = b.length): IndexedFields {
  let at = head(b, start, end);
  const entries = arg;
  if (majorRead() !== 5 || entries > KEYS.length) throw malformed('not a record map');
  let order = -1;
  let type: unknown;
  let time: unknown;
  let device: string | undefined;
  let version = false;
  for (let i = 0; i < entries; i++) {
    const k = keyAt(b, at, end);
    if (k <= order) throw malformed('record keys out of canonical order');
    order = k;
    at += (KEYS[k] as Buffer).length;
    switch (k) {
      case K_V:
        if (b[at] !== 0x01 || at >= end) throw malformed('record version must be 1');
        version = true;
        at += 1;
        break;
      case K_TIME:
        at = head(b, at, end);
        if (majorRead() !== 0) throw malformed('time must be an unsigned integer');
        time = arg;
        break;
      case K_TYPE:
        type = asciiText(b, at, end, 'type');
        at = textEnd;
        break;
      case K_DEVICE:
        device = asciiText(b, at, end, 'device');
        at = textEnd;
        break;
      case K_ENVELOPE:
        head(b, at, end);
        if (majorRead() !== 2 && majorRead() !== 3) throw malformed('envelope must be text or bytes');
        at = skip(b, at, end, 1);
        break;
      case K_BODY:
        at = skip(b, at, end, 1);
        break;
    }
  }
  if (at !== end) throw malformed('bytes after the record map');
  if (!version) throw malformed('record version must be 1');
  checkType(type);
  checkTime(time);
  const fields: IndexedFields = { type, time };
  if (device !== undefined) {
    checkDevice(device);
    fields.device = device;
  }
  return fields;
}
