// Opening the storage of a ledger, owned by one process and one Ledger at a time.
//
// LevelDB locks its LOCK file with fcntl(), which only excludes other processes. Within
// one process it keeps a table of held locks, but a refused second open first opens and
// then closes LOCK, and closing any descriptor of a file drops the process's fcntl locks
// on it: after that, another process could open the ledger too. So a second open in the
// same process must be refused here, before the storage is asked. (The file store's LOCK
// file excludes other processes by itself; the same rule applies to it.)
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LedgerError } from '../errors';
import { openStorage, storageIn, type StorageChoice } from '../storage/open';
import type { Db } from '../storage/types';

export type { Db } from '../storage/types';

const REGISTRY = Symbol.for('node-red-contrib-iot-ledger.open-ledgers');

/** Directories open in this process, shared by every copy of this module that gets loaded. */
function openDirs(): Set<string> {
  const g = globalThis as unknown as Record<symbol, Set<string> | undefined>;
  return (g[REGISTRY] ??= new Set<string>());
}

function lockedMessage(dir: string, where: string): string {
  return `ledger ${dir} is locked: it is already open ${where}; one process owns a ledger directory (close it there first)`;
}

/** True when the directory holds ledger storage (LevelDB or the file store). */
export function ledgerExists(dir: string): boolean {
  return storageIn(dir) !== undefined;
}

/**
 * Opens (and with `create`, creates) the storage. Throws ERR_LEDGER_LOCKED when this or
 * another process has it open, ERR_NOT_FOUND when it does not exist and may not be created,
 * ERR_LEDGER_STORAGE when its backend cannot work on this machine. With `readOnly` a file store is
 * only read: a torn tail stays on disk (LevelDB has no such mode).
 */
export async function openDb(dir: string, create: boolean, readOnly = false): Promise<{ db: Db; release: () => void; storage: StorageChoice }> {
  const location = path.resolve(dir);
  if (create) fs.mkdirSync(location, { recursive: true });
  else if (!ledgerExists(location)) throw new LedgerError('ERR_NOT_FOUND', `no ledger at ${dir}`);
  let id: string;
  try {
    id = fs.realpathSync(location);
  } catch (err) {
    throw new LedgerError('ERR_LEDGER_IO', `cannot open ledger ${dir}: ${(err as Error).message}`, undefined, err);
  }
  const dirs = openDirs();
  if (dirs.has(id)) throw new LedgerError('ERR_LEDGER_LOCKED', lockedMessage(dir, 'in this process'), { dir: location });
  dirs.add(id);
  let released = false;
  const release = (): void => {
    if (!released) dirs.delete(id);
    released = true;
  };
  try {
    const { db, storage } = await openStorage(location, { create, readOnly, lockedMessage: lockedMessage(dir, 'in another process') });
    return { db, release, storage };
  } catch (err) {
    release();
    throw err;
  }
}
