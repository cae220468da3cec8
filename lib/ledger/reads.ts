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

/** The record bytes of a stored value, checked against its stored leaf hash (not decoded). */
export function checkedRecordBytes(index: number, value: Uint8Array | undefined): Uint8Array {
  if (value === undefined) throw corrupt(index, 'is missing');
  const { leafHash: stored, bytes } = splitRecordValue(value, index);
  if (!bytesEqual(leafHash(bytes), stored)) throw corrupt(index, 'does not match its stored leaf hash');
  return bytes;
}

/** Checks a stored record value (hash, then strict decoding) and returns the record. */
export function openRecordValue(index: number, value: Uint8Array | undefined): StoredRecord {
  if (value === undefined) throw corrupt(index, 'is missing');
  const { leafHash: stored, bytes } = splitRecordValue(value, index);
  if (!bytesEqual(leafHash(bytes), stored)) throw corrupt(index, 'does not match its stored leaf hash');
  let record: LedgerRecord;
  try {
    record = decodeRecord(bytes);
  } catch (err) {
    throw corrupt(index, `cannot be decoded: ${(err as Error).message}`);
  }
  return { index, leafHash: stored, bytes, record };
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
