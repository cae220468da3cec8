// Opening the LevelDB directory of a ledger, owned by one process and one Ledger at a time.
//
// LevelDB locks its LOCK file with fcntl(), which only excludes other processes. Within
// one process it keeps a table of held locks, but a refused second open first opens and
// then closes LOCK, and closing any descriptor of a file drops the process's fcntl locks
// on it: after that, another process could open the ledger too. So a second open in the
// same process must be refused here, before LevelDB is asked.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ClassicLevel } from 'classic-level';
import { LedgerError } from '../errors';

export type Db = ClassicLevel<Buffer, Buffer>;

const REGISTRY = Symbol.for('node-red-contrib-iot-ledger.open-ledgers');

/** Directories open in this process, shared by every copy of this module that gets loaded. */
function openDirs(): Set<string> {
  const g = globalThis as unknown as Record<symbol, Set<string> | undefined>;
  return (g[REGISTRY] ??= new Set<string>());
}

function lockedMessage(dir: string, where: string): string {
  return `ledger ${dir} is locked: it is already open ${where}; one process owns a ledger directory (close it there first)`;
}

/** True when the directory holds a LevelDB database. */
export function levelDbExists(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'CURRENT'));
}

/**
 * Opens (and with `create`, creates) the database. Throws ERR_LEDGER_LOCKED when this or
 * another process has it open, ERR_NOT_FOUND when it does not exist and may not be created.
 */
export async function openLevel(dir: string, create: boolean): Promise<{ db: Db; release: () => void }> {
  const location = path.resolve(dir);
  if (create) fs.mkdirSync(location, { recursive: true });
  else if (!levelDbExists(location)) throw new LedgerError('ERR_NOT_FOUND', `no ledger at ${dir}`);
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
  const db: Db = new ClassicLevel<Buffer, Buffer>(location, {
    keyEncoding: 'buffer',
    valueEncoding: 'buffer',
    createIfMissing: create,
  });
  try {
    await db.open();
  } catch (err) {
    release();
    // abstract-level wraps the reason as `cause`, with a code; only LEVEL_LOCKED means another
    // process holds the LOCK file (a path or message that merely contains "lock" does not).
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const code = cause?.code ?? (err as { code?: string }).code;
    const why = cause?.message ?? (err as Error).message;
    if (code === 'LEVEL_LOCKED')
      throw new LedgerError('ERR_LEDGER_LOCKED', lockedMessage(dir, 'in another process'), { dir: location, cause: why }, err);
    if (code === 'LEVEL_CORRUPTION')
      throw new LedgerError('ERR_LEDGER_CORRUPT', `LevelDB reports corruption in ${dir}: ${why}`, { dir: location }, err);
    throw new LedgerError('ERR_LEDGER_IO', `cannot open ledger ${dir}: ${why}`, { dir: location }, err);
  }
  return { db, release };
}
