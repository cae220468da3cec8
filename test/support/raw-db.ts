// Tests that change stored bytes directly (tamper, forge, downgrade) open a ledger directory's
// storage here: LevelDB or the file store, whichever the directory holds (a new directory gets
// the backend a new ledger would, so IOT_LEDGER_STORAGE=file runs them on the file store).
import { openStorage } from '../../lib/storage/open';
import type { Db } from '../../lib/storage/types';

export type { Db } from '../../lib/storage/types';

/** Opens the raw storage of `dir` (created when `create`); close it when done. */
export async function openRawDb(dir: string, create = false): Promise<Db> {
  const { db } = await openStorage(dir, { create });
  return db;
}
