// The records a query hands to a flow (the Query node), as recordView()s: at most `limit` of
// them, and at most MAX_QUERY_BYTES of stored record bytes. A record may be up to
// maxRecordBytes (64 KiB by default) and, with trust on first use, anyone who can publish
// fills records: without a byte bound a query of 10,000 records could take gigabytes of views.
import type { StoredRecord } from './reads';
import { recordView } from './view';

/** Stored (canonical) record bytes one query returns at most; the first record always comes. */
export const MAX_QUERY_BYTES = 8 * 1024 * 1024;
/** Records read per step when walking back from the newest. */
const LATEST_CHUNK = 64;

export interface QueryViews {
  records: Record<string, unknown>[];
  /** True when the byte bound stopped the list before `limit` records or the end of the matches. */
  truncated: boolean;
}

/** Views of the records of `it`, in its order, within `limit` and `maxBytes`. */
export async function collectViews(it: AsyncIterable<StoredRecord>, limit: number, maxBytes: number = MAX_QUERY_BYTES): Promise<QueryViews> {
  const records: Record<string, unknown>[] = [];
  if (limit <= 0) return { records, truncated: false };
  let bytes = 0;
  for await (const r of it) {
    bytes += r.bytes.length;
    if (records.length > 0 && bytes > maxBytes) return { records, truncated: true };
    records.push(recordView(r));
    if (records.length >= limit) break;
  }
  return { records, truncated: false };
}

/** What latestViews reads: the records [from, to) in index order, and how many there are. */
export interface RecordRange {
  readonly size: number;
  range(from: number, to?: number): AsyncIterable<StoredRecord>;
}

/**
 * The newest `limit` records, oldest first, within `maxBytes`: read back from the newest, so that
 * when the bound cuts the list it is the oldest of them that are left out.
 */
export async function latestViews(ledger: RecordRange, limit: number, maxBytes: number = MAX_QUERY_BYTES): Promise<QueryViews> {
  const newestFirst: Record<string, unknown>[] = [];
  const start = Math.max(0, ledger.size - Math.max(0, limit));
  let bytes = 0;
  for (let end = ledger.size; end > start; ) {
    const from = Math.max(start, end - LATEST_CHUNK);
    const chunk: StoredRecord[] = [];
    for await (const r of ledger.range(from, end)) chunk.push(r);
    for (let i = chunk.length - 1; i >= 0; i--) {
      const r = chunk[i]!;
      bytes += r.bytes.length;
      if (newestFirst.length > 0 && bytes > maxBytes) return { records: newestFirst.reverse(), truncated: true };
      newestFirst.push(recordView(r));
    }
    end = from;
  }
  return { records: newestFirst.reverse(), truncated: false };
}
