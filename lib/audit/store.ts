// Raw, read-only access to a ledger's storage (LevelDB or the file store): gets and buffered
// range cursors. The audit never writes; it reads keys exactly as docs/FORMAT.md lays them out.
import * as os from 'node:os';
import * as path from 'node:path';
import { LedgerError } from '../errors';
import { FileDb, type TornTail } from '../storage/file-db';
import { openLevelDb } from '../storage/level';
import { storageIn } from '../storage/open';
import { refuseForeignFiles } from '../storage/level-files';
import type { Db, DbSnapshot, ReadOptions, StorageKind } from '../storage/types';
import { createView, isWriteRefusal, whyNotInPlace, type View } from './view';
import { READ_AHEAD_BYTES, type OpenRange, type SeekableIterator } from './chunk-reader';

export type Entry = [key: Uint8Array, value: Uint8Array];

/** The part of an iterator the audit uses. */
interface DbIterator {
  nextv(size: number): Promise<Entry[]>;
  close(): Promise<void>;
}

/**
 * An already open storage of a ledger (such as the one a running gateway holds): the audit
 * reads it through an explicit snapshot and leaves it open.
 */
export type OpenLedgerDb = Db;

export class RawStore {
  readonly #db: Db;
  readonly dir: string;
  /** Set when reading someone else's open database: read from it, close only this. */
  readonly #snapshot: DbSnapshot | undefined;
  readonly #read: ReadOptions;

  /** Set when reading through a private view (see view.ts): removed on close. */
  readonly #view: View | undefined;
  /** Why the ledger is read through a view (or, for the file store, read-only), when it is. */
  readonly viewReason: string | undefined;
  /**
   * The LevelDB directory this store opened (with `multithreading`), which worker threads of
   * this process may open too; undefined for the file store and for a database given open.
   */
  readonly sharedLocation: string | undefined;

  private constructor(dir: string, db: Db, snapshot?: DbSnapshot, view?: { view?: View; reason: string }, sharedLocation?: string) {
    this.dir = dir;
    this.sharedLocation = sharedLocation;
    this.#db = db;
    this.#snapshot = snapshot;
    this.#read = snapshot ? { snapshot } : {};
    this.#view = view?.view;
    this.viewReason = view?.reason;
  }

  /** The backend holding the ledger. */
  get storage(): StorageKind {
    return this.#db.kind;
  }

  /** File storage: what lies past the last whole write of its last segment, skipped and left on disk. */
  get tornTail(): TornTail | undefined {
    return this.#snapshot === undefined && this.#db instanceof FileDb ? this.#db.tornTail : undefined;
  }

  /** Reads an open database through a snapshot: appends may continue, the audit sees one moment. */
  static fromOpen(dir: string, db: OpenLedgerDb): RawStore {
    if (db.status !== 'open') throw new LedgerError('ERR_LEDGER_CLOSED', `the database given for ${dir} is not open`);
    let snapshot: DbSnapshot;
    try {
      snapshot = db.snapshot();
    } catch (err) {
      throw new LedgerError('ERR_LEDGER_IO', `cannot take a snapshot of ${dir}: ${err instanceof Error ? err.message : String(err)}`);
    }
    return new RawStore(dir, db, snapshot);
  }

  /**
   * Opens an existing ledger directory. ERR_NOT_FOUND, ERR_LEDGER_LOCKED, ERR_LEDGER_STORAGE or
   * ERR_LEDGER_IO. A LevelDB directory that cannot be written (read-only, or its disk full) is
   * read through a private view in the temporary directory, so that LevelDB's own writes never
   * reach it; a file store there is opened read-only (no lock, no repair of a torn tail).
   */
  static async open(dir: string): Promise<RawStore> {
    const kind = storageIn(dir);
    if (kind === undefined) throw new LedgerError('ERR_NOT_FOUND', `no ledger (LevelDB or file storage) at ${dir}`);
    const reason = whyNotInPlace(dir);
    if (kind === 'file') {
      // Read-only either way: a torn tail is only skipped (and reported), never cut from the ledger audited.
      if (reason !== undefined) return new RawStore(dir, await openFile(dir, false), undefined, { reason });
      try {
        return new RawStore(dir, await openFile(dir, true));
      } catch (err) {
        if (err instanceof LedgerError && err.code === 'ERR_LEDGER_IO' && isWriteRefusal(err.message))
          return new RawStore(dir, await openFile(dir, false), undefined, { reason: err.message });
        throw err;
      }
    }
    refuseForeignFiles(dir, `audit ${dir}`);
    if (reason !== undefined) return RawStore.#openView(dir, reason);
    try {
      return new RawStore(dir, await openLevel(dir, dir), undefined, undefined, dir);
    } catch (err) {
      // access() and statfs() can be wrong (a full quota, a mount turned read-only): retry through a view.
      if (err instanceof LedgerError && err.code === 'ERR_LEDGER_IO' && isWriteRefusal(err.message)) return RawStore.#openView(dir, err.message);
      throw err;
    }
  }

  static async #openView(dir: string, reason: string): Promise<RawStore> {
    let view: View;
    try {
      view = createView(dir);
    } catch (err) {
      throw new LedgerError('ERR_LEDGER_IO', `cannot audit ${dir} in place (${reason}) nor make a view of it in ${os.tmpdir()}: ${(err as Error).message}`);
    }
    try {
      return new RawStore(dir, await openLevel(view.dir, dir), undefined, { view, reason }, view.dir);
    } catch (err) {
      view.remove();
      if (err instanceof LedgerError) err.message = `${err.message} (through a view in ${os.tmpdir()}, because ${dir}: ${reason})`;
      throw err;
    }
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    try {
      return await this.#db.get(Buffer.from(key.buffer, key.byteOffset, key.byteLength), this.#read);
    } catch (err) {
      throw io(err, 'read');
    }
  }

  /** Values of `keys` (undefined where absent), in one call. */
  async getMany(keys: Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    try {
      return await this.#db.getMany(keys.map((k) => Buffer.from(k.buffer, k.byteOffset, k.byteLength)), this.#read);
    } catch (err) {
      throw io(err, 'read');
    }
  }

  /** Entries with gte <= key < lt, in key order, fetched in batches ahead of use. */
  cursor(gte: Uint8Array, lt: Uint8Array, batch = 1000): Cursor {
    return new Cursor(this.#db.iterator({ ...this.#read, gte: Buffer.from(gte), lt: Buffer.from(lt) }), batch);
  }

  /** Seekable iterators for a ChunkReader (a LevelDB store this audit opened only, see sharedLocation). */
  openRange(): OpenRange | undefined {
    if (this.sharedLocation === undefined) return undefined;
    const db = this.#db;
    return (gte, lt) => db.iterator({ gte, lt, highWaterMarkBytes: READ_AHEAD_BYTES }) as unknown as SeekableIterator;
  }

  /** The greatest entry with gte <= key < lt whose key `fits` (keys of other shapes are skipped, as everywhere). */
  last(gte: Uint8Array, lt: Uint8Array, fits: (key: Uint8Array) => boolean): Promise<Entry | undefined> {
    return this.#edge(gte, lt, true, fits);
  }

  /** The smallest entry with gte <= key < lt whose key `fits`. */
  first(gte: Uint8Array, lt: Uint8Array, fits: (key: Uint8Array) => boolean): Promise<Entry | undefined> {
    return this.#edge(gte, lt, false, fits);
  }

  async #edge(gte: Uint8Array, lt: Uint8Array, reverse: boolean, fits: (key: Uint8Array) => boolean): Promise<Entry | undefined> {
    const it = this.#db.iterator({ ...this.#read, gte: Buffer.from(gte), lt: Buffer.from(lt), reverse }) as unknown as DbIterator;
    try {
      for (let size = 1; ; size = Math.min(size * 8, 1024)) {
        const batch = await it.nextv(size);
        if (batch.length === 0) return undefined;
        const e = batch.find(([key]) => fits(key));
        if (e) return e;
      }
    } catch (err) {
      throw io(err, 'read');
    } finally {
      await it.close();
    }
  }

  async close(): Promise<void> {
    if (this.#snapshot) await this.#snapshot.close();
    else {
      try {
        await this.#db.close();
      } finally {
        this.#view?.remove();
      }
    }
  }
}

const lockedMessage = (dir: string): string => `ledger ${dir} is open in another process; stop it (or audit a copy)`;

/** Opens the LevelDB database at `location`, naming the ledger `dir` in errors. */
function openLevel(location: string, dir: string): Promise<Db> {
  return openLevelDb(location, dir, false, lockedMessage(dir), { multithreading: true });
}

/** Opens a file store read-only, with its lock (so that a gateway holding it is found) when `lock`. */
async function openFile(dir: string, lock: boolean): Promise<Db> {
  try {
    return await FileDb.open(path.resolve(dir), { readOnly: true, lock });
  } catch (err) {
    if (err instanceof LedgerError && err.code === 'ERR_LEDGER_LOCKED') err.message = lockedMessage(dir);
    throw err;
  }
}

/** A storage error as the audit reports it (ERR_LEDGER_IO), `what` naming the operation. */
export function io(err: unknown, what: string): LedgerError {
  return new LedgerError('ERR_LEDGER_IO', `cannot ${what} the ledger: ${err instanceof Error ? err.message : String(err)}`);
}

/**
 * A forward cursor over a key range. It keeps one batch in hand and the next one
 * in flight, so LevelDB reads (on libuv's pool) overlap with checking. Memory is
 * bounded by two batches.
 */
export class Cursor {
  readonly #it: DbIterator;
  readonly #batch: number;
  #buf: Entry[] = [];
  #pos = 0;
  #next: Promise<Entry[]> | undefined;
  #done = false;

  constructor(it: DbIterator, batch: number) {
    this.#it = it;
    this.#batch = batch;
  }

  /** True when peek/take can answer without waiting. */
  get ready(): boolean {
    return this.#pos < this.#buf.length || this.#done;
  }

  async fill(): Promise<void> {
    if (this.ready) return;
    try {
      this.#buf = await (this.#next ?? this.#it.nextv(this.#batch));
    } catch (err) {
      throw io(err, 'iterate');
    }
    this.#pos = 0;
    this.#next = undefined;
    if (this.#buf.length === 0) {
      this.#done = true;
      return;
    }
    const next = this.#it.nextv(this.#batch);
    next.catch(() => undefined); // surfaced by the next fill
    this.#next = next;
  }

  /** The next entry without consuming it; call fill() first unless `ready`. */
  peek(): Entry | undefined {
    return this.#pos < this.#buf.length ? this.#buf[this.#pos] : undefined;
  }

  take(): Entry | undefined {
    return this.#pos < this.#buf.length ? this.#buf[this.#pos++] : undefined;
  }

  async next(): Promise<Entry | undefined> {
    if (!this.ready) await this.fill();
    return this.take();
  }

  async close(): Promise<void> {
    try {
      await this.#next;
    } catch {
      /* already closing */
    }
    await this.#it.close();
  }
}
