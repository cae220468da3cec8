// Converts a ledger directory from storage format 1 to format 2 in place. Format 2 only
// changed the check stored after each Merkle node hash (a truncated SHA-256 became a
// CRC-32), so records, blocks, checkpoints and indexes stay byte for byte. Safe to re-run
// after an interruption: a node already converted is recognised by its new check.
import { createHash } from 'node:crypto';
import { decodeCbor } from '../encoding/codec';
import { LedgerError } from '../errors';
import { FORMAT_VERSION, HASH_SIZE, META_KEY, metaValue, nodeValue } from './layout';
import { ledgerExists, openDb } from './lock';

const NODE_PREFIX = 0x6e;
const BATCH = 10_000;

export interface MigrationResult {
  /** The format the directory was in. */
  from: number;
  to: number;
  /** Node values rewritten. */
  nodes: number;
}

const v1Check = (key: Uint8Array, hash: Uint8Array): Buffer => createHash('sha256').update(key).update(hash).digest().subarray(0, 4);

/** Migrates `dir` to the current storage format; a ledger already in it is left untouched. */
export async function migrateLedger(dir: string): Promise<MigrationResult> {
  if (!ledgerExists(dir)) throw new LedgerError('ERR_NOT_FOUND', `no ledger at ${dir}`);
  const { db, release } = await openDb(dir, false);
  try {
    const metaBytes = await db.get(META_KEY);
    if (metaBytes === undefined) throw new LedgerError('ERR_NOT_FOUND', `no ledger at ${dir}`);
    const meta = decodeCbor(metaBytes) as Record<string, unknown>;
    if (meta.v === FORMAT_VERSION) return { from: FORMAT_VERSION, to: FORMAT_VERSION, nodes: 0 };
    if (meta.v !== 1) throw new LedgerError('ERR_LEDGER_FORMAT', `ledger ${dir} is in storage format ${String(meta.v)}, which this version cannot migrate`);
    let nodes = 0;
    let batch = db.batch();
    let pending = 0;
    for await (const [key, value] of db.iterator({ gte: Buffer.from([NODE_PREFIX]), lt: Buffer.from([NODE_PREFIX + 1]) })) {
      if (value.length !== HASH_SIZE + 4) throw new LedgerError('ERR_LEDGER_CORRUPT', `node ${key.toString('hex')} has a bad length`);
      const hash = value.subarray(0, HASH_SIZE);
      const converted = nodeValue(key, hash);
      if (converted.equals(value)) continue;
      if (!v1Check(key, hash).equals(value.subarray(HASH_SIZE)))
        throw new LedgerError('ERR_LEDGER_CORRUPT', `node ${key.toString('hex')} fails its format-1 checksum: audit the ledger before migrating`);
      batch.put(key, converted);
      nodes++;
      if (++pending >= BATCH) {
        await batch.write({ sync: true });
        batch = db.batch();
        pending = 0;
      }
    }
    await batch.write({ sync: true });
    await db.put(
      META_KEY,
      metaValue({ v: FORMAT_VERSION, name: String(meta.name), gateway: String(meta.gateway), verifier: String(meta.verifier), created: Number(meta.created) }),
      { sync: true },
    );
    return { from: 1, to: FORMAT_VERSION, nodes };
  } finally {
    await db.close().catch(() => undefined);
    release();
  }
}
