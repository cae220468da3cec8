// Which backend a ledger directory uses, and opening it: a directory holding LevelDB (CURRENT)
// opens with classic-level, one holding the file store's marker with the file store; a new
// one uses classic-level when it loads here, else the file store. IOT_LEDGER_STORAGE=file or
// =leveldb forces the choice for new ledgers.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LedgerError } from '../errors';
import { FileDb } from './file-db';
import { refuseForeignFiles } from './level-files';
import { levelUnavailable, loadClassicLevel, openLevelDb } from './level';
import { isFileStore } from './segments';
import type { Db, StorageKind } from './types';

export const STORAGE_ENV = 'IOT_LEDGER_STORAGE';

export interface StorageChoice {
  kind: StorageKind;
  /** Why this backend, in a few words for the log. */
  why: string;
}

/** The backend holding `dir`, or undefined when it holds no ledger storage. */
export function storageIn(dir: string): StorageKind | undefined {
  if (fs.existsSync(path.join(dir, 'CURRENT'))) return 'leveldb';
  if (isFileStore(dir)) return 'file';
  return undefined;
}

/** What `dir` is opened with, and why. ERR_LEDGER_STORAGE when that cannot work here. */
export function chooseStorage(dir: string): StorageChoice {
  const existing = storageIn(dir);
  if (existing === 'file') return { kind: 'file', why: 'the directory holds file storage' };
  const lib = loadClassicLevel();
  if (existing === 'leveldb') {
    if (lib.ok) return { kind: 'leveldb', why: 'classic-level' };
    throw levelUnavailable(dir, lib.reason);
  }
  const forced = process.env[STORAGE_ENV];
  if (forced === 'file') return { kind: 'file', why: `${STORAGE_ENV}=file` };
  if (forced === 'leveldb') {
    if (lib.ok) return { kind: 'leveldb', why: `classic-level, ${STORAGE_ENV}=leveldb` };
    throw new LedgerError('ERR_LEDGER_STORAGE', `${STORAGE_ENV}=leveldb, but classic-level cannot load on this machine: ${lib.reason}`, { dir });
  }
  if (forced !== undefined && forced !== '')
    throw new LedgerError('ERR_LEDGER_STORAGE', `${STORAGE_ENV} must be "file" or "leveldb", not ${JSON.stringify(forced)}`);
  if (lib.ok) return { kind: 'leveldb', why: 'classic-level' };
  return { kind: 'file', why: `classic-level could not load: ${lib.reason}` };
}

function forcedChoice(kind: StorageKind): StorageChoice {
  if (kind === 'file') return { kind, why: 'asked for' };
  const lib = loadClassicLevel();
  if (!lib.ok) throw new LedgerError('ERR_LEDGER_STORAGE', `LevelDB was asked for, but classic-level cannot load on this machine: ${lib.reason}`);
  return { kind, why: 'classic-level, asked for' };
}

/** "file storage (why)" or "LevelDB (why)", for logs and reports. */
export function describeStorage(c: StorageChoice): string {
  return `${c.kind === 'file' ? 'file storage' : 'LevelDB'} (${c.why})`;
}

export interface OpenStorageOptions {
  create: boolean;
  /**
   * File store only: open for reading, leaving a torn tail on disk, with the lock (without it in a
   * directory that cannot be written).
   */
  readOnly?: boolean;
  /** The ERR_LEDGER_LOCKED message when another process holds the directory. */
  lockedMessage?: string;
  /** For a new directory: this backend, whatever IOT_LEDGER_STORAGE says. */
  kind?: StorageKind;
}

/** Opens the storage of `dir` with the backend chooseStorage picks. */
export async function openStorage(dir: string, opts: OpenStorageOptions): Promise<{ db: Db; storage: StorageChoice }> {
  const location = path.resolve(dir);
  if (!opts.create && storageIn(location) === undefined) throw new LedgerError('ERR_NOT_FOUND', `no ledger at ${dir}`);
  const storage = opts.kind && storageIn(location) === undefined ? forcedChoice(opts.kind) : chooseStorage(location);
  const locked = opts.lockedMessage ?? `ledger ${dir} is locked: it is open in another process`;
  if (storage.kind === 'leveldb') {
    if (opts.create) fs.mkdirSync(location, { recursive: true });
    else if (opts.readOnly) refuseForeignFiles(location, `read ledger ${dir}`);
    return { db: await openLevelDb(location, dir, opts.create, locked), storage };
  }
  try {
    return { db: await FileDb.open(location, { create: opts.create, readOnly: opts.readOnly, lock: true }), storage };
  } catch (err) {
    if (err instanceof LedgerError && err.code === 'ERR_LEDGER_LOCKED' && opts.lockedMessage)
      err.message = `${locked} (its LOCK file names ${String(err.details?.owner)})`;
    throw err;
  }
}
