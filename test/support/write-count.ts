import type { Db } from '../../lib/ledger/lock';

/** Counts the writes reaching the storage: synced batches and single puts. */
export function countWrites(db: Db): { batches: number; puts: number } {
  const counts = { batches: 0, puts: 0 };
  const batch = db.batch.bind(db);
  const put = db.put.bind(db);
  Object.assign(db, {
    batch: () => {
      const b = batch();
      const write = b.write.bind(b);
      return Object.assign(b, { write: (...args: Parameters<typeof write>) => (counts.batches++, write(...args)) });
    },
    put: (...args: Parameters<typeof put>) => (counts.puts++, put(...args)),
  });
  return counts;
}
