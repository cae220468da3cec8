// Records by type, device or gateway time, from the block summaries (docs/FORMAT.md "Storage"):
// only the blocks whose summary can hold a match are read, and their records filtered; the
// open block (no summary yet) is summarised in memory.
import { decodeSummary, indexOfKey, summaryKey, type BlockSummary } from './layout';
import type { Db } from './lock';
import type { LedgerRecord } from './record';
import { readRecord, scanRecords, type StoredRecord } from './reads';

export interface Bounds {
  /** Records with from <= index < to, at most limit of them. */
  from: number;
  to: number;
  limit: number;
}

const SUMMARY_BATCH = 64;
const SUMMARIES_END = Buffer.from([summaryKey(0)[0]! + 1]);

/**
 * The summaries of the sealed blocks before `open.first` (the open block's start when the
 * query began: a block sealed since is read as part of the open block), in height order or reverse.
 */
async function* sealed(db: Db, before: number, reverse: boolean): AsyncGenerator<BlockSummary> {
  const it = db.iterator({ gte: summaryKey(0), lt: SUMMARIES_END, reverse });
  try {
    for (let batch = await it.nextv(SUMMARY_BATCH); batch.length > 0; batch = await it.nextv(SUMMARY_BATCH)) {
      for (const [key, value] of batch) {
        const s = decodeSummary(value, indexOfKey(key));
        if (s.first < before) yield s;
      }
    }
  } finally {
    await it.close();
  }
}

/**
 * Records whose block `may` hold a match and that `keep` accepts, in index order (newest
 * first when `reverse`). `open` is the open block's summary, as of the ledger size `b.to` caps.
 */
export async function* scanSummarised(
  db: Db,
  open: BlockSummary,
  may: (s: BlockSummary) => boolean,
  keep: (r: LedgerRecord) => boolean,
  b: Bounds,
  reverse = false,
): AsyncGenerator<StoredRecord> {
  let left = b.limit;
  if (left <= 0 || b.from >= b.to) return;
  async function* scan(s: BlockSummary): AsyncGenerator<StoredRecord> {
    const lo = Math.max(s.first, b.from);
    const hi = Math.min(s.first + s.count, b.to);
    if (lo >= hi || !may(s)) return;
    for await (const r of scanRecords(db, lo, hi, reverse)) {
      if (!keep(r.record)) continue;
      yield r;
      if (--left <= 0) return;
    }
  }
  if (reverse) yield* scan(open);
  if (left <= 0) return;
  for await (const s of sealed(db, open.first, reverse)) {
    // Blocks wholly outside [from, to) end the walk once it has passed them.
    if (reverse ? s.first + s.count <= b.from : s.first >= b.to) break;
    yield* scan(s);
    if (left <= 0) return;
  }
  if (!reverse) yield* scan(open);
}

/** A record waiting in the merge: its time and index only, the record read again when its turn comes. */
interface Pending {
  time: number;
  index: number;
}

const before = (a: Pending, b: Pending): boolean => a.time < b.time || (a.time === b.time && a.index < b.index);

/** A binary min-heap of records by (time, index). */
class Heap {
  readonly #a: Pending[] = [];
  get size(): number {
    return this.#a.length;
  }
  peek(): Pending | undefined {
    return this.#a[0];
  }
  push(p: Pending): void {
    const a = this.#a;
    a.push(p);
    for (let i = a.length - 1; i > 0; ) {
      const up = (i - 1) >> 1;
      if (!before(a[i]!, a[up]!)) break;
      [a[i], a[up]] = [a[up]!, a[i]!];
      i = up;
    }
  }
  /** Keeps the `n` earliest only (a sorted array is a heap). */
  keepEarliest(n: number): void {
    const a = this.#a;
    a.sort((x, y) => (before(x, y) ? -1 : before(y, x) ? 1 : 0));
    a.length = Math.min(a.length, n);
  }
  pop(): Pending | undefined {
    const a = this.#a;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && before(a[l]!, a[m]!)) m = l;
        if (r < a.length && before(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

/** What scanByTime reports of its work: the most records its merge held at once. */
export interface TimeScanWatch {
  held: number;
}

/**
 * Records with gateway time in [fromMs, toMs), ordered by time then index. Gateway times
 * mostly grow with the index but need not, so blocks are merged: a block is read once the
 * earliest record waiting is not earlier than the block's smallest time. Where blocks' times
 * overlap (a clock set back, records appended with their own times), each early record given
 * makes the merge read another whole block: it keeps only the time and index of each record,
 * and no more than twice the records still to give (b.limit) besides the block just read, so
 * that one query of a few records never holds the ledger in memory.
 */
export async function* scanByTime(db: Db, open: BlockSummary, fromMs: number, toMs: number, b: Bounds, watch?: TimeScanWatch): AsyncGenerator<StoredRecord> {
  if (b.limit <= 0 || b.from >= b.to || toMs <= fromMs) return;
  const overlaps = (s: BlockSummary): boolean =>
    s.count > 0 && s.tmax >= fromMs && s.tmin < toMs && s.first < b.to && s.first + s.count > b.from;
  const spans: { first: number; count: number; tmin: number }[] = [];
  for await (const s of sealed(db, open.first, false)) if (overlaps(s)) spans.push({ first: s.first, count: s.count, tmin: s.tmin });
  if (overlaps(open)) spans.push({ first: open.first, count: open.count, tmin: open.tmin });
  spans.sort((x, y) => x.tmin - y.tmin || x.first - y.first);
  const heap = new Heap();
  let next = 0;
  let left = b.limit;
  while (left > 0) {
    while (next < spans.length && (heap.size === 0 || spans[next]!.tmin <= (heap.peek() as Pending).time)) {
      const s = spans[next++]!;
      const lo = Math.max(s.first, b.from);
      const hi = Math.min(s.first + s.count, b.to);
      for await (const r of scanRecords(db, lo, hi)) {
        const t = r.record.time;
        if (t >= fromMs && t < toMs) heap.push({ time: t, index: r.index });
      }
      if (watch) watch.held = Math.max(watch.held, heap.size);
      // The `left` earliest are ahead of every other: those can never be yielded.
      if (heap.size > 2 * left) heap.keepEarliest(left);
    }
    const top = heap.pop();
    if (!top) return;
    yield await readRecord(db, top.index);
    left--;
  }
}
