// The storage interface of a ledger directory: the subset of abstract-level that the ledger,
// audit, replica, tiles and witness code use. Two backends implement it: LevelDB through
// classic-level (level.ts) and the pure-JavaScript append-only file store (file-db.ts).

/** Which backend holds a directory. */
export type StorageKind = 'leveldb' | 'file';

/** A consistent read view; pass it as `snapshot` in read options, close it when done. */
export interface DbSnapshot {
  close(): Promise<void>;
}

export interface ReadOptions {
  snapshot?: DbSnapshot;
}

export interface RangeOptions extends ReadOptions {
  gt?: Uint8Array;
  gte?: Uint8Array;
  lt?: Uint8Array;
  lte?: Uint8Array;
  reverse?: boolean;
  limit?: number;
  /** LevelDB: bytes to collect per nextv() batch at most (classic-level's default is 16 KiB); the file store ignores it. */
  highWaterMarkBytes?: number;
}

export interface WriteOptions {
  sync?: boolean;
}

export type BatchOp = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };

/** A chained batch: collects puts and dels, written atomically by write(). */
export interface DbBatch {
  put(key: Buffer, value: Buffer): unknown;
  del(key: Buffer): unknown;
  write(options?: WriteOptions): Promise<void>;
  close(): Promise<void>;
}

/** An iterator yielding items in key order (reverse when asked). */
export interface DbIterator<T> extends AsyncIterable<T> {
  nextv(size: number): Promise<T[]>;
  close(): Promise<void>;
}

export interface Db {
  readonly kind: StorageKind;
  /** 'open' while usable. */
  readonly status: string;
  get(key: Buffer, options?: ReadOptions): Promise<Buffer | undefined>;
  getMany(keys: Buffer[], options?: ReadOptions): Promise<(Buffer | undefined)[]>;
  put(key: Buffer, value: Buffer, options?: WriteOptions): Promise<void>;
  del(key: Buffer, options?: WriteOptions): Promise<void>;
  batch(): DbBatch;
  batch(ops: BatchOp[], options?: WriteOptions): Promise<void>;
  iterator(options?: RangeOptions): DbIterator<[Buffer, Buffer]>;
  keys(options?: RangeOptions): DbIterator<Buffer>;
  snapshot(): DbSnapshot;
  close(): Promise<void>;
}
