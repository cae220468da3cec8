// Incremental audit: start from a checkpoint the caller trusts, prove the stored tree
// still extends it, and rebuild the state (frontier, chain, devices) needed to check
// only what was appended after it.
import { bytesEqual } from '../encoding/bytes';
import { openCheckpoint } from '../note/checkpoint';
import { LedgerError } from '../errors';
import { consistencyPlan, inclusionPlan, rootPlan, verifyConsistency, verifyInclusion, type NodeId } from '../merkle';
import { verifyNote } from '../note/note';
import { GENESIS, chainStartAfter, readBlock, statedSize, type Block, type ChainStart, type Trust } from './blocks';
import type { DeviceEvent } from './chunk';
import { verifyDeviceEnvelope } from './chunk-signed';
import type { DeviceChecker } from './devices';
import { POS_START, recordPos, type Findings } from './findings';
import { blockKey, MIN_STORED_LEVEL, nodeKey, PREFIX_SUMMARY, readNodeValue, recordKey, recordKeyIndex, summaryKey, HASH_SIZE } from './layout';
import { ENROL_TYPES, inDeviceOrder, REVOKE_TYPE, readRecord, subjectDid, type RecordView } from './records';
import { hashBytes, hashString, leafHashOfValue, perfectSubtreeString } from './sha';
import type { RawStore } from './store';
import { readSummary, type Summary } from './summaries';

export interface TrustedStart {
  size: number;
  root: Uint8Array;
  /** Hashes of rootPlan(size).ids, largest first. */
  frontier: Uint8Array[];
}

/**
 * Fetches the hashes of perfect nodes: stored ones with their check, those below
 * MIN_STORED_LEVEL from the records' stored leaf hashes;
 * `problem` names the first one that is missing or damaged.
 */
export async function readNodes(store: RawStore, ids: NodeId[]): Promise<{ hashes: Uint8Array[]; problem?: string }> {
  const hashes: Uint8Array[] = [];
  for (const { level, index } of ids) {
    if (level < MIN_STORED_LEVEL) {
      const row: string[] = [];
      for (let i = index * 2 ** level; i < (index + 1) * 2 ** level; i++) {
        // The stored leaf hash as it is: the trusted root these nodes are checked against vouches for it
        // (a record whose bytes no longer match it is a finding of its own, not of its neighbours).
        const value = await store.get(recordKey(i));
        if (!value || value.length < HASH_SIZE) return { hashes, problem: `record ${i} is missing` };
        row.push(hashString(value));
      }
      hashes.push(hashBytes(perfectSubtreeString(row)));
      continue;
    }
    const key = nodeKey(level, index);
    const value = await store.get(key);
    if (!value) return { hashes, problem: `node (level ${level}, index ${index}) is missing` };
    const node = readNodeValue(key, value);
    if (!node.intact) return { hashes, problem: `node (level ${level}, index ${index}): ${node.why}` };
    hashes.push(node.hash.slice());
  }
  return { hashes };
}

/**
 * Verifies the caller's checkpoint and loads the stored frontier at its size. Returns
 * undefined (with a finding) when the stored tree does not extend it: the audit then
 * starts from the beginning so that it can say where the ledger departs from it.
 */
export async function loadTrustedStart(
  store: RawStore,
  note: string,
  trust: Trust,
  treeSize: number,
  findings: Findings,
): Promise<TrustedStart | undefined> {
  let cp;
  try {
    cp = openCheckpoint(note);
  } catch (err) {
    throw new LedgerError('ERR_INVALID_ARGUMENT', `the starting checkpoint is not a signed tlog checkpoint: ${(err as Error).message}`);
  }
  if (!trust.verifier || !verifyNote(note, trust.verifier))
    throw new LedgerError('ERR_BAD_SIGNATURE', 'the starting checkpoint is not signed by the trusted gateway key');
  if (cp.origin !== trust.name)
    throw new LedgerError('ERR_INVALID_ARGUMENT', `the starting checkpoint is for "${cp.origin}", not this ledger ("${trust.name}")`);
  const add = (detail: string): undefined => {
    findings.add(POS_START, { kind: 'consistency', index: cp.size, detail: `${detail}; auditing from the start instead` });
    return undefined;
  };
  if (cp.size > treeSize) return add(`the ledger holds ${treeSize} records, fewer than the ${cp.size} of the trusted checkpoint: it was truncated or rolled back`);
  const plan = rootPlan(cp.size);
  const { hashes, problem } = await readNodes(store, plan.ids);
  if (problem) return add(`cannot rebuild the tree at the trusted size ${cp.size}: ${problem}`);
  const [root] = plan.rehash(hashes);
  if (!bytesEqual(root, cp.root)) return add(`the stored tree at size ${cp.size} does not have the trusted checkpoint's root`);
  return { size: cp.size, root: cp.root, frontier: hashes };
}

/** Proves, from stored nodes, that the latest signed checkpoint is an append-only extension of the trusted one. */
export async function checkConsistency(store: RawStore, from: TrustedStart, latest: Block | undefined, findings: Findings): Promise<void> {
  const add = (detail: string): void => findings.add(POS_START, { kind: 'consistency', index: from.size, detail });
  if (!latest?.signed || !latest.checkpoint) {
    if (latest) add(`the latest block ${latest.height} has no valid signed checkpoint to prove consistency against`);
    return;
  }
  const { size, root } = latest.checkpoint;
  if (size < from.size) {
    add(`the latest checkpoint (size ${size}) is older than the trusted one (size ${from.size})`);
    return;
  }
  const plan = consistencyPlan(from.size, size);
  const { hashes, problem } = await readNodes(store, plan.ids);
  if (problem) {
    add(`cannot build the consistency proof ${from.size} -> ${size}: ${problem}`);
    return;
  }
  if (!verifyConsistency(from.size, size, plan.rehash(hashes), from.root, root))
    add(`the latest checkpoint (size ${size}) is not consistent with the trusted one (size ${from.size})`);
}

/** The height to start checking blocks at (the first block ending at or after `size`) and the chain state before it. */
export async function chainStartFor(store: RawStore, size: number, blocks: number, trust: Trust): Promise<ChainStart> {
  const sizeOf = async (h: number): Promise<{ block?: Block; size?: number }> => {
    const value = await store.get(blockKey(h));
    if (!value) return {};
    const block = readBlock(h, value, trust);
    return { block, size: statedSize(block) };
  };
  // Binary search for the first height whose block ends at or after `size`.
  let lo = 0;
  let hi = blocks;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const s = (await sizeOf(mid)).size;
    if (s === undefined) {
      lo = 0; // an unreadable block: no search, walk from the start
      hi = 0;
      break;
    }
    if (s >= size) hi = mid;
    else lo = mid + 1;
  }
  if (lo === 0) return GENESIS;
  const prev = (await sizeOf(lo - 1)).block;
  return prev ? chainStartAfter(prev) : { ...GENESIS, height: lo };
}

/** The readable summaries of the blocks wholly before `size`, in height order (the full audit checks them all). */
async function summariesBefore(store: RawStore, size: number): Promise<Summary[]> {
  const out: Summary[] = [];
  const cursor = store.cursor(summaryKey(0), Uint8Array.of(PREFIX_SUMMARY + 1), 256);
  try {
    for (let e = await cursor.next(); e; e = await cursor.next()) {
      let s: Summary;
      try {
        s = readSummary(e[1]);
      } catch {
        continue;
      }
      if (s.first + s.count <= size) out.push(s);
    }
  } finally {
    await cursor.close();
  }
  return out;
}

/**
 * The indexes in the block of `s` whose record `pick` accepts, read unproven (the caller proves
 * what it uses); with `suspect`, also those of records that cannot be decoded or no longer match
 * their stored leaf hash (one altered into another type must not drop out unseen): proving them
 * reports that they are not what the trusted tree holds.
 */
async function pickIn(store: RawStore, s: Summary, pick: (r: RecordView) => boolean, suspect = false): Promise<number[]> {
  const out: number[] = [];
  const cursor = store.cursor(recordKey(s.first), recordKey(s.first + s.count), 256);
  try {
    for (let e = await cursor.next(); e; e = await cursor.next()) {
      const index = recordKeyIndex(e[0]);
      if (index === undefined || e[1].length < HASH_SIZE) continue;
      const r = readRecord(e[1].subarray(HASH_SIZE)).record;
      if (r ? pick(r) || (suspect && !bytesEqual(leafHashOfValue(e[1]), e[1].subarray(0, HASH_SIZE))) : suspect) out.push(index);
    }
  } finally {
    await cursor.close();
  }
  return out;
}

/**
 * Rebuilds device enrolment and the last accepted counters as of the trusted size, from
 * the records of the blocks whose summaries name the enrolment types or the device. Each
 * record used is proven included under the trusted root first.
 */
export async function primeDevices(store: RawStore, from: TrustedStart, devices: DeviceChecker, findings: Findings): Promise<void> {
  const summaries = await summariesBefore(store, from.size);
  const wanted = new Set<string>([...ENROL_TYPES, REVOKE_TYPE]);
  const indexes: number[] = [];
  for (const s of summaries) if (s.types.some((t) => wanted.has(t))) indexes.push(...(await pickIn(store, s, (r) => wanted.has(r.type), true)));
  for (const index of indexes) {
    const record = await provenRecord(store, from, index, findings);
    if (!record) continue;
    const event: DeviceEvent = { index, time: record.time, type: record.type, subject: subjectDid(record) };
    if (record.device !== undefined) event.device = record.device;
    devices.apply(event);
  }
  // The last accepted counter / timestamp of each device before the trusted size: the latest
  // of its (at most 64 latest) envelopes that verifies holds them.
  for (const did of devices.registry.dids()) {
    let tried = 0;
    search: for (let k = summaries.length - 1; k >= 0 && tried < 64; k--) {
      const s = summaries[k]!;
      if (!s.devices.includes(did)) continue;
      const candidates = await pickIn(store, s, (r) => r.device === did);
      for (const index of candidates.reverse()) {
        if (++tried > 64) break search;
        const record = await provenRecord(store, from, index, findings);
        if (!record?.envelope || record.device !== did || !inDeviceOrder(record.type)) continue;
        const check = verifyDeviceEnvelope(record.envelope, did);
        if (!check.ok) continue;
        devices.replay.accept(did, { counter: check.counter, ts: check.ts });
        break search;
      }
    }
  }
}

async function provenRecord(store: RawStore, from: TrustedStart, index: number, findings: Findings): Promise<RecordView | undefined> {
  const value = await store.get(recordKey(index));
  const add = (detail: string): undefined => {
    findings.add(recordPos(index), { kind: 'consistency', index, detail });
    return undefined;
  };
  if (!value || value.length < HASH_SIZE) return add(`record ${index}, before the trusted checkpoint, is missing`);
  const leaf = leafHashOfValue(Uint8Array.from(value));
  const plan = inclusionPlan(index, from.size);
  const { hashes, problem } = await readNodes(store, plan.ids);
  if (problem || !verifyInclusion(leaf, index, from.size, plan.rehash(hashes), from.root))
    return add(`record ${index}, before the trusted checkpoint, is not the one it commits to${problem ? ` (${problem})` : ''}`);
  return readRecord(value.subarray(HASH_SIZE)).record;
}
