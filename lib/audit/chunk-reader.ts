// Reads one chunk's stored entries (its records and the nodes of levels 0..k under them)
// straight from LevelDB, in the thread that checks the chunk: with worker threads each
// worker reads its own chunks (LevelDB opened with `multithreading`), so turning entries
// into JavaScript buffers, the largest cost of an audit after hashing, is spread over the
// cores instead of queued on the thread that merges. Same keys and ranges as the main
// thread's cursors (audit.ts): records [start, end), nodes of level l [start/2^l, end/2^l)
// for the stored levels (>= MIN_STORED_LEVEL), keys of another shape skipped.
import type { ChunkEntries, Entries } from './chunk';
import { MIN_STORED_LEVEL, nodeKey, nodeKeyIndex, PREFIX_RECORD, recordKey, recordKeyIndex } from './layout';

/** A classic-level iterator: ranges are read in order, and it seeks forward between chunks. */
export interface SeekableIterator {
  seek(target: Buffer): void;
  nextv(size: number): Promise<[Buffer, Buffer][]>;
  close(): Promise<void>;
}

/** Opens an iterator over [gte, lt). */
export type OpenRange = (gte: Buffer, lt: Buffer) => SeekableIterator;

/** What a chunk covers: records [start, end), nodes of levels 0..level. */
export interface ChunkSpan {
  level: number;
  start: number;
  end: number;
}

/** Bytes LevelDB collects per nextv() batch for a reader (classic-level's default, 16 KiB, holds ~150 records). */
export const READ_AHEAD_BYTES = 1 << 20;

const RECORDS = -1;
/** Entries asked for per read: a chunk's range at most (nextv stops earlier at its byte limit). */
const MAX_BATCH = 4096;

interface Ranged {
  it: SeekableIterator;
  /** The index the iterator stands at (the last read ended exactly before it), or -1: seek. */
  next: number;
}

const buf = (k: Uint8Array): Buffer => Buffer.from(k.buffer, k.byteOffset, k.byteLength);

export class ChunkReader {
  readonly #open: OpenRange;
  readonly #its = new Map<number, Ranged>();
  readonly #queue: { span: ChunkSpan; resolve: (e: ChunkEntries) => void; reject: (err: unknown) => void }[] = [];
  #busy = false;

  constructor(open: OpenRange) {
    this.#open = open;
  }

  /**
   * The chunk's entries. Reads are queued: the next chunk's reads start as soon as this
   * one's are in, before its caller checks it, so LevelDB reads ahead while it checks.
   */
  read(span: ChunkSpan): Promise<ChunkEntries> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ span, resolve, reject });
      if (!this.#busy) this.#next();
    });
  }

  async close(): Promise<void> {
    const its = [...this.#its.values()];
    this.#its.clear();
    await Promise.all(its.map((r) => r.it.close()));
  }

  #next(): void {
    const item = this.#queue.shift();
    this.#busy = item !== undefined;
    if (!item) return;
    this.#readNow(item.span).then(
      (entries) => {
        this.#next();
        item.resolve(entries);
      },
      (err: unknown) => {
        this.#next();
        item.reject(err);
      },
    );
  }

  async #readNow(span: ChunkSpan): Promise<ChunkEntries> {
    const reads = [this.#range(RECORDS, span.start, span.end)];
    for (let l = 0; l <= span.level; l++)
      reads.push(l < MIN_STORED_LEVEL ? Promise.resolve({ ids: [], values: [] }) : this.#range(l, Math.floor(span.start / 2 ** l), Math.floor(span.end / 2 ** l)));
    const [records, ...nodes] = await Promise.all(reads);
    return { records: records as Entries, nodes };
  }

  async #range(which: number, lo: number, hi: number): Promise<Entries> {
    const ids: number[] = [];
    const values: Uint8Array[] = [];
    if (hi <= lo) return { ids, values };
    let r = this.#its.get(which);
    if (!r) {
      const [gte, lt] = which === RECORDS ? [recordKey(0), Uint8Array.of(PREFIX_RECORD + 1)] : [nodeKey(which, 0), nodeKey(which + 1, 0)];
      r = { it: this.#open(buf(gte), buf(lt)), next: -1 };
      this.#its.set(which, r);
    }
    if (r.next !== lo) r.it.seek(buf(which === RECORDS ? recordKey(lo) : nodeKey(which, lo)));
    r.next = -1;
    const indexOf = which === RECORDS ? recordKeyIndex : nodeKeyIndex;
    const short = async (): Promise<Entries> => {
      await this.#readToEnd(which, lo, hi);
      return { ids, values };
    };
    while (ids.length < hi - lo) {
      const batch = await r.it.nextv(Math.min(MAX_BATCH, hi - lo - ids.length));
      if (batch.length === 0) return short();
      for (const [key, value] of batch) {
        const i = indexOf(key);
        if (i === undefined) continue; // not a key of the format
        if (i >= hi) return short(); // read past the range (some are missing): seek next time
        ids.push(i);
        values.push(value);
      }
    }
    // Every index in [lo, hi) is there, and the iterator stands right after the last one.
    r.next = hi;
    return { ids, values };
  }

  /**
   * LevelDB passes over a table block it cannot read (a damaged file) and goes on with the next,
   * and says so only once an iterator reaches the end of its range: a range that came up short
   * is read again to its end, so that damage throws here, as it does from the main thread's
   * cursors (which read to the end), instead of looking like missing records or nodes.
   */
  async #readToEnd(which: number, lo: number, hi: number): Promise<void> {
    const key = (i: number): Uint8Array => (which === RECORDS ? recordKey(i) : nodeKey(which, i));
    const it = this.#open(buf(key(lo)), buf(key(hi)));
    try {
      while ((await it.nextv(MAX_BATCH)).length > 0);
    } finally {
      await it.close();
    }
  }
}

/**
 * The first stored record index at or after a position (keys of other shapes skipped):
 * where the audit looks for runs of missing chunks. One iterator, sought forward.
 */
export class NextStored {
  readonly #its: { it: SeekableIterator; key: (i: number) => Uint8Array; index: (key: Uint8Array) => number | undefined }[];

  constructor(open: OpenRange) {
    this.#its = [
      { it: open(buf(recordKey(0)), buf(Uint8Array.of(PREFIX_RECORD + 1))), key: recordKey, index: recordKeyIndex },
    ];
  }

  /** The smallest index >= `at` holding a record; undefined when none does. */
  async at(at: number): Promise<number | undefined> {
    const found = await Promise.all(
      this.#its.map(async ({ it, key, index }) => {
        it.seek(buf(key(at)));
        for (let size = 1; ; size = Math.min(size * 8, 1024)) {
          const batch = await it.nextv(size);
          if (batch.length === 0) return undefined;
          for (const [k] of batch) {
            const i = index(k);
            if (i !== undefined) return i;
          }
        }
      }),
    );
    const known = found.filter((x): x is number => x !== undefined);
    return known.length === 0 ? undefined : Math.min(...known);
  }

  async close(): Promise<void> {
    await Promise.all(this.#its.map((x) => x.it.close()));
  }
}
