// The derived indexes, checked exactly: records by device (`d`), by type (`t`) and by gateway
// time (`s`). They carry nothing the records do not, but the ledger's queries and the
// incremental audit read them, so a deleted, added or altered entry is a finding (`index`).
//
// Exact with bounded memory, in two passes over [start, end):
//  1. every record's expected entries are looked up (in batches): each one absent is missing;
//  2. the stored entries naming an index >= start are counted. Keys are unique and every
//     expected key is distinct, so when the count equals the number found in pass 1 the
//     stored set is exactly the expected one. Otherwise the entries are read again and each
//     is checked against the record it names, to name the extra ones.
import { Findings, recordPos } from './findings';
import { HASH_SIZE, PREFIX_DEVICE, PREFIX_RECORD, PREFIX_TYPE, deviceKey, getU64, indexKeyIndex, recordKey, recordKeyIndex, typeKey } from './layout';
import { readRecord, type RecordView } from './records';
import { scanRecord } from './record-scan';
import type { RawStore } from './store';

const PREFIX_TIME = 0x73; // 's'
const BATCH = 1024;
const FAMILIES = [
  { prefix: PREFIX_DEVICE, name: 'by-device' },
  { prefix: PREFIX_TYPE, name: 'by-type' },
  { prefix: PREFIX_TIME, name: 'by-time' },
] as const;

/** Writes x (a safe non-negative integer) as 8 bytes big-endian at `at`. */
function putU64(out: Uint8Array, at: number, x: number): void {
  for (let i = 7, v = x; i >= 0; i--, v = Math.floor(v / 256)) out[at + i] = v % 256;
}

function timeKey(time: number, index: number): Uint8Array {
  const key = new Uint8Array(17);
  key[0] = PREFIX_TIME;
  putU64(key, 1, time);
  putU64(key, 9, index);
  return key;
}

const textDecoder = new TextDecoder('utf-8', { fatal: false });

function view(value: Uint8Array | undefined): RecordView | undefined {
  if (!value || value.length < HASH_SIZE) return undefined;
  const bytes = value.subarray(HASH_SIZE);
  return scanRecord(bytes) ?? readRecord(bytes).record;
}

function expectedKeys(index: number, r: RecordView): { key: Uint8Array; what: string }[] {
  const keys = [
    { key: typeKey(r.type, index), what: `by-type entry (${r.type})` },
    { key: timeKey(r.time, index), what: `by-time entry (${r.time})` },
  ];
  if (r.device !== undefined) keys.push({ key: deviceKey(r.device, index), what: `by-device entry (${r.device})` });
  return keys;
}

/** What a stored index key claims: the family's text (type, did) or time, and the index. */
function claim(key: Uint8Array): { index: number; text?: string; time?: number } | undefined {
  if (key[0] === PREFIX_TIME) {
    if (key.length !== 17) return undefined;
    const dv = new DataView(key.buffer, key.byteOffset, key.byteLength);
    const time = Number(dv.getBigUint64(1));
    const index = Number(dv.getBigUint64(9));
    return Number.isSafeInteger(time) && Number.isSafeInteger(index) ? { index, time } : undefined;
  }
  const index = indexKeyIndex(key);
  if (index === undefined || !Number.isSafeInteger(index)) return undefined;
  return { index, text: textDecoder.decode(key.subarray(1, key.length - 9)) };
}

function describeKey(key: Uint8Array): string {
  return Buffer.from(key).toString('hex');
}

export interface IndexCheck {
  entries: number;
}

export async function checkIndexes(store: RawStore, start: number, end: number, findings: Findings): Promise<IndexCheck> {
  const add = (index: number, detail: string, r?: RecordView): void =>
    findings.add(recordPos(index), { kind: 'index', index, ...(r ? { time: r.time } : {}), ...(r?.device ? { device: r.device } : {}), detail });

  // 1. Every expected entry is there.
  let found = 0;
  const records = store.cursor(recordKey(start), Uint8Array.of(PREFIX_RECORD + 1), BATCH);
  try {
    type Expected = { index: number; record: RecordView; key: Uint8Array; what: string };
    let batch: Expected[] = [];
    // One lookup in flight while the next batch is read: LevelDB works on its own threads.
    let inFlight: Promise<void> = Promise.resolve();
    const lookUp = async (list: Expected[]): Promise<void> => {
      const values = await store.getMany(list.map((b) => b.key));
      for (const [i, b] of list.entries()) {
        if (values[i] !== undefined) found++;
        else add(b.index, `${b.what} of record ${b.index} is missing`, b.record);
      }
    };
    const flush = async (): Promise<void> => {
      await inFlight;
      if (batch.length === 0) return;
      inFlight = lookUp(batch);
      inFlight.catch(() => undefined); // surfaced by the next flush
      batch = [];
    };
    for (let e = await records.next(); e; e = await records.next()) {
      const index = recordKeyIndex(e[0]);
      if (index === undefined) continue;
      if (index >= end) break;
      const record = view(e[1]);
      if (!record) continue; // undecodable: a finding of its own already
      for (const k of expectedKeys(index, record)) batch.push({ index, record, ...k });
      if (batch.length >= 3 * BATCH) await flush();
    }
    await flush();
    await inFlight;
  } finally {
    await records.close();
  }

  // 2. Nothing else is there.
  let stored = 0;
  await eachStored(store, start, () => void stored++);
  if (stored !== found) {
    await eachStored(store, start, async (key, claimOf) => {
      const c = claimOf();
      const where = `${FAMILIES.find((f) => f.prefix === key[0])?.name ?? 'index'} entry ${describeKey(key)}`;
      if (!c) return add(Math.min(start, end), `${where} is not an index key`);
      const value = c.index < end ? await store.get(recordKey(c.index)) : undefined;
      const r = view(value);
      if (c.index >= end) return add(end, `${where} names record ${c.index}, beyond the ledger's ${end} records`);
      if (!r) return; // the record is missing or undecodable: reported as such
      const ok = key[0] === PREFIX_TIME ? r.time === c.time : key[0] === PREFIX_TYPE ? r.type === c.text : r.device === c.text;
      if (!ok) add(c.index, `${where} names record ${c.index}, which is not what the record says`, r);
    });
  }
  return { entries: stored };
}

/** Calls `fn` for each stored index key naming an index >= start (and for every key of no valid shape). */
async function eachStored(
  store: RawStore,
  start: number,
  fn: (key: Uint8Array, claimOf: () => ReturnType<typeof claim>) => void | Promise<void>,
): Promise<void> {
  for (const { prefix } of FAMILIES) {
    const cursor = store.cursor(Uint8Array.of(prefix), Uint8Array.of(prefix + 1), BATCH);
    try {
      for (let e = await cursor.next(); e; e = await cursor.next()) {
        const key = e[0];
        // The index alone decides the skip; the claimed text is decoded only for a caller that asks.
        const index = key[0] === PREFIX_TIME ? (key.length === 17 ? getU64(key, 9) : undefined) : indexKeyIndex(key);
        if (index !== undefined && index < start) continue;
        await fn(key, () => claim(key));
      }
    } finally {
      await cursor.close();
    }
  }
}

