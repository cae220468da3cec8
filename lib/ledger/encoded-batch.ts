// Records encoded on another thread and handed over in one transferable piece: what lets
// `iot-ledger append` validate and encode its lines on the second core while the main thread
// only plans and writes. Not part of the package's API (lib/ledger/index.ts does not export
// it): the Ledger takes such a batch as it is, so only this package's own encoder may build one.
import { fillLeafHash, type IndexedFields, type Prepared } from './commit';
import { GrowingBytes } from '../encoding/growing-bytes';
import { HASH_SIZE } from './layout';
import { recordValueFromInput, type RecordInput } from './record';

/**
 * Records validated and canonically encoded: their storage values side by side in `values`
 * (each the record's leaf hash, then its bytes) ending at `ends`,
 * and the fields a block's summary holds. Structured-cloneable; `values` can be transferred.
 */
export interface EncodedBatch {
  values: ArrayBuffer;
  ends: number[];
  types: string[];
  times: number[];
  devices: (string | null)[];
}

/**
 * Encodes the requests `inputAt(0)` to `inputAt(count - 1)` as Ledger.appendMany would with the
 * clock at `now`, up to the first one refused (by inputAt or by the ledger's rules): `refused`
 * is its position and error, and the batch holds the records before it.
 */
export function encodeBatch(
  count: number,
  inputAt: (item: number) => RecordInput,
  now: number,
  maxBytes: number,
): { batch: EncodedBatch; refused?: { item: number; error: unknown } } {
  const values = new GrowingBytes();
  const batch: Omit<EncodedBatch, 'values'> = { ends: [], types: [], times: [], devices: [] };
  let refused: { item: number; error: unknown } | undefined;
  for (let item = 0; item < count; item++) {
    let encoded;
    try {
      encoded = recordValueFromInput(inputAt(item), now, maxBytes, HASH_SIZE);
    } catch (error) {
      refused = { item, error };
      break;
    }
    const { record, value } = encoded;
    fillLeafHash(value);
    batch.ends.push(values.append(value));
    batch.types.push(record.type);
    batch.times.push(record.time);
    batch.devices.push(record.device ?? null);
  }
  return { batch: { values: values.copy(), ...batch }, refused };
}

/** The batch's records as the group commit takes them (views of `values`, no copy). */
export function preparedFrom(batch: EncodedBatch): Prepared[] {
  const all = Buffer.from(batch.values);
  const out = new Array<Prepared>(batch.ends.length);
  let start = 0;
  for (let i = 0; i < out.length; i++) {
    const end = batch.ends[i] as number;
    const value = all.subarray(start, end);
    const record: IndexedFields = { type: batch.types[i] as string, time: batch.times[i] as number };
    const device = batch.devices[i];
    if (device !== null && device !== undefined) record.device = device;
    out[i] = { record, bytes: value.subarray(HASH_SIZE), value, hashed: true };
    start = end;
  }
  return out;
}
