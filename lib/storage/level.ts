// LevelDB through classic-level, a native module loaded lazily: where it has no prebuild and
// cannot be compiled (Alpine on aarch64, as in the Home Assistant add-on on a Pi), requiring it
// throws, and the pack falls back to the file store instead of failing to load at all.
import type { ClassicLevel } from 'classic-level';
import { LedgerError } from '../errors';
import type { BatchOp, Db, DbBatch, DbIterator, DbSnapshot, RangeOptions, ReadOptions, WriteOptions } from './types';

type Level = ClassicLevel<Buffer, Buffer>;
type LevelClass = typeof ClassicLevel;

/**
 * Test hook, not a setting: when set, classic-level is treated as unloadable, as on a platform
 * without a usable build. Tests use it to exercise the fallback on machines where it loads.
 */
export const NO_CLASSIC_LEVEL_ENV = 'IOT_LEDGER_TEST_NO_CLASSIC_LEVEL';

let loaded: { ok: true; ClassicLevel: LevelClass } | { ok: false; reason: string } | undefined;

/** classic-level's constructor, or why it cannot load here (the answer is kept). */
export function loadClassicLevel(): { ok: true; ClassicLevel: LevelClass } | { ok: false; reason: string } {
  if (process.env[NO_CLASSIC_LEVEL_ENV]) return { ok: false, reason: `disabled by ${NO_CLASSIC_LEVEL_ENV} (a test hook)` };
  if (!loaded) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const mod = require('classic-level') as typeof import('classic-level');
      loaded = { ok: true, ClassicLevel: mod.ClassicLevel };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      loaded = { ok: false, reason: message.split('\n')[0] ?? message };
    }
  }
  return loaded;
}

/** ERR_LEDGER_STORAGE for a LevelDB ledger on a machine where classic-level cannot load: why, and what to do. */
export function levelUnavailable(dir: string, reason: string): LedgerError {
  return new LedgerError(
    'ERR_LEDGER_STORAGE',
    `ledger ${dir} is stored in LevelDB, but classic-level cannot load on this machine (${reason}). ` +
      'Install a build of classic-level for this platform (npm rebuild classic-level, which needs make, g++ and python3), ' +
      'or convert the ledger where classic-level loads: iot-ledger convert SRC DST writes a copy in file storage.',
    { dir },
  );
}

function causeOf(err: unknown): { code?: string; message: string } {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return { code: cause?.code ?? (err as { code?: string }).code, message: cause?.message ?? (err as Error).message };
}

/**
 * LevelDB's memory, chosen for a process that appends for a long time (bench/RESULTS.md, "RSS
 * over 1M appended records"). LevelDB mmaps every open table file, and a compaction reads its
 * inputs through those maps, so open tables (1000 by default) and large ones (2 MB) show up as
 * resident pages: fewer and smaller tables cost a reopen when an old record is read. The
 * memtable (4 MB by default, two while one is flushed) is smaller, at the price of more level-0
 * files. The block cache (8 MB) is left as it is: it fills only on reads.
 */
export const LEVEL_OPTIONS = { writeBufferSize: 1 << 20, maxFileSize: 1 << 20, maxOpenFiles: 50 } as const;

/** Opens the LevelDB database at `location` (ERR_LEDGER_LOCKED, ERR_LEDGER_CORRUPT, ERR_LEDGER_IO; `dir` names it). */
export async function openLevelDb(location: string, dir: string, create: boolean, lockedMessage: string, opts: { multithreading?: boolean } = {}): Promise<Db> {
  const lib = loadClassicLevel();
  if (!lib.ok) throw levelUnavailable(dir, lib.reason);
  const level: Level = new lib.ClassicLevel<Buffer, Buffer>(location, { keyEncoding: 'buffer', valueEncoding: 'buffer', createIfMissing: create, ...LEVEL_OPTIONS });
  try {
    // multithreading: worker threads of this process may open the same location (the audit's readers).
    await level.open(opts.multithreading ? { multithreading: true } : {});
  } catch (err) {
    // abstract-level wraps the reason as `cause`, with a code; only LEVEL_LOCKED means another
    // process holds the LOCK file (a path or message that merely contains "lock" does not).
    const { code, message } = causeOf(err);
    if (code === 'LEVEL_LOCKED') throw new LedgerError('ERR_LEDGER_LOCKED', lockedMessage, { dir: location, cause: message }, err);
    if (code === 'LEVEL_CORRUPTION') throw new LedgerError('ERR_LEDGER_CORRUPT', `LevelDB reports corruption in ${dir}: ${message}`, { dir: location }, err);
    throw new LedgerError('ERR_LEDGER_IO', `cannot open ledger ${dir}: ${message}`, { dir: location }, err);
  }
  return new LevelDb(level);
}

/** The Db interface over a classic-level database (calls pass straight through). */
export class LevelDb implements Db {
  readonly kind = 'leveldb' as const;
  readonly level: Level;

  constructor(level: Level) {
    this.level = level;
  }

  get status(): string {
    return this.level.status;
  }

  get(key: Buffer, options?: ReadOptions): Promise<Buffer | undefined> {
    return this.level.get(key, options as never);
  }

  getMany(keys: Buffer[], options?: ReadOptions): Promise<(Buffer | undefined)[]> {
    return this.level.getMany(keys, options as never);
  }

  put(key: Buffer, value: Buffer, options?: WriteOptions): Promise<void> {
    return this.level.put(key, value, options ?? {});
  }

  del(key: Buffer, options?: WriteOptions): Promise<void> {
    return this.level.del(key, options ?? {});
  }

  batch(): DbBatch;
  batch(ops: BatchOp[], options?: WriteOptions): Promise<void>;
  batch(ops?: BatchOp[], options?: WriteOptions): DbBatch | Promise<void> {
    if (ops === undefined) return this.level.batch();
    return this.level.batch(ops, options ?? {});
  }

  iterator(options: RangeOptions = {}): DbIterator<[Buffer, Buffer]> {
    return this.level.iterator(options as never);
  }

  keys(options: RangeOptions = {}): DbIterator<Buffer> {
    return this.level.keys(options as never);
  }

  snapshot(): DbSnapshot {
    return this.level.snapshot();
  }

  close(): Promise<void> {
    return this.level.close();
  }
}
