// Reading records back: point reads and streams, every value checked against its stored hash.
import { bytesEqual } from '../encoding/bytes';
import { LedgerError } from '../errors';
import { leafHash } from '../merkle';
import { indexOfKey, recordKey, splitRecordValue } from './layout';
import type { Db } from './lock';
import { decodeRecord, type LedgerRecord } from './record';

export interface StoredRecord {
  index: number;
  leafHash: Uint8Array;
  bytes: Uint8Array;
  record: LedgerRecord;
}

/** Records fetched per LevelDB round trip when streaming. */
const CHUNK = 64;

function corrupt(index: number, message: string): LedgerError {
  return new LedgerError('ERR_LEDGER_CORRUPT', `record ${index} ${message}`, { index });
}

/** A stored value's record bytes and leaf hash, the one checked against the other (not decoded). */
export function checkedRecordValue(index: number, value: Uint8Array | undefined): { leafHash: Uint8Array; bytes: Uint8Array } {
  if (value === undefined) throw corrupt(index, 'is missing');
  const split = splitRecordValue(value, index);
  if (!bytesEqual(leafHash(split.bytes), split.leafHash)) throw corrupt(index, 'does not match its stored leaf hash');
  return split;
}

/** The record bytes of a stored value, checked against its stored leaf hash (not decoded). */
export function checkedRecordBytes(index: number, value: Uint8Array | undefined): Uint8Array {
  return checkedRecordValue(index, value).bytes;
}

/** Checks a stored record value (hash, then strict decoding) and returns the record. */
export function openRecordValue(index: number, value: Uint8Array | undefined): StoredRecord {
  const { leafHash: stored, bytes } = checkedRecordValue(index, value);
  let record: LedgerRecord;
  try {
    record = decodeRecord(bytes);
  } catch (err) {
    throw corrupt(index, `cannot be decoded: ${(err as Error).message}`);
  }
  return { index, leafHash: stored, bytes, record };
}

/** The checked leaf hashes and bytes of records [from, to) (none missing), read with one iterator. */
export async function readCheckedRun(db: Db, from: number, to: number): Promise<{ leafHash: Uint8Array; bytes: Uint8Array }[]> {
  const out: { leafHash: Uint8Array; bytes: Uint8Array }[] = [];
  if (from >= to) return out;
  const it = db.iterator({ gte: recordKey(from), lt: recordKey(to) });
  try {
    while (out.length < to - from) {
      const chunk = await it.nextv(to - from - out.length);
      if (chunk.length === 0) break;
      for (const [key, value] of chunk) {
        const index = indexOfKey(key);
        if (index !== from + out.length) throw corrupt(from + out.length, 'is missing');
        out.push(checkedRecordValue(index, value));
      }
    }
  } finally {
    await it.close();
  }
  if (out.length !== to - from) throw corrupt(from + out.length, 'is missing');
  return out;
}

export async function readRecord(db: Db, index: number): Promise<StoredRecord> {
  return openRecordValue(index, await db.get(recordKey(index)));
}

/** Records [from, to), in order (newest first when `reverse`). */
export async function* scanRecords(db: Db, from: number, to: number, reverse = false): AsyncGenerator<StoredRecord> {
  if (from >= to) return;
  const it = db.iterator({ gte: recordKey(from), lt: recordKey(to), reverse });
  const step = reverse ? -1 : 1;
  let expected = reverse ? to - 1 : from;
  const past = reverse ? from - 1 : to;
  try {
    while (true) {
      const entries = await it.nextv(CHUNK);
      if (entries.length === 0) break;
      for (const [key, value] of entries) {
        const index = indexOfKey(key);
        if (index !== expected) throw corrupt(expected, 'is missing');
        expected += step;
        yield openRecordValue(index, value);
      }
    }
    if (expected !== past) throw corrupt(expected, 'is missing');
  } finally {
    await it.close();
  }
}
