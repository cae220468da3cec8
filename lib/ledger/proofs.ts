// Roots and proofs from the stored perfect subtrees: O(log n) point reads each. Nodes below
// MIN_STORED_LEVEL are not stored (format 4): they are derived from the records' leaf hashes.
import { LedgerError } from '../errors';
import { consistencyPlan, EMPTY_ROOT, inclusionPlan, rootFromLeafHashes, rootPlan, type CompactRange, type NodeId } from '../merkle';
import { MIN_STORED_LEVEL, nodeHashFromValue, nodeKey, recordKey } from './layout';
import { checkedRecordBytes, checkedRecordValue, readCheckedRun } from './reads';
import type { Db } from './lock';

/** Leaves read one by one (getMany) up to this many; longer runs are read with one iterator. */
const POINT_READS = 16;

/** The stored leaf hash of a record value, checked against its bytes (the check a level-0 node's CRC made in format 3). */
function checkedLeaf(index: number, value: Uint8Array | undefined): Uint8Array {
  return checkedRecordValue(index, value).leafHash;
}

/** The checked leaf hashes of records [from, to), read with one iterator. */
async function readLeafRun(db: Db, from: number, to: number): Promise<Uint8Array[]> {
  return (await readCheckedRun(db, from, to)).map((r) => r.leafHash);
}

/** Leaf hashes for the derived nodes among `ids`, keyed by leaf index: one run read by iterator, scattered leaves by getMany. */
async function readLeaves(db: Db, derived: NodeId[]): Promise<Map<number, Uint8Array>> {
  const wanted = new Set<number>();
  for (const { level, index } of derived) for (let i = index * 2 ** level; i < (index + 1) * 2 ** level; i++) wanted.add(i);
  const sorted = [...wanted].sort((a, b) => a - b);
  const leaves = new Map<number, Uint8Array>();
  const first = sorted[0];
  const last = sorted[sorted.length - 1];
  if (first === undefined || last === undefined) return leaves;
  if (sorted.length > POINT_READS && last - first + 1 === sorted.length) {
    (await readLeafRun(db, first, last + 1)).forEach((h, i) => leaves.set(first + i, h));
    return leaves;
  }
  const values = await db.getMany(sorted.map((i) => recordKey(i)));
  sorted.forEach((i, at) => leaves.set(i, checkedLeaf(i, values[at])));
  return leaves;
}

/** A derived node's hash from the leaves read. */
function derivedHash(id: NodeId, leaves: Map<number, Uint8Array>): Uint8Array {
  const from = id.index * 2 ** id.level;
  const hashes: Uint8Array[] = [];
  for (let i = from; i < from + 2 ** id.level; i++) hashes.push(leaves.get(i) as Uint8Array);
  return rootFromLeafHashes(hashes);
}

/** The hash of node (level, index) computed from the leaf hashes stored with its records, whatever its level. */
export async function derivedNodeHash(db: Db, level: number, index: number): Promise<Uint8Array> {
  return rootFromLeafHashes(await readLeafRun(db, index * 2 ** level, (index + 1) * 2 ** level));
}

/**
 * Reads the hashes of `ids`: stored nodes with their checksum checked (a missing one is
 * corruption), nodes below MIN_STORED_LEVEL from the records' leaf hashes (each checked
 * against its record's bytes).
 */
export async function readNodes(db: Db, ids: NodeId[]): Promise<Uint8Array[]> {
  if (ids.length === 0) return [];
  const stored = ids.filter((id) => id.level >= MIN_STORED_LEVEL);
  const derived = ids.filter((id) => id.level < MIN_STORED_LEVEL);
  const [values, leaves] = await Promise.all([
    stored.length > 0 ? db.getMany(stored.map((id) => nodeKey(id.level, id.index))) : Promise.resolve([]),
    readLeaves(db, derived),
  ]);
  let s = 0;
  return ids.map((id) => {
    if (id.level < MIN_STORED_LEVEL) return derivedHash(id, leaves);
    const at = s++;
    return nodeHashFromValue(nodeKey(id.level, id.index), values[at], id.level, id.index);
  });
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

/**
 * A record's bytes (checked against its stored leaf hash) and its inclusion proof, in one LevelDB
 * read: the record, the stored nodes and the records of the derived nodes in one getMany.
 */
export async function recordAndInclusionProof(db: Db, index: number, size: number): Promise<{ bytes: Uint8Array; proof: Uint8Array[] }> {
  const plan = inclusionPlan(index, size);
  const stored = plan.ids.filter((id) => id.level >= MIN_STORED_LEVEL);
  const leafIds: number[] = [];
  for (const { level, index: at } of plan.ids) if (level < MIN_STORED_LEVEL) for (let i = at * 2 ** level; i < (at + 1) * 2 ** level; i++) leafIds.push(i);
  const values = await db.getMany([recordKey(index), ...leafIds.map((i) => recordKey(i)), ...stored.map((id) => nodeKey(id.level, id.index))]);
  const bytes = checkedRecordBytes(index, values[0]);
  const leaves = new Map<number, Uint8Array>();
  leafIds.forEach((i, at) => leaves.set(i, checkedLeaf(i, values[1 + at])));
  let s = 1 + leafIds.length;
  const hashes = plan.ids.map((id) => {
    if (id.level < MIN_STORED_LEVEL) return derivedHash(id, leaves);
    const at = s++;
    return nodeHashFromValue(nodeKey(id.level, id.index), values[at], id.level, id.index);
  });
  return { bytes, proof: plan.rehash(hashes) };
}
