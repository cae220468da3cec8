// One group-committed write: the records of every queued append, every Merkle node they
// complete, the blocks sealed on the way with their summaries and the new head, put into
// one LevelDB batch. Touches nothing but the batch (and the signing key); the caller
// writes the batch with sync: true and adopts the returned tip only when that succeeded.
import { sha256Into } from '../crypto/hash';
import type { PrivateKey } from '../crypto/keys';
import { CompactRange, leafHash } from '../merkle';
import { MAX_BLOCK_BYTES } from './block-limits';
import { GENESIS_PREV, makeBlock, type BlockInfo } from './blocks';
import { blockKey, blockValue, HASH_SIZE, HEAD_KEY, headValue, MIN_STORED_LEVEL, nodeKey, nodeValue, recordKey, recordValue, summaryKey, summaryValue, type Head } from './layout';
import type { LedgerRecord } from './record';
import { SummaryBuilder } from './summary';

/** RFC 9162's leaf prefix byte (merkle/hash.ts leafHash). */
const LEAF_PREFIX = 0x00;

export interface Receipt {
  index: number;
  leafHash: string;
  time: number;
  block: number;
}

/** What the write needs of a record besides its bytes: the fields its block's summary holds. */
export type IndexedFields = Pick<LedgerRecord, 'type' | 'time' | 'device'>;

/**
 * A validated record's index fields and its canonical bytes, waiting to be written. Not the
 * whole record: its body stays with the caller, instead of living until the write is synced.
 */
export interface Prepared {
  record: IndexedFields;
  bytes: Uint8Array;
  /**
   * Optional: the record's storage value with its first HASH_SIZE bytes left free, then `bytes`
   * (which is then a view of it). The write fills in the leaf hash and puts it as it is.
   */
  value?: Buffer;
  /** The first HASH_SIZE bytes of `value` already hold the leaf hash (hashed on another thread: encoded-batch.ts). */
  hashed?: boolean;
}

/** 'beside': entries kept beside the log (witness entries), written with whatever else goes in the write. */
export type WriteJob = { kind: 'append'; records: Prepared[] } | { kind: 'seal' } | { kind: 'beside'; entries: [Buffer, Buffer][] };
export type WriteResult = Receipt[] | BlockInfo | null;

/** What a write builds on: the committed head, Merkle frontier, latest block and the open block's summary so far. */
export interface Tip {
  head: Head;
  frontier: CompactRange;
  last: BlockInfo | null;
  /** The records [head.blockFirst, head.size), summarised (never changed once in a tip: writes clone it). */
  open: SummaryBuilder;
  /** The canonical bytes of those records, added up (a block is sealed before passing MAX_BLOCK_BYTES). */
  openBytes: number;
}

export interface CommitSettings {
  name: string;
  key: PrivateKey;
  blockRecords: number;
  now: () => number;
}

/** The tip of an empty ledger. */
export const emptyTip = (): Tip => ({ head: { size: 0, height: 0, blockFirst: 0 }, frontier: new CompactRange(), last: null, open: new SummaryBuilder(0), openBytes: 0 });

/** Where the puts go: a LevelDB chained batch (much cheaper per put than an array batch). */
export interface PutSink {
  put(key: Buffer, value: Buffer): unknown;
}

export interface PlannedWrite {
  tip: Tip;
  results: WriteResult[];
  receipts: Receipt[];
  /** Canonical bytes and leaf hash of each appended record, in order from receipts[0].index (for tile serving). */
  leaves: Leaf[];
  blocks: BlockInfo[];
}

export interface Leaf {
  bytes: Uint8Array;
  leaf: Uint8Array;
}

/** Puts a perfect node the tree completes, if its level is stored (format 4 derives the lower ones from the records). */
function putNode(sink: PutSink, level: number, at: number, hash: Uint8Array): void {
  if (level < MIN_STORED_LEVEL) return;
  const key = nodeKey(level, at);
  sink.put(key, nodeValue(key, hash));
}

type NodeVisitor = (level: number, at: number, hash: Uint8Array) => void;

/** What puts the nodes a record completes into `sink` (one per write, not one per record). */
const nodePutter =
  (sink: PutSink): NodeVisitor =>
  (level, at, hash) =>
    putNode(sink, level, at, hash);

/**
 * Puts one record at index frontier.size: its value and every Merkle node it completes;
 * appends its leaf hash to `frontier` and returns it. Replicas write with it too, so a copy
 * holds the same keys and values as its origin.
 */
export function putRecord(sink: PutSink, frontier: CompactRange, bytes: Uint8Array, visit: NodeVisitor = nodePutter(sink)): Uint8Array {
  const index = frontier.size;
  const leaf = leafHash(bytes);
  sink.put(recordKey(index), recordValue(leaf, bytes));
  frontier.appendOwned(leaf, visit);
  return leaf;
}

/** putRecord for a value with the leaf hash's room free in front of the record bytes (Prepared.value): filled in place, no copy. */
export function putRecordValue(sink: PutSink, frontier: CompactRange, value: Buffer, visit: NodeVisitor = nodePutter(sink), hashed = false): Uint8Array {
  const index = frontier.size;
  if (!hashed) fillLeafHash(value);
  const leaf = value.subarray(0, HASH_SIZE);
  sink.put(recordKey(index), value);
  frontier.appendOwned(leaf, visit);
  return leaf;
}

/**
 * Writes the leaf hash of a storage value's record, SHA-256(0x00 || bytes), into its first
 * HASH_SIZE bytes, hashed where the bytes lie: the prefix byte goes just in front of them (in
 * the room the hash then fills), no copy of the record.
 */
export function fillLeafHash(value: Buffer): void {
  value[HASH_SIZE - 1] = LEAF_PREFIX;
  sha256Into(value.subarray(HASH_SIZE - 1), value, 0);
}

/** Lower-case hex of a hash (a Buffer view already, as putRecordValue's, needs no wrapper). */
const hex = (h: Uint8Array): string => (Buffer.isBuffer(h) ? h : Buffer.from(h.buffer, h.byteOffset, h.byteLength)).toString('hex');

/** Puts the head of a write. */
export function headPut(sink: PutSink, head: Head): void {
  sink.put(HEAD_KEY, headValue(head));
}

/** Puts the summary of the block sealed at `height`. */
export function putSummary(sink: PutSink, height: number, open: SummaryBuilder): void {
  sink.put(summaryKey(height), summaryValue(open.build()));
}

/**
 * Puts what `jobs` add on top of `from` into `sink`, and the new head unless `head` is false
 * (a caller that plans more jobs into the same batch puts the head once, at the end: headPut).
 * `from` is left as it was, unless `owned`: then its frontier and summary are extended in place
 * (for a tip nothing else holds, such as the one planned just before into the same batch).
 */
export function planWrite(from: Tip, jobs: WriteJob[], s: CommitSettings, sink: PutSink, head = true, owned = false): PlannedWrite {
  const frontier = owned ? from.frontier : from.frontier.clone();
  const next: Head = { ...from.head };
  let last = from.last;
  let open = owned ? from.open : from.open.clone();
  let openBytes = from.openBytes;
  const results: WriteResult[] = [];
  const receipts: Receipt[] = [];
  const leaves: Leaf[] = [];
  const blocks: BlockInfo[] = [];
  const put = (key: Buffer, value: Buffer): void => void sink.put(key, value);
  const visitNode = nodePutter(sink);

  const seal = (): BlockInfo => {
    const { info, stored } = makeBlock(
      {
        height: next.height,
        prev: last ? last.hash : GENESIS_PREV,
        first: next.blockFirst,
        size: frontier.size,
        root: frontier.root(),
        time: s.now(),
      },
      s.name,
      s.key,
    );
    put(blockKey(info.height), blockValue(stored));
    putSummary(sink, info.height, open);
    next.height += 1;
    next.blockFirst = frontier.size;
    last = info;
    open = new SummaryBuilder(frontier.size);
    openBytes = 0;
    blocks.push(info);
    return info;
  };

  for (const job of jobs) {
    if (job.kind === 'seal') {
      results.push(frontier.size > next.blockFirst ? seal() : null);
      continue;
    }
    if (job.kind === 'beside') {
      for (const [key, value] of job.entries) put(key, value);
      results.push(null);
      continue;
    }
    const jobReceipts: Receipt[] = [];
    for (const { record, bytes, value, hashed } of job.records) {
      // A replica holds a block's records at once and refuses one past MAX_BLOCK_BYTES by default:
      // the open block is sealed first rather than let this record take it past (a record alone fits).
      if (frontier.size > next.blockFirst && openBytes + bytes.length > MAX_BLOCK_BYTES) seal();
      const index = frontier.size;
      const leaf = value ? putRecordValue(sink, frontier, value, visitNode, hashed) : putRecord(sink, frontier, bytes, visitNode);
      open.add(record);
      openBytes += bytes.length;
      leaves.push({ bytes, leaf });
      const receipt: Receipt = { index, leafHash: hex(leaf), time: record.time, block: next.height };
      jobReceipts.push(receipt);
      receipts.push(receipt);
      if (frontier.size - next.blockFirst >= s.blockRecords) seal();
    }
    results.push(jobReceipts);
  }
  next.size = frontier.size;
  if (head) headPut(sink, next);
  return { tip: { head: next, frontier, last, open, openBytes }, results, receipts, leaves, blocks };
}
