// The Ledger: durable group-committed appends, blocks, reads and proofs over one storage directory
// (LevelDB, or the file store where classic-level cannot load: see lib/storage).
import { EventEmitter } from 'node:events';
import { isLedgerError, LedgerError } from '../errors';
import type { PrivateKey } from '../crypto/keys';
import type { NoteVerifier } from '../note/note';
import { openBlock, type BlockInfo } from './blocks';
import { makeConsistencyBundle, makeProofBundle, type ConsistencyBundle, type ProofBundle } from './bundle';
import { headPut, planWrite, type CommitSettings, type IndexedFields, type Prepared, type Receipt, type Tip, type WriteJob, type WriteResult } from './commit';
import { GroupCommit, type PlannedWrite } from './group-commit';
import { preparedFrom, type EncodedBatch } from './encoded-batch';
import { blockKey, decodeBlockValue, HASH_SIZE, P_COSIGNED, P_WITNESS } from './layout';
import { ledgerExists, openDb, type Db } from './lock';
import type { StorageChoice } from '../storage/open';
import { checkLedgerName, openState } from './open';
import { consistencyProof, inclusionProof, recordAndInclusionProof, rootAt } from './proofs';
import { scanByTime, scanSummarised } from './query';
import { readRecord, scanRecords, type StoredRecord } from './reads';
import { checkTime, DEFAULT_MAX_RECORD_BYTES, recordValueFromInput, type LedgerRecord, type RecordInput } from './record';
import { MAX_BLOCK_BYTES, MAX_BLOCK_RECORDS } from './block-limits';

export interface LedgerOptions {
  /** The ledger's name: checkpoint origin and note key name. Required when creating. */
  name?: string;
  /** The gateway's Ed25519 key that signs checkpoints. Required unless readOnly. */
  gatewayKey?: PrivateKey;
  /**
   * Seal a block once it holds this many records (default 1000, at most MAX_BLOCK_RECORDS: 65536).
   * A block is also sealed before a record that would take its records past MAX_BLOCK_BYTES (64 MiB).
   */
  blockRecords?: number;
  /** Seal a block this many seconds after its first record (default 60; 0 turns the timer off). */
  blockSeconds?: number;
  /** Open for reading only: no gateway key needed, appends are refused. */
  readOnly?: boolean;
  /** Largest canonical record in bytes (default 65535, the most an entry bundle carries). */
  maxRecordBytes?: number;
  /** The gateway clock in ms since the epoch (default Date.now). */
  now?: () => number;
}

export interface IndexQuery {
  /** Only records with index >= from. */
  from?: number;
  /** Only records with index < to. */
  to?: number;
  /** At most this many records. */
  limit?: number;
  /** Newest first. */
  reverse?: boolean;
}

/** Records per LevelDB write at most (appendMany jobs are never split, so one may exceed it). */
const MAX_RECORDS_PER_WRITE = 4096;

function invalid(message: string): LedgerError {
  return new LedgerError('ERR_INVALID_ARGUMENT', message);
}

function checkCount(v: unknown, what: string): asserts v is number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw invalid(`${what} must be a non-negative integer, got ${String(v)}`);
}

interface Settings {
  blockRecords: number;
  blockMs: number;
  readOnly: boolean;
  maxRecordBytes: number;
  now: () => number;
}

function settingsFrom(opts: LedgerOptions): Settings {
  const blockRecords = opts.blockRecords ?? 1000;
  if (!Number.isSafeInteger(blockRecords) || blockRecords < 1 || blockRecords > MAX_BLOCK_RECORDS)
    throw invalid(`blockRecords must be a whole number of records from 1 to ${MAX_BLOCK_RECORDS} (a replica refuses a larger block), got ${String(blockRecords)}`);
  const blockSeconds = opts.blockSeconds ?? 60;
  if (typeof blockSeconds !== 'number' || !Number.isFinite(blockSeconds) || blockSeconds < 0 || blockSeconds > 2_000_000)
    throw invalid('blockSeconds must be a number of seconds between 0 (no timer) and 2000000');
  const maxRecordBytes = opts.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  if (!Number.isSafeInteger(maxRecordBytes) || maxRecordBytes < 16 || maxRecordBytes > MAX_BLOCK_BYTES)
    throw invalid(`maxRecordBytes must be an integer between 16 and ${MAX_BLOCK_BYTES}`);
  const now = opts.now ?? Date.now;
  if (typeof now !== 'function') throw invalid('now must be a function returning ms since the epoch');
  return { blockRecords, blockMs: Math.round(blockSeconds * 1000), readOnly: opts.readOnly === true, maxRecordBytes, now };
}

/** What a queued write keeps of a record: its storage value (bytes with room for the leaf hash) and index fields, not its body. */
function toWrite({ record, bytes, value }: { record: LedgerRecord; bytes: Uint8Array; value: Buffer }): Prepared {
  const fields: IndexedFields = { type: record.type, time: record.time };
  if (record.device !== undefined) fields.device = record.device;
  return { record: fields, bytes, value };
}

const prepare = (input: RecordInput, now: number, maxBytes: number): Prepared => toWrite(recordValueFromInput(input, now, maxBytes, HASH_SIZE));

function oneReceipt(result: WriteResult): Receipt {
  const [receipt] = result as Receipt[];
  if (!receipt) throw new LedgerError('ERR_INTERNAL', 'an append of one record gave no receipt');
  return receipt;
}

function checkGatewayKey(key: unknown): asserts key is PrivateKey {
  const k = key as PrivateKey;
  if (!k || k.alg !== 'Ed25519' || !(k.secretKey instanceof Uint8Array) || !(k.publicKey instanceof Uint8Array))
    throw invalid('gatewayKey must be an Ed25519 private key (checkpoints are signed notes)');
}

/**
 * A ledger directory opened by this process. Events: 'append' (Receipt[] of each
 * committed write), 'block' (BlockInfo of each sealed block), 'error' (a failed timed
 * seal, only when someone listens).
 */
/** Set by the Ledger class: its private #appendEncoded, for appendEncoded() below. */
let appendEncodedTo: (ledger: Ledger, batch: EncodedBatch) => Promise<Receipt[]>;

/**
 * Ledger.appendMany of records this package encoded on another thread (lib/ledger/encoded-batch.ts),
 * taken as they are. A module function, not a method: a symbol-keyed method is found by anyone
 * holding a Ledger (Object.getOwnPropertySymbols), and would let them write bytes and leaf hashes
 * nobody checked; this module is not reachable through the package's exports.
 */
export function appendEncoded(ledger: Ledger, batch: EncodedBatch): Promise<Receipt[]> {
  return appendEncodedTo(ledger, batch);
}

export class Ledger extends EventEmitter {
  static {
    appendEncodedTo = (ledger, batch) => ledger.#appendEncoded(batch);
  }

  readonly dir: string;
  readonly name: string;
  readonly gatewayDid: string;
  readonly verifierKey: string;
  /** The backend holding the ledger (LevelDB or the file store) and why it was chosen. */
  readonly storage: StorageChoice;

  readonly #db: Db;
  readonly #release: () => void;
  readonly #verifier: NoteVerifier;
  readonly #settings: Settings;
  readonly #commit: GroupCommit<WriteJob, WriteResult>;
  /** What is durable: reads and proofs use it. */
  #tip: Tip;
  /** What the last planned write builds: the next write is planned on top of it. */
  #planned: Tip;
  readonly #commitSettings: CommitSettings;
  #state: 'open' | 'closing' | 'closed' = 'open';
  #closing: Promise<void> | null = null;
  #failure: LedgerError | null = null;
  #timer: NodeJS.Timeout | null = null;

  private constructor(
    dir: string,
    db: Db,
    release: () => void,
    opened: Awaited<ReturnType<typeof openState>>,
    key: PrivateKey | undefined,
    settings: Settings,
    storage: StorageChoice,
  ) {
    super();
    this.dir = dir;
    this.storage = storage;
    this.#db = db;
    this.#release = release;
    this.name = opened.meta.name;
    this.gatewayDid = opened.meta.gateway;
    this.verifierKey = opened.meta.verifier;
    this.#verifier = opened.verifier;
    this.#tip = opened.tip;
    this.#settings = settings;
    this.#planned = opened.tip;
    this.#commitSettings = {
      name: this.name,
      key: key as PrivateKey,
      blockRecords: settings.blockRecords,
      now: settings.now,
    };
    this.#commit = new GroupCommit((jobs) => this.#plan(jobs), MAX_RECORDS_PER_WRITE);
    this.#armTimer();
  }

  /** Opens (or, with a name and gateway key, creates) the ledger in `dir`. */
  static async open(dir: string, opts: LedgerOptions = {}): Promise<Ledger> {
    if (typeof dir !== 'string' || dir === '') throw invalid('dir must be a directory path');
    const settings = settingsFrom(opts);
    if (opts.name !== undefined) checkLedgerName(opts.name);
    if (opts.gatewayKey !== undefined) checkGatewayKey(opts.gatewayKey);
    else if (!settings.readOnly) throw invalid('a gatewayKey is needed to open a ledger for appending (or pass readOnly: true)');
    const exists = ledgerExists(dir);
    if (!exists && settings.readOnly) throw new LedgerError('ERR_NOT_FOUND', `no ledger at ${dir}`);
    if (!exists && opts.name === undefined) throw invalid(`no ledger at ${dir}: creating one needs a name`);
    const { db, release, storage } = await openDb(dir, !settings.readOnly, settings.readOnly);
    try {
      const opened = await openState(db, {
        name: opts.name,
        key: opts.gatewayKey,
        readOnly: settings.readOnly,
        now: settings.now(),
        dir,
      });
      return new Ledger(dir, db, release, opened, opts.gatewayKey, settings, storage);
    } catch (err) {
      await db.close().catch(() => undefined);
      release();
      throw isLedgerError(err) ? err : new LedgerError('ERR_LEDGER_IO', `cannot open ledger ${dir}: ${(err as Error).message}`);
    }
  }

  /** Records committed. */
  get size(): number {
    return this.#tip.head.size;
  }

  /** Blocks sealed. */
  get height(): number {
    return this.#tip.head.height;
  }

  /** Records committed but not yet in a sealed block. */
  get pending(): number {
    return this.#tip.head.size - this.#tip.head.blockFirst;
  }

  get readOnly(): boolean {
    return this.#settings.readOnly;
  }

  /**
   * The open storage, for reading only: the in-process audit reads it through a
   * snapshot (a second open of the directory would fail on the storage's lock).
   */
  get database(): Db {
    this.#checkOpen();
    return this.#db;
  }

  get closed(): boolean {
    return this.#state !== 'open';
  }

  // ---------------------------------------------------------------- writing

  /** Appends one record; resolves once the synced write holding it is done. */
  append(input: RecordInput): Promise<Receipt> {
    // Not an async function: its suspended frame would hold `input` (the body) until the sync.
    return new Promise((resolve, reject) => this.appendThen(input, (err, receipt) => (err ? reject(err) : resolve(receipt as Receipt))));
  }

  /**
   * append() with a callback, called once: synchronously when the record is refused, else
   * once the synced write holding it is done. No promise per record (a Node-RED message's path).
   */
  appendThen(input: RecordInput, done: (err: Error | null, receipt?: Receipt) => void): void {
    let job: WriteJob;
    try {
      this.#checkWritable();
      job = { kind: 'append', records: [prepare(input, this.#now(), this.#settings.maxRecordBytes)] };
    } catch (err) {
      return done(err as Error);
    }
    this.#commit.submitThen(job, 1, (err, result) => {
      if (err) return done(err as Error);
      let receipt: Receipt;
      try {
        receipt = oneReceipt(result as WriteResult);
      } catch (e) {
        return done(e as Error);
      }
      done(null, receipt);
    });
  }

  /** Appends records together: all of them in one synced write, or none when any is refused. */
  async appendMany(inputs: RecordInput[]): Promise<Receipt[]> {
    this.#checkWritable();
    if (!Array.isArray(inputs)) throw invalid('appendMany takes an array of records');
    if (inputs.length === 0) return [];
    const now = this.#now();
    const records: Prepared[] = inputs.map((input, item) => {
      try {
        return prepare(input, now, this.#settings.maxRecordBytes);
      } catch (err) {
        if (!isLedgerError(err)) throw err;
        throw new LedgerError(err.code, `record ${item}: ${err.message}`, { ...err.details, item });
      }
    });
    return (await this.#submit({ kind: 'append', records }, records.length)) as Receipt[];
  }

  /** The largest canonical record this ledger takes, in bytes. */
  get maxRecordBytes(): number {
    return this.#settings.maxRecordBytes;
  }

  /** appendMany of records this package encoded on another thread (appendEncoded(), above the class). */
  async #appendEncoded(batch: EncodedBatch): Promise<Receipt[]> {
    this.#checkWritable();
    const records = preparedFrom(batch);
    if (records.length === 0) return [];
    return (await this.#submit({ kind: 'append', records }, records.length)) as Receipt[];
  }

  /**
   * Writes entries kept beside the log (witness cosignatures and sizes: keys starting with `c`
   * or `w`, docs/FORMAT.md "Storage") in the next synced write, with whatever appends go in it:
   * under load they cost no write of their own. Resolves once they are durable.
   */
  async writeBeside(entries: [Buffer, Buffer][]): Promise<void> {
    this.#checkWritable();
    for (const [key] of entries)
      if (!Buffer.isBuffer(key) || (key[0] !== P_COSIGNED && key[0] !== P_WITNESS)) throw invalid('writeBeside takes only witness entries (keys starting with c or w)');
    if (entries.length > 0) await this.#submit({ kind: 'beside', entries }, 0);
  }

  /** Seals the records not yet in a block into one now; null when there are none. */
  async seal(): Promise<BlockInfo | null> {
    this.#checkWritable();
    return (await this.#submit({ kind: 'seal' }, 0)) as BlockInfo | null;
  }

  /** Seals pending records, stops the timer and closes the database. Safe to call again. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#state = 'closing';
    this.#clearTimer();
    let failure: unknown = null;
    try {
      if (!this.#settings.readOnly && !this.#failure) await this.#commit.submit({ kind: 'seal' }, 0);
    } catch (err) {
      failure = err;
    }
    await this.#commit.whenIdle();
    try {
      await this.#db.close();
    } catch (err) {
      failure ??= new LedgerError('ERR_LEDGER_IO', `closing ${this.dir}: ${(err as Error).message}`);
    } finally {
      this.#state = 'closed';
      this.#release();
    }
    if (failure) throw failure;
  }

  #now(): number {
    const t = this.#settings.now();
    checkTime(t, 'now()');
    return t;
  }

  #checkWritable(): void {
    if (this.#state !== 'open') throw new LedgerError('ERR_LEDGER_CLOSED', `ledger ${this.dir} is closed`);
    if (this.#settings.readOnly) throw new LedgerError('ERR_LEDGER_READ_ONLY', `ledger ${this.dir} was opened read-only`);
    if (this.#failure) throw this.#failure;
  }

  #submit(job: WriteJob, weight: number): Promise<WriteResult> {
    return this.#commit.submit(job, weight);
  }

  /**
   * Prepares one synced batch for a group of jobs, on top of every batch planned before it
   * (which may still be in flight); more jobs may be added to it until it is written. The new
   * tip is adopted only once the batch is durable.
   */
  #plan(jobs: WriteJob[]): PlannedWrite<WriteResult, WriteJob> {
    if (this.#failure) throw this.#failure;
    const base = this.#planned;
    const batch = this.#db.batch();
    const parts: ReturnType<typeof planWrite>[] = [];
    let tip = base;
    const planInto = (more: WriteJob[]): void => {
      // The tip of an earlier part of this same batch is this batch's alone: extended in place
      // (on failure the planned tip goes back to `base`, which the first part copied from).
      const part = planWrite(tip, more, this.#commitSettings, batch, false, parts.length > 0);
      parts.push(part);
      tip = part.tip;
      this.#planned = tip;
    };
    try {
      planInto(jobs);
    } catch (err) {
      this.#planned = base;
      void batch.close().catch(() => undefined);
      throw err;
    }
    return {
      add: (more) => {
        try {
          if (this.#failure) throw this.#failure;
          planInto(more);
        } catch (err) {
          // A plan that failed half-way left some of its puts in the batch: drop the whole write.
          this.#planned = base;
          void batch.close().catch(() => undefined);
          throw err;
        }
      },
      write: async () => {
        try {
          if (this.#failure) throw this.#failure;
          headPut(batch, tip.head);
          await batch.write({ sync: true });
        } catch (err) {
          // The write may or may not have reached the disk: stop appending until reopened.
          this.#failure ??= new LedgerError(
            'ERR_LEDGER_IO',
            `write to ledger ${this.dir} failed, appends are stopped until it is reopened: ${(err as Error).message}`,
          );
          this.#planned = this.#tip;
          void batch.close().catch(() => undefined);
          throw this.#failure;
        }
      },
      commit: () => {
        this.#tip = tip;
        const one = parts.length === 1 ? parts[0]! : null;
        const receipts = one ? one.receipts : parts.flatMap((p) => p.receipts);
        const blocks = one ? one.blocks : parts.flatMap((p) => p.blocks);
        if (blocks.length > 0) this.#clearTimer();
        this.#armTimer();
        if (receipts.length > 0 || blocks.length > 0) {
          process.nextTick(() => {
            const [first] = receipts;
            if (first) {
              // 'leaves' (first index, [{bytes, leaf}]): what was just written, for tile serving without reading it back.
              if (this.listenerCount('leaves') > 0) this.emit('leaves', first.index, one ? one.leaves : parts.flatMap((p) => p.leaves));
              this.emit('append', receipts);
            }
            for (const b of blocks) this.emit('block', b);
          });
        }
        return one ? one.results : parts.flatMap((p) => p.results);
      },
    };
  }

  /** Starts the block timer when records are waiting for a block and none is running. */
  #armTimer(): void {
    if (this.#timer || this.#state !== 'open' || this.#settings.readOnly || this.#settings.blockMs === 0 || this.pending === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (this.#state !== 'open' || this.#failure) return;
      this.#submit({ kind: 'seal' }, 0).catch((err: unknown) => {
        if (this.listenerCount('error') > 0) this.emit('error', err);
      });
    }, this.#settings.blockMs);
    this.#timer.unref();
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  // ---------------------------------------------------------------- reading

  #checkOpen(): void {
    if (this.#state === 'closed') throw new LedgerError('ERR_LEDGER_CLOSED', `ledger ${this.dir} is closed`);
  }

  /** Maps a LevelDB failure to a typed error (typed ones pass through). */
  #ioError(err: unknown): LedgerError {
    if (isLedgerError(err)) return err;
    if (this.#state === 'closed') return new LedgerError('ERR_LEDGER_CLOSED', `ledger ${this.dir} is closed`);
    return new LedgerError('ERR_LEDGER_IO', `reading ledger ${this.dir}: ${(err as Error).message}`);
  }

  async #read<T>(fn: () => Promise<T>): Promise<T> {
    this.#checkOpen();
    try {
      return await fn();
    } catch (err) {
      throw this.#ioError(err);
    }
  }

  async *#stream(gen: AsyncGenerator<StoredRecord>): AsyncGenerator<StoredRecord> {
    try {
      for await (const r of gen) yield r;
    } catch (err) {
      throw this.#ioError(err);
    }
  }

  #checkIndex(index: number): void {
    checkCount(index, 'index');
    if (index >= this.size) throw new LedgerError('ERR_NOT_FOUND', `no record ${index}: the ledger holds ${this.size}`, { index });
  }

  /** The record at `index`, checked against its stored hash (ERR_LEDGER_CORRUPT names the index). */
  get(index: number): Promise<StoredRecord> {
    return this.#read(async () => {
      this.#checkIndex(index);
      return readRecord(this.#db, index);
    });
  }

  /** Records [from, to) in order; `to` defaults to (and is capped at) the current size. */
  range(from: number, to?: number): AsyncIterable<StoredRecord> {
    this.#checkOpen();
    checkCount(from, 'from');
    if (to !== undefined) checkCount(to, 'to');
    return this.#stream(scanRecords(this.#db, from, Math.min(to ?? this.size, this.size)));
  }

  #query(opts: IndexQuery | undefined): { from: number; to: number; limit: number } {
    const from = opts?.from ?? 0;
    const to = Math.min(opts?.to ?? this.size, this.size);
    const limit = opts?.limit ?? Number.MAX_SAFE_INTEGER;
    checkCount(from, 'from');
    checkCount(to, 'to');
    checkCount(limit, 'limit');
    return { from, to, limit };
  }

  /** Records of a device (by its did:key), in index order. */
  byDevice(did: string, opts?: IndexQuery): AsyncIterable<StoredRecord> {
    this.#checkOpen();
    if (typeof did !== 'string' || did === '' || did.includes('\0')) throw invalid('device must be a did:key string');
    const q = this.#query(opts);
    const open = this.#tip.open.build();
    return this.#stream(scanSummarised(this.#db, open, (s) => s.devices.includes(did), (r) => r.device === did, q, opts?.reverse));
  }

  /** Records of a type, in index order. */
  byType(type: string, opts?: IndexQuery): AsyncIterable<StoredRecord> {
    this.#checkOpen();
    if (typeof type !== 'string' || type === '' || type.includes('\0')) throw invalid('type must be a non-empty string');
    const q = this.#query(opts);
    const open = this.#tip.open.build();
    return this.#stream(scanSummarised(this.#db, open, (s) => s.types.includes(type), (r) => r.type === type, q, opts?.reverse));
  }

  /** Records with gateway time in [fromMs, toMs), by time then index. */
  byTime(fromMs: number, toMs: number, opts?: IndexQuery): AsyncIterable<StoredRecord> {
    this.#checkOpen();
    checkCount(fromMs, 'fromMs');
    checkCount(toMs, 'toMs');
    const q = this.#query(opts);
    return this.#stream(scanByTime(this.#db, this.#tip.open.build(), fromMs, toMs, q));
  }

  // ---------------------------------------------------------------- blocks

  /** Block `height`, its header hash checked and its checkpoint verified with the gateway key. */
  block(height: number): Promise<BlockInfo> {
    return this.#read(async () => {
      checkCount(height, 'height');
      const last = this.#tip.last;
      if (!last || height > last.height)
        throw new LedgerError('ERR_NOT_FOUND', `no block ${height}: the ledger has ${this.height}`, { height });
      if (height === last.height) return last;
      const value = await this.#db.get(blockKey(height));
      if (value === undefined) throw new LedgerError('ERR_LEDGER_CORRUPT', `block ${height} is missing`, { height });
      return openBlock(decodeBlockValue(value, height), height, this.name, this.#verifier);
    });
  }

  async latestBlock(): Promise<BlockInfo | null> {
    this.#checkOpen();
    return this.#tip.last;
  }

  /** The sealed block holding record `index`, or null while the record waits for a block. */
  blockOf(index: number): Promise<BlockInfo | null> {
    return this.#read(async () => {
      this.#checkIndex(index);
      const last = this.#tip.last;
      if (!last || index >= last.header.size) return null;
      let lo = 0;
      let hi = last.height;
      let found = last;
      while (lo < hi) {
        const mid = Math.floor((lo + hi) / 2);
        const b = await this.block(mid);
        if (b.header.size > index) {
          hi = mid;
          found = b;
        } else lo = mid + 1;
      }
      return found;
    });
  }

  // ---------------------------------------------------------------- proofs

  /** MTH of the first `size` records. */
  rootAt(size: number): Promise<Uint8Array> {
    return this.#read(() => rootAt(this.#db, this.#tip.frontier, size));
  }

  /** The RFC 9162 inclusion proof of record `index` in the tree of `size` records. */
  inclusionProof(index: number, size: number): Promise<Uint8Array[]> {
    return this.#read(() => inclusionProof(this.#db, this.size, index, size));
  }

  /** The RFC 9162 consistency proof from the tree of `size1` records to that of `size2`. */
  consistencyProof(size1: number, size2: number): Promise<Uint8Array[]> {
    return this.#read(() => consistencyProof(this.#db, this.size, size1, size2));
  }

  /**
   * A proof bundle for record `index` under the checkpoint of block `height`; by default the
   * latest block, sealing the pending records first when the record is not in a block yet.
   */
  async proofBundle(index: number, height?: number): Promise<ProofBundle> {
    this.#checkOpen();
    this.#checkIndex(index);
    let block: BlockInfo;
    if (height === undefined) {
      let last = this.#tip.last;
      if (!last || last.header.size <= index) {
        if (this.#settings.readOnly)
          throw new LedgerError('ERR_NOT_FOUND', `record ${index} is not in a sealed block yet (the ledger is open read-only)`, { index });
        await this.seal();
        last = this.#tip.last as BlockInfo;
      }
      block = last;
    } else {
      block = await this.block(height);
      if (block.header.size <= index)
        throw invalid(`block ${height} ends at tree size ${block.header.size}, before record ${index}`);
    }
    const { bytes, proof } = await this.#read(() => recordAndInclusionProof(this.#db, index, block.header.size));
    return makeProofBundle(index, bytes, proof, block.checkpoint, this.verifierKey);
  }

  /** The sealed block whose checkpoint is at tree size `size`; ERR_NOT_FOUND naming the nearest ones. */
  async blockAtSize(size: number): Promise<BlockInfo> {
    this.#checkOpen();
    checkCount(size, 'size');
    const last = this.#tip.last;
    const found = size > 0 && last && size <= last.header.size ? await this.blockOf(size - 1) : null;
    if (found && found.header.size === size) return found;
    const below = found && found.height > 0 ? (await this.block(found.height - 1)).header.size : undefined;
    const near = [below, found?.header.size ?? last?.header.size].filter((x) => x !== undefined);
    throw new LedgerError('ERR_NOT_FOUND', `no checkpoint at tree size ${size}${near.length ? ` (the nearest: ${near.join(', ')})` : ''}`, { size });
  }

  /**
   * A consistency bundle: the checkpoints at tree sizes `size1` and `size2` (by default the
   * latest block's) and the RFC 9162 proof that the second tree extends the first.
   */
  async consistencyBundle(size1: number, size2?: number): Promise<ConsistencyBundle> {
    this.#checkOpen();
    const to = size2 === undefined ? this.#tip.last : await this.blockAtSize(size2);
    if (!to) throw new LedgerError('ERR_NOT_FOUND', 'the ledger has no sealed block yet');
    const from = await this.blockAtSize(size1);
    if (from.header.size > to.header.size) throw invalid(`tree size ${size1} is after ${to.header.size}`);
    const proof = await this.consistencyProof(from.header.size, to.header.size);
    return makeConsistencyBundle(from.checkpoint, to.checkpoint, proof, this.verifierKey);
  }
}
