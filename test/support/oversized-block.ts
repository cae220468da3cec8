// What a stolen or broken gateway key can sign and a Ledger never writes: one block of more
// records than MAX_BLOCK_RECORDS, committed with the ledger's own layout code (planWrite).
import type { PrivateKey } from '../../lib/crypto';
import { encodeRecord, Ledger, type LedgerRecord } from '../../lib/ledger';
import { emptyTip, planWrite } from '../../lib/ledger/commit';
import { openRawDb } from './raw-db';

/** Creates ledger `name` in `dir` holding one signed block of `count` notes; opens it read-only. */
export async function ledgerOfOneBlock(dir: string, name: string, key: PrivateKey, count: number): Promise<Ledger> {
  await (await Ledger.open(dir, { name, gatewayKey: key, blockSeconds: 0 })).close();
  const db = await openRawDb(dir);
  try {
    const time = 1765000000000;
    const records = Array.from({ length: count }, (_, i) => {
      const record: LedgerRecord = { v: 1, type: 'note', time, body: { n: i } };
      return { record, bytes: encodeRecord(record) };
    });
    const batch = db.batch();
    planWrite(emptyTip(), [{ kind: 'append', records }], { name, key, blockRecords: count, now: () => time }, batch);
    await batch.write({ sync: true });
  } finally {
    await db.close();
  }
  return Ledger.open(dir, { readOnly: true });
}
