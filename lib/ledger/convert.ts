// Copying a ledger to the other storage backend (LevelDB <-> file store), key for key and
// byte for byte: the ledger's logical keys and values are the same in both. The copy is then
// audited by the caller; the source is only read.
import * as fs from 'node:fs';
import { LedgerError } from '../errors';
import { openStorage } from '../storage/open';
import type { StorageKind } from '../storage/types';
import { ledgerExists } from './lock';

const BATCH_BYTES = 4 * 1024 * 1024;

export interface ConvertResult {
  from: StorageKind;
  to: StorageKind;
  /** Keys copied. */
  keys: number;
}

/** Copies the ledger in `src` into the new directory `dst`, in backend `to` (default: the other one). */
export async function convertLedger(src: string, dst: string, to?: StorageKind): Promise<ConvertResult> {
  if (!ledgerExists(src)) throw new LedgerError('ERR_NOT_FOUND', `no ledger at ${src}`);
  if (fs.existsSync(dst) && fs.readdirSync(dst).length > 0) throw new LedgerError('ERR_INVALID_ARGUMENT', `${dst} is not empty: convert writes a new ledger directory`);
  const source = await openStorage(src, { create: false, readOnly: true });
  const target = to ?? (source.db.kind === 'file' ? 'leveldb' : 'file');
  let keys = 0;
  try {
    if (target === source.db.kind) throw new LedgerError('ERR_INVALID_ARGUMENT', `${src} is already in ${target === 'file' ? 'file storage' : 'LevelDB'}`);
    const dest = await openStorage(dst, { create: true, kind: target });
    try {
      let batch = dest.db.batch();
      let bytes = 0;
      for await (const [k, v] of source.db.iterator()) {
        batch.put(Buffer.from(k), Buffer.from(v));
        keys++;
        bytes += k.length + v.length;
        if (bytes >= BATCH_BYTES) {
          await batch.write({ sync: true });
          batch = dest.db.batch();
          bytes = 0;
        }
      }
      await batch.write({ sync: true });
    } finally {
      await dest.db.close();
    }
  } finally {
    await source.db.close();
  }
  return { from: source.db.kind, to: target, keys };
}
