// Roots and proofs from the stored perfect subtrees: O(log n) point reads each.
import { LedgerError } from '../errors';
import { consistencyPlan, EMPTY_ROOT, inclusionPlan, rootPlan, type CompactRange, type NodeId } from '../merkle';
import { nodeHashFromValue, nodeKey, recordKey } from './layout';
import { checkedRecordBytes } from './reads';
import type { Db } from './lock';

/** Reads the hashes of `ids`, checking each node's checksum; a missing node is corruption. */
export async function readNodes(db: Db, ids: NodeId[]): Promise<Uint8Array[]> {
  if (ids.length === 0) return [];
  const keys = ids.map((id) => nodeKey(id.level, id.index));
  const values = await db.getMany(keys);
  return values.map((v, i) => nodeHashFromValue(keys[i], v, ids[i].level, ids[i].index));
}

function invalid(message: string): LedgerError {
  return new LedgerError('ERR_INVALID_ARGUMENT', message);
}

function checkSize(size: number, committed: number, what = 'size'): void {
  if (!Number.isSafeInteger(size) || size < 0 || size > committed)
    throw invalid(`${what} ${String(size)} must be an integer in [0, ${committed}] (the ledger's size)`);
}

/** MTH of the first `size` records; `frontier` is the committed tree (used when size is all of it). */
export async function rootAt(db: Db, frontier: CompactRange, size: number): Promise<Uint8Array> {
  checkSize(size, frontier.size);
  if (size === 0) return EMPTY_ROOT.slice();
  if (size === frontier.size) return frontier.root();
  const plan = rootPlan(size);
  return plan.rehash(await readNodes(db, plan.ids))[0];
}

export async function inclusionProof(db: Db, committed: number, index: number, size: number): Promise<Uint8Array[]> {
  checkSize(size, committed);
  if (!Number.isSafeInteger(index) || index < 0 || index >= size)
    throw invalid(`index ${String(index)} must be an integer below the tree size ${size}`);
  const plan = inclusionPlan(index, size);
  return plan.rehash(await readNodes(db, plan.ids));
}

export async function consistencyProof(db: Db, committed: number, size1: number, size2: number): Promise<Uint8Array[]> {
  checkSize(size2, committed, 'size2');
  checkSize(size1, size2, 'size1');
  const plan = consistencyPlan(size1, size2);
  return plan.rehash(await readNodes(db, plan.ids));
}

/** A record's bytes (checked against its stored leaf hash) and its inclusion proof, in one LevelDB read. */
export async function recordAndInclusionProof(db: Db, index: number, size: number): Promise<{ bytes: Uint8Array; proof: Uint8Array[] }> {
  const plan = inclusionPlan(index, size);
  const keys = plan.ids.map((id) => nodeKey(id.level, id.index));
  const values = await db.getMany([recordKey(index), ...keys]);
  const bytes = checkedRecordBytes(index, values[0]);
  const hashes = plan.ids.map((id, i) => nodeHashFromValue(keys[i], values[i + 1], id.level, id.index));
  return { bytes, proof: plan.rehash(hashes) };
}
