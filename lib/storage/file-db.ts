// The pure-JavaScript storage backend: an append-only log of write batches in segment files
// (docs/FORMAT.md, "File storage") and an in-memory index of where each live value lies.
// A batch is one frame, appended and fdatasync'ed before its write resolves; on open the
// frames are replayed, and a frame cut off or damaged at the very end of the last segment (an
// unacknowledged write interrupted by a crash) is cut away. Damage anywhere else is refused.
// Overwrites and deletes just append: the ledger rewrites only its head and a few small keys,
// so dead space stays small and there is no compaction.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LedgerError } from '../errors';
import { checkFrame, encodeFrame, FRAME_HEADER, MAX_PAYLOAD, walkFrame, type FrameOp } from './frame';
import { KeyIndex, type IndexEntry, type IndexRange, type Loc } from './key-index';
import { takeLock, type LockResult } from './lock-file';
import { NotRegularFile, openRegular, readOpen } from './regular-file';
import { createSegment, isFileStore, listSegments, SEGMENT_BYTES, SEGMENT_HEADER, segmentName, writeMarker } from './segments';
import type { BatchOp, Db, DbBatch, DbIterator, DbSnapshot, RangeOptions, ReadOptions, WriteOptions } from './types';

const SEG = 2 ** 32;
/** Reads of values closer than this in one segment are done as one read. */
const READ_GAP = 4096;
const READ_SPAN = 1024 * 1024;

export interface FileDbOptions {
  create?: boolean;
  /** Open for reading only: writes are refused and a torn tail is left on disk (only skipped), as it is without the lock (a directory that cannot be written). */
  readOnly?: boolean;
  /**
   * With readOnly: take the LOCK file all the same, so that a process writing the store is found
   * (ERR_LEDGER_LOCKED); where the directory cannot be written the store is read without it.
   */
  lock?: boolean;
  /** Rollover size of a segment (default 64 MiB). */
  segmentBytes?: number;
}

/** Bytes past the last whole frame of the last segment: a write cut off by a crash, or damage. */
export interface TornTail {
  segment: string;
  offset: number;
  bytes: number;
  why: string;
}

interface Job {
  ops: FrameOp[];
  frame: Buffer;
  valueAt: number[];
  sync: boolean;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * Why a LOCK file cannot be created: a directory that cannot be written (read-only mount,
 * permissions, full disk), or a directory named LOCK in it (no process can hold that lock).
 */
const UNWRITABLE = new Set(['EROFS', 'EACCES', 'EPERM', 'ENOSPC', 'EDQUOT', 'EISDIR']);

/** The lock of `dir`; undefined for a reader (`readOnly`) in a directory where no LOCK file can be made. */
function lockUnlessUnwritable(dir: string, readOnly: boolean): LockResult | undefined {
  try {
    return takeLock(dir);
  } catch (err) {
    if (readOnly && UNWRITABLE.has((err as NodeJS.ErrnoException).code ?? '')) return undefined;
    throw err;
  }
}

function corrupt(dir: string, id: number, offset: number, why: string): LedgerError {
  return new LedgerError('ERR_LEDGER_CORRUPT', `file storage ${dir}: segment ${segmentName(id)} is damaged at offset ${offset} (${why})`, {
    dir,
    segment: segmentName(id),
    offset,
  });
}

function allZero(buf: Buffer, from: number): boolean {
  for (let i = from; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

const asBuffer = (b: Uint8Array): Buffer => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));

function readAt(fd: number, length: number, position: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const buf = Buffer.allocUnsafe(length);
    fs.read(fd, buf, 0, length, position, (err, n) => {
      if (err) reject(err);
      else if (n !== length) reject(new Error(`short read: ${n} of ${length} bytes at ${position}`));
      else resolve(buf);
    });
  });
}

const promised = <T>(fn: (cb: (err: NodeJS.ErrnoException | null, v?: T) => void) => void): Promise<T> =>
  new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v as T))));

class FileSnapshot implements DbSnapshot {
  index: KeyIndex | undefined;
  constructor(index: KeyIndex) {
    this.index = index;
  }
  async close(): Promise<void> {
    this.index = undefined;
  }
}

export class FileDb implements Db {
  readonly kind = 'file' as const;
  readonly dir: string;
  readonly #readOnly: boolean;
  readonly #segmentBytes: number;
  readonly #fds = new Map<number, number>();
  readonly #index = new KeyIndex();
  #release: () => void;
  #current = { id: 0, size: 0 };
  #queue: Job[] = [];
  #writing = false;
  #idle: Promise<void> = Promise.resolve();
  #failed: Error | undefined;
  #status: 'open' | 'closing' | 'closed' = 'open';
  /** Bytes cut from a torn tail on open, or skipped when read-only (0 when the log ended cleanly). */
  truncated = 0;
  /** The torn tail found on open (cut away unless read-only, where it stays on disk), if any. */
  tornTail: TornTail | undefined;
  /** Why a stale lock was taken over on open, if one was. */
  tookOver: string | undefined;

  private constructor(dir: string, opts: FileDbOptions, release: () => void) {
    this.dir = dir;
    this.#readOnly = opts.readOnly === true;
    this.#segmentBytes = opts.segmentBytes ?? SEGMENT_BYTES;
    this.#release = release;
  }

  /**
   * Opens the file store in `dir` (creating it with `create`). ERR_NOT_FOUND, ERR_LEDGER_LOCKED
   * (a live process holds LOCK), ERR_LEDGER_CORRUPT (a damaged frame before the tail), ERR_LEDGER_IO.
   */
  static async open(dir: string, opts: FileDbOptions = {}): Promise<FileDb> {
    const location = path.resolve(dir);
    const exists = isFileStore(location);
    if (!exists && !opts.create) throw new LedgerError('ERR_NOT_FOUND', `no ledger at ${dir}`);
    let release = (): void => undefined;
    let tookOver: string | undefined;
    try {
      if (!exists) fs.mkdirSync(location, { recursive: true });
      const lock = !opts.readOnly || opts.lock ? lockUnlessUnwritable(location, opts.readOnly === true) : undefined;
      if (lock) {
        if (!lock.ok)
          throw new LedgerError('ERR_LEDGER_LOCKED', `ledger ${dir} is locked: it is open in another process (its LOCK file names ${lock.owner})`, {
            dir: location,
            owner: lock.owner,
          });
        release = lock.release;
        tookOver = lock.tookOver;
      }
      if (!exists) writeMarker(location);
    } catch (err) {
      release();
      if (err instanceof LedgerError) throw err;
      throw new LedgerError('ERR_LEDGER_IO', `cannot open ledger ${dir}: ${(err as Error).message}`, { dir: location }, err);
    }
    const db = new FileDb(location, opts, release);
    db.tookOver = tookOver;
    try {
      db.#replay();
    } catch (err) {
      db.#closeFds();
      release();
      if (err instanceof LedgerError) throw err;
      throw new LedgerError('ERR_LEDGER_IO', `cannot open ledger ${dir}: ${(err as Error).message}`, { dir: location }, err);
    }
    return db;
  }

  get status(): string {
    return this.#status;
  }

  /** Bytes the in-memory index holds (approximate). */
  get indexBytes(): number {
    return this.#index.bytes;
  }

  // ------------------------------------------------------------ replay

  #replay(): void {
    const ids = listSegments(this.dir);
    ids.forEach((id, i) => {
      if (id !== i + 1) throw corrupt(this.dir, i + 1, 0, 'the segment is missing');
    });
    this.#index.loading(true);
    for (const [i, id] of ids.entries()) {
      let opened;
      try {
        opened = openRegular(path.join(this.dir, segmentName(id)), !this.#readOnly);
      } catch (err) {
        if (err instanceof NotRegularFile) throw corrupt(this.dir, id, 0, 'not a regular file');
        throw err;
      }
      this.#fds.set(id, opened.fd);
      // Read whole below: a segment past 64 MiB holds one frame, so anything larger than that is
      // damage (a sparse file, say), not a reason to allocate its apparent size.
      const most = Math.max(this.#segmentBytes, SEGMENT_HEADER.length + FRAME_HEADER + MAX_PAYLOAD);
      if (opened.size > most) throw corrupt(this.dir, id, most, `${opened.size} bytes, more than any segment holds (${most})`);
      const last = i === ids.length - 1;
      const end = this.#replaySegment(id, readOpen(opened.fd, opened.size), last);
      this.#current = { id, size: end };
    }
    this.#index.loading(false);
    if (ids.length === 0 && !this.#readOnly) {
      this.#fds.set(1, createSegment(this.dir, 1));
      this.#current = { id: 1, size: SEGMENT_HEADER.length };
    }
  }

  /** Applies the frames of one segment; returns where the next frame goes. */
  #replaySegment(id: number, buf: Buffer, last: boolean): number {
    const head = buf.subarray(0, SEGMENT_HEADER.length);
    if (!head.equals(SEGMENT_HEADER.subarray(0, head.length))) throw corrupt(this.dir, id, 0, 'not a segment header');
    if (head.length < SEGMENT_HEADER.length) {
      // a crash while creating the segment
      if (!last) throw corrupt(this.dir, id, 0, 'the segment header is cut off');
      if (!this.#readOnly) {
        const fd = this.#fds.get(id) as number;
        fs.writeSync(fd, SEGMENT_HEADER, 0, SEGMENT_HEADER.length, 0);
        fs.fsyncSync(fd);
      }
      return SEGMENT_HEADER.length;
    }
    const index = this.#index;
    let at = SEGMENT_HEADER.length;
    while (at < buf.length) {
      const check = checkFrame(buf, at);
      if (check.kind !== 'frame') {
        const tail = check.kind === 'torn' || check.end === buf.length || allZero(buf, at);
        if (!last || !tail) throw corrupt(this.dir, id, at, check.why);
        this.truncated = buf.length - at;
        this.tornTail = { segment: segmentName(id), offset: at, bytes: buf.length - at, why: check.why };
        if (!this.#readOnly) {
          const fd = this.#fds.get(id) as number;
          fs.ftruncateSync(fd, at);
          fs.fsyncSync(fd);
        }
        return at;
      }
      const base = id * SEG;
      try {
        walkFrame(buf, at, check.end, (keyAt, keyLength, valueAt, valueLength) => {
          if (valueAt >= 0) index.setAt(buf, keyAt, keyLength, base + valueAt, valueLength);
          else index.delAt(buf, keyAt, keyLength);
        });
      } catch (err) {
        throw corrupt(this.dir, id, at, (err as Error).message);
      }
      at = check.end;
    }
    return at;
  }

  // ------------------------------------------------------------ writing

  #checkOpen(): void {
    if (this.#status !== 'open') throw new LedgerError('ERR_LEDGER_CLOSED', `file storage ${this.dir} is closed`);
  }

  #write(ops: FrameOp[], options?: WriteOptions): Promise<void> {
    let encoded: { frame: Buffer; valueAt: number[] };
    try {
      this.#checkOpen();
      if (this.#readOnly) throw new LedgerError('ERR_LEDGER_READ_ONLY', `file storage ${this.dir} is open read-only`);
      if (this.#failed) throw this.#failed;
      if (ops.length === 0) return Promise.resolve();
      encoded = encodeFrame(ops);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    const { frame, valueAt } = encoded;
    return new Promise((resolve, reject) => {
      this.#queue.push({ ops, frame, valueAt, sync: options?.sync === true, resolve, reject });
      if (!this.#writing) this.#idle = this.#drain();
    });
  }

  /** Writes queued frames, as many as fit the current segment in one write and one fdatasync. */
  async #drain(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0) {
        const cur = this.#current;
        if (cur.size > SEGMENT_HEADER.length && cur.size + this.#queue[0]!.frame.length > this.#segmentBytes) {
          try {
            this.#roll();
          } catch (err) {
            this.#fail(this.#queue.splice(0), err as Error);
            continue;
          }
        }
        const jobs: Job[] = [];
        let bytes = 0;
        while (this.#queue.length > 0) {
          const next = this.#queue[0]!;
          if (jobs.length > 0 && this.#current.size + bytes + next.frame.length > this.#segmentBytes) break;
          jobs.push(next);
          bytes += next.frame.length;
          this.#queue.shift();
        }
        await this.#writeJobs(jobs, bytes);
      }
    } finally {
      this.#writing = false;
    }
  }

  async #writeJobs(jobs: Job[], bytes: number): Promise<void> {
    const { id, size } = this.#current;
    const fd = this.#fds.get(id) as number;
    const data = jobs.length === 1 ? jobs[0]!.frame : Buffer.concat(jobs.map((j) => j.frame), bytes);
    try {
      if (this.#failed) throw this.#failed;
      let done = 0;
      while (done < data.length) done += await promised<number>((cb) => fs.write(fd, data, done, data.length - done, size + done, cb));
      if (jobs.some((j) => j.sync)) await promised<void>((cb) => fs.fdatasync(fd, cb));
    } catch (err) {
      // cut away whatever part reached the file, so that the log ends at the last good frame
      try {
        fs.ftruncateSync(fd, size);
      } catch (e) {
        this.#failed ??= new LedgerError('ERR_LEDGER_IO', `file storage ${this.dir}: a failed write could not be undone, writes are stopped: ${(e as Error).message}`);
      }
      this.#fail(jobs, err as Error);
      return;
    }
    this.#current = { id, size: size + bytes };
    let at = size;
    for (const job of jobs) {
      const base = id * SEG + at;
      job.ops.forEach((op, i) => {
        if (op.value) this.#index.set(op.key, base + job.valueAt[i]!, op.value.length);
        else this.#index.del(op.key);
      });
      at += job.frame.length;
      job.resolve();
    }
  }

  #fail(jobs: Job[], err: Error): void {
    const e = err instanceof LedgerError ? err : new LedgerError('ERR_LEDGER_IO', `file storage ${this.dir}: write failed: ${err.message}`, undefined, err);
    for (const j of jobs) j.reject(e);
  }

  #roll(): void {
    const prev = this.#fds.get(this.#current.id) as number;
    fs.fsyncSync(prev);
    const id = this.#current.id + 1;
    this.#fds.set(id, createSegment(this.dir, id));
    this.#current = { id, size: SEGMENT_HEADER.length };
  }

  put(key: Buffer, value: Buffer, options?: WriteOptions): Promise<void> {
    return this.#write([{ key: asBuffer(key), value: asBuffer(value) }], options);
  }

  del(key: Buffer, options?: WriteOptions): Promise<void> {
    return this.#write([{ key: asBuffer(key), value: undefined }], options);
  }

  batch(): DbBatch;
  batch(ops: BatchOp[], options?: WriteOptions): Promise<void>;
  batch(ops?: BatchOp[], options?: WriteOptions): DbBatch | Promise<void> {
    if (ops === undefined) return new FileBatch((o, opts) => this.#write(o, opts));
    return this.#write(
      ops.map((op) => ({ key: asBuffer(op.key), value: op.type === 'put' ? asBuffer(op.value) : undefined })),
      options,
    );
  }

  // ------------------------------------------------------------ reading

  #view(options?: ReadOptions): KeyIndex {
    this.#checkOpen();
    if (options?.snapshot === undefined) return this.#index;
    const s = options.snapshot;
    if (!(s instanceof FileSnapshot) || s.index === undefined) throw new LedgerError('ERR_LEDGER_CLOSED', 'the snapshot is closed or not one of this file storage');
    return s.index;
  }

  /** The values at `locs` (undefined where absent), reading neighbouring values together. */
  async readLocs(locs: (Loc | undefined)[]): Promise<(Buffer | undefined)[]> {
    const out: (Buffer | undefined)[] = Array.from({ length: locs.length }, () => undefined);
    const reads: Promise<void>[] = [];
    let i = 0;
    while (i < locs.length) {
      const first = locs[i];
      if (!first) {
        i++;
        continue;
      }
      if (first.len === 0) {
        out[i++] = Buffer.alloc(0);
        continue;
      }
      const seg = Math.floor(first.at / SEG);
      const start = first.at % SEG;
      let end = start + first.len;
      let j = i + 1;
      for (; j < locs.length; j++) {
        const l = locs[j];
        if (!l || l.len === 0 || Math.floor(l.at / SEG) !== seg) break;
        const s = l.at % SEG;
        if (s < end || s - end > READ_GAP || s + l.len - start > READ_SPAN) break;
        end = s + l.len;
      }
      const fd = this.#fds.get(seg);
      if (fd === undefined) throw new LedgerError('ERR_LEDGER_CORRUPT', `file storage ${this.dir}: the index points into a missing segment ${seg}`);
      const from = i;
      const to = j;
      reads.push(
        readAt(fd, end - start, start).then((buf) => {
          for (let k = from; k < to; k++) {
            const l = locs[k] as Loc;
            const s = (l.at % SEG) - start;
            out[k] = to - from === 1 ? buf : buf.subarray(s, s + l.len);
          }
        }),
      );
      i = j;
    }
    try {
      await Promise.all(reads);
    } catch (err) {
      if (this.#status !== 'open') throw new LedgerError('ERR_LEDGER_CLOSED', `file storage ${this.dir} is closed`);
      throw new LedgerError('ERR_LEDGER_IO', `file storage ${this.dir}: read failed: ${(err as Error).message}`, undefined, err);
    }
    return out;
  }

  async get(key: Buffer, options?: ReadOptions): Promise<Buffer | undefined> {
    const [v] = await this.getMany([key], options);
    return v;
  }

  async getMany(keys: Buffer[], options?: ReadOptions): Promise<(Buffer | undefined)[]> {
    const index = this.#view(options);
    const locs = keys.map((k) => {
      const l = { at: 0, len: 0 };
      return index.get(asBuffer(k), l) ? l : undefined;
    });
    return this.readLocs(locs);
  }

  iterator(options: RangeOptions = {}): DbIterator<[Buffer, Buffer]> {
    return new FileIterator(this, this.#entries(options), options.limit, true);
  }

  keys(options: RangeOptions = {}): DbIterator<Buffer> {
    return new FileIterator(this, this.#entries(options), options.limit, false);
  }

  #entries(options: RangeOptions): Generator<IndexEntry> {
    // an iterator reads the moment it was made, as LevelDB's do
    const index = options.snapshot === undefined ? this.#view().snapshot() : this.#view(options);
    const range: IndexRange = { gt: options.gt, gte: options.gte, lt: options.lt, lte: options.lte, reverse: options.reverse };
    return index.entries(range);
  }

  snapshot(): DbSnapshot {
    return new FileSnapshot(this.#view().snapshot());
  }

  // ------------------------------------------------------------ closing

  async close(): Promise<void> {
    if (this.#status !== 'open') return;
    this.#status = 'closing';
    await this.#idle.catch(() => undefined);
    this.#closeFds();
    this.#status = 'closed';
    this.#release();
  }

  #closeFds(): void {
    for (const fd of this.#fds.values()) {
      try {
        fs.closeSync(fd);
      } catch {
        /* closing anyway */
      }
    }
    this.#fds.clear();
  }

  get isOpen(): boolean {
    return this.#status === 'open';
  }
}

class FileBatch implements DbBatch {
  #ops: FrameOp[] = [];
  #done = false;
  readonly #write: (ops: FrameOp[], options?: WriteOptions) => Promise<void>;

  constructor(write: (ops: FrameOp[], options?: WriteOptions) => Promise<void>) {
    this.#write = write;
  }

  get length(): number {
    return this.#ops.length;
  }

  put(key: Buffer, value: Buffer): this {
    if (this.#done) throw new LedgerError('ERR_LEDGER_CLOSED', 'the batch was already written or closed');
    this.#ops.push({ key: asBuffer(key), value: asBuffer(value) });
    return this;
  }

  del(key: Buffer): this {
    if (this.#done) throw new LedgerError('ERR_LEDGER_CLOSED', 'the batch was already written or closed');
    this.#ops.push({ key: asBuffer(key), value: undefined });
    return this;
  }

  async write(options?: WriteOptions): Promise<void> {
    if (this.#done) throw new LedgerError('ERR_LEDGER_CLOSED', 'the batch was already written or closed');
    this.#done = true;
    const ops = this.#ops;
    this.#ops = [];
    await this.#write(ops, options);
  }

  async close(): Promise<void> {
    this.#done = true;
    this.#ops = [];
  }
}

class FileIterator<T> implements DbIterator<T> {
  readonly #db: FileDb;
  readonly #entries: Generator<IndexEntry>;
  readonly #values: boolean;
  #left: number;
  #closed = false;

  constructor(db: FileDb, entries: Generator<IndexEntry>, limit: number | undefined, values: boolean) {
    this.#db = db;
    this.#entries = entries;
    this.#left = limit === undefined || limit < 0 ? Infinity : limit;
    this.#values = values;
  }

  async nextv(size: number): Promise<T[]> {
    if (this.#closed) throw new LedgerError('ERR_LEDGER_CLOSED', 'the iterator is closed');
    if (!this.#db.isOpen) throw new LedgerError('ERR_LEDGER_CLOSED', `file storage ${this.#db.dir} is closed`);
    const taken: IndexEntry[] = [];
    const want = Math.min(Math.max(1, size), this.#left);
    while (taken.length < want) {
      const n = this.#entries.next();
      if (n.done) break;
      taken.push(n.value);
    }
    this.#left -= taken.length;
    if (!this.#values) return taken.map((e) => e.key) as T[];
    const values = await this.#db.readLocs(taken);
    return taken.map((e, i) => [e.key, values[i]] as T);
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    try {
      while (true) {
        const items = await this.nextv(64);
        if (items.length === 0) return;
        yield* items;
      }
    } finally {
      await this.close();
    }
  }
}
