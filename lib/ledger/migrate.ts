// Converts a ledger directory from storage format 1, 2 or 3 to format 4 in place.
//  - 1 -> 2 changed the check stored after each Merkle node hash (a truncated SHA-256 became
//    a CRC-32): node values are rewritten.
//  - 2 -> 3 replaced the per-record index entries (`d`, `t`, `s`) with one summary per sealed
//    block (`i`): summaries are written from the records, then the old entries deleted.
//  - 3 -> 4 stores no Merkle node below MIN_STORED_LEVEL: those `n` keys are deleted (each
//    level-0 node checked against its record's stored leaf hash first: a disagreeing copy is
//    evidence the audit of the old version must see, so the migration refuses it).
// Records, blocks, checkpoints and the head stay byte for byte. Every step is in synced
// batches and can be re-run after an interruption (a converted node is recognised by its new
// check, a summary already written is kept, deleting is idempotent); the meta's `v` is written last.
import { createHash } from 'node:crypto';
import { decodeCbor } from '../encoding/codec';
import { LedgerError } from '../errors';
import { decodeHeader } from './blocks';
import {
  blockKey,
  decodeBlockValue,
  FORMAT_VERSION,
  HASH_SIZE,
  indexOfKey,
  META_KEY,
  metaValue,
  MIN_STORED_LEVEL,
  nodeHashFromValue,
  nodeKey,
  recordKey,
  nodeValue,
  OLD_INDEX_PREFIXES,
  summaryKey,
  summaryValue,
} from './layout';
import { ledgerExists, openDb, type Db } from './lock';
import { scanRecords } from './reads';
import { SummaryBuilder } from './summary';

const NODE_PREFIX = 0x6e;
const DEFAULT_BATCH = 10_000;

export interface MigrationResult {
  /** The format the directory was in. */
  from: number;
  to: number;
  /** Node values rewritten (format 1 only). */
  nodes: number;
  /** Block summaries written. */
  summaries: number;
  /** Format 2 index entries deleted. */
  removed: number;
  /** Nodes below MIN_STORED_LEVEL deleted (formats 1 to 3). */
  lowNodes: number;
}

export interface MigrationOptions {
  /** Puts or deletes per synced batch (default 10000). */
  batch?: number;
  /** Called after each synced batch; what it throws stops the migration there (tests interrupt it so). */
  afterBatch?: () => void;
}

const v1Check = (key: Uint8Array, hash: Uint8Array): Buffer => createHash('sha256').update(key).update(hash).digest().subarray(0, 4);

/** A chained batch written (synced) every `size` operations. */
class Batches {
  #batch;
  #pending = 0;
  constructor(
    private readonly db: Db,
    private readonly size: number,
    private readonly after?: () => void,
  ) {
    this.#batch = db.batch();
  }
  async put(key: Buffer, value: Buffer): Promise<void> {
    this.#batch.put(key, value);
    await this.#count();
  }
  async del(key: Buffer): Promise<void> {
    this.#batch.del(key);
    await this.#count();
  }
  async #count(): Promise<void> {
    if (++this.#pending >= this.size) await this.flush();
  }
  async flush(): Promise<void> {
    if (this.#pending === 0) return;
    await this.#batch.write({ sync: true });
    this.#batch = this.db.batch();
    this.#pending = 0;
    this.after?.();
  }
  async close(): Promise<void> {
    await this.#batch.close().catch(() => undefined);
  }
}

/** Migrates `dir` to the current storage format; a ledger already in it is left untouched. */
export async function migrateLedger(dir: string, opts: MigrationOptions = {}): Promise<MigrationResult> {
  if (!ledgerExists(dir)) throw new LedgerError('ERR_NOT_FOUND', `no ledger at ${dir}`);
  const { db, release } = await openDb(dir, false);
  const batches = new Batches(db, Math.max(1, opts.batch ?? DEFAULT_BATCH), opts.afterBatch);
  try {
    const metaBytes = await db.get(META_KEY);
    if (metaBytes === undefined) throw new LedgerError('ERR_NOT_FOUND', `no ledger at ${dir}`);
    const meta = decodeCbor(metaBytes) as Record<string, unknown>;
    const result: MigrationResult = { from: Number(meta.v), to: FORMAT_VERSION, nodes: 0, summaries: 0, removed: 0, lowNodes: 0 };
    if (meta.v === FORMAT_VERSION) return result;
    if (meta.v !== 1 && meta.v !== 2 && meta.v !== 3)
      throw new LedgerError('ERR_LEDGER_FORMAT', `ledger ${dir} is in storage format ${String(meta.v)}, which this version cannot migrate`);
    if (meta.v === 1) result.nodes = await convertNodes(db, batches);
    if (meta.v !== 3) {
      result.summaries = await writeSummaries(db, batches);
      result.removed = await removeOldIndexes(db, batches);
    }
    await batches.flush(); // what follows reads the nodes back
    result.lowNodes = await removeLowNodes(db, batches);
    await batches.flush();
    await db.put(
      META_KEY,
      metaValue({ v: FORMAT_VERSION, name: String(meta.name), gateway: String(meta.gateway), verifier: String(meta.verifier), created: Number(meta.created) }),
      { sync: true },
    );
    return result;
  } finally {
    await batches.close();
    await db.close().catch(() => undefined);
    release();
  }
}

/** Format 1 -> 2: each node's check becomes the CRC-32 of key || hash. */
async function convertNodes(db: Db, batches: Batches): Promise<number> {
  let nodes = 0;
  for await (const [key, value] of db.iterator({ gte: Buffer.from([NODE_PREFIX]), lt: Buffer.from([NODE_PREFIX + 1]) })) {
    if (value.length !== HASH_SIZE + 4) throw new LedgerError('ERR_LEDGER_CORRUPT', `node ${key.toString('hex')} has a bad length`);
    const hash = value.subarray(0, HASH_SIZE);
    const converted = nodeValue(key, hash);
    if (converted.equals(value)) continue;
    if (!v1Check(key, hash).equals(value.subarray(HASH_SIZE)))
      throw new LedgerError('ERR_LEDGER_CORRUPT', `node ${key.toString('hex')} fails its format-1 checksum: audit the ledger before migrating`);
    await batches.put(key, converted);
    nodes++;
  }
  return nodes;
}

/** A summary for every sealed block that has none yet, from its records (each checked against its hash). */
async function writeSummaries(db: Db, batches: Batches): Promise<number> {
  let written = 0;
  for await (const [key, value] of db.iterator({ gte: blockKey(0), lt: Buffer.from([blockKey(0)[0]! + 1]) })) {
    if (key.length !== 9) continue;
    const height = indexOfKey(key);
    if ((await db.get(summaryKey(height))) !== undefined) continue;
    const header = decodeHeader(decodeBlockValue(value, height).header, height);
    const summary = new SummaryBuilder(header.first);
    for await (const r of scanRecords(db, header.first, header.size)) summary.add(r.record);
    await batches.put(summaryKey(height), summaryValue(summary.build()));
    written++;
  }
  return written;
}

/** Deletes every key under the format 2 index prefixes. */
async function removeOldIndexes(db: Db, batches: Batches): Promise<number> {
  let removed = 0;
  for (const prefix of OLD_INDEX_PREFIXES) {
    for await (const key of db.keys({ gte: Buffer.from([prefix]), lt: Buffer.from([prefix + 1]) })) {
      await batches.del(key);
      removed++;
    }
  }
  return removed;
}

/** Format 3 -> 4: deletes every node below MIN_STORED_LEVEL, after checking each level-0 node against its record's leaf hash. */
async function removeLowNodes(db: Db, batches: Batches): Promise<number> {
  let removed = 0;
  const records = new RecordWalk(db);
  try {
    for (let level = 0; level < MIN_STORED_LEVEL; level++) {
      for await (const [key, value] of db.iterator({ gte: nodeKey(level, 0), lt: nodeKey(level + 1, 0) })) {
        if (level === 0 && key.length === 10) {
          const index = indexOfKey(key);
          const record = await records.at(index);
          let ok = false;
          try {
            ok = record !== undefined && record.length > HASH_SIZE && nodeHashFromValue(key, value, 0, index).every((b, i) => b === record[i]);
          } catch {
            ok = false;
          }
          if (!ok)
            throw new LedgerError(
              'ERR_LEDGER_CORRUPT',
              `the level-0 node of record ${index} does not match the record's stored leaf hash: audit the ledger with the version that wrote it before migrating`,
              { index },
            );
        }
        await batches.del(key);
        removed++;
      }
    }
  } finally {
    await records.close();
  }
  return removed;
}

/** The stored records in index order, for lookups at rising indexes (one pass instead of a point read each). */
class RecordWalk {
  readonly #it;
  #batch: [Buffer, Buffer][] = [];
  #at = 0;
  #current: [number, Buffer] | null = null;
  #done = false;

  constructor(db: Db) {
    this.#it = db.iterator({ gte: recordKey(0), lt: Buffer.from([recordKey(0)[0]! + 1]) });
  }

  /** The value stored under record `index` (indexes asked for must not fall). */
  async at(index: number): Promise<Buffer | undefined> {
    while (!this.#done && (this.#current === null || this.#current[0] < index)) {
      if (this.#at === this.#batch.length) {
        this.#batch = await this.#it.nextv(1000);
        this.#at = 0;
        if (this.#batch.length === 0) {
          this.#done = true;
          break;
        }
      }
      const [key, value] = this.#batch[this.#at++]!;
      // Keys of another length are not records of the format: skipped, as a point read would miss them.
      if (key.length === 9) this.#current = [indexOfKey(key), value];
    }
    return this.#current !== null && this.#current[0] === index ? this.#current[1] : undefined;
  }

  close(): Promise<void> {
    return this.#it.close();
  }
}
