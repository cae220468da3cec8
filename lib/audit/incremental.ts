// Incremental audit: start from a checkpoint the caller trusts, prove the stored tree
// still extends it, and rebuild the state (frontier, chain, devices) needed to check
// only what was appended after it.
import { bytesEqual } from '../encoding/bytes';
import { checkpointHeader, openCheckpoint, type Checkpoint } from '../note/checkpoint';
import { LedgerError } from '../errors';
import { consistencyPlan, rootPlan, verifyConsistency, type NodeId } from '../merkle';
import { verifyNote } from '../note/note';
import { GENESIS, chainStartAfter, readBlock, storedBlockFields, type Block, type ChainStart, type Trust } from './blocks';
import type { DeviceChecker, DeviceHook } from './devices';
import { blockPos, POS_START, recordPos, type Findings } from './findings';
import { Frontier } from './frontier';
import { blockKey, blockKeyHeight, MIN_STORED_LEVEL, PREFIX_BLOCK, nodeKey, readNodeValue, recordKey, recordKeyIndex, HASH_SIZE } from './layout';
import { PrefixDevices, provenRecord, type PrefixDeviceState } from './prefix-devices';
import { hashBytes, hashString, holdsHash, perfectSubtreeString } from './sha';
import type { RawStore } from './store';

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

/**
 * What the trusted checkpoint's `iot-ledger header` line establishes: `anchor`, the height of the
 * block it names when that block holds the header and ends at the checkpoint's size (a finding
 * says why not otherwise). Undefined for a checkpoint written before format 2, which names no block.
 */
export interface HeaderCheck {
  anchor?: number;
}

/**
 * The block header the trusted checkpoint commits to (its `iot-ledger header` line) against the
 * stored block of that height. The tree alone does not cover headers: whoever holds the gateway
 * key can re-seal the same records into blocks of other times and re-sign them, and only this
 * line, signed before, tells. The chain is walked from the block it names (chainStartFor), so each
 * later header is checked against the one before it, back to this one.
 */
export async function checkTrustedHeader(store: RawStore, note: string, trust: Trust, findings: Findings): Promise<HeaderCheck | undefined> {
  const cp = openCheckpoint(note); // loadTrustedStart has opened and verified it
  let committed;
  try {
    committed = checkpointHeader(cp);
  } catch (err) {
    throw new LedgerError('ERR_INVALID_ARGUMENT', `the starting checkpoint's ${(err as Error).message}`);
  }
  if (!committed) return undefined; // written before format 2: no header line to hold the block to
  const add = (detail: string): HeaderCheck => {
    findings.add(blockPos(cp.size), { kind: 'consistency', index: cp.size, height: committed.height, detail });
    return {};
  };
  const value = await store.get(blockKey(committed.height));
  if (!value) return add(`block ${committed.height}, whose header the trusted checkpoint commits to, is missing`);
  const block = readBlock(committed.height, value, trust);
  if (!block.headerHash || !bytesEqual(block.headerHash, committed.hash))
    return add(`block ${committed.height}'s header is not the one the trusted checkpoint (size ${cp.size}) commits to`);
  // The gateway signs a checkpoint only as it seals the block, at the block's end.
  if (block.header?.size !== cp.size) return add(`block ${committed.height}'s header ends at tree size ${block.header?.size}, not at the trusted checkpoint's ${cp.size}`);
  return { anchor: committed.height };
}

/** Proves, from stored nodes, that the latest signed checkpoint is an append-only extension of the trusted one. */
export async function checkConsistency(store: RawStore, from: TrustedStart, latest: Block | undefined, findings: Findings): Promise<void> {
  const add = (detail: string): void => findings.add(POS_START, { kind: 'consistency', index: from.size, detail });
  if (!latest?.signed || !latest.checkpoint) {
    if (latest) add(`the latest block ${latest.height} has no valid signed checkpoint to prove consistency against`);
    return;
  }
  const { size, root } = latest.checkpoint;
  // Every tree extends the empty one (whose root loadTrustedStart has checked): RFC 9162 has no proof to make.
  if (from.size === 0) return;
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

/**
 * The height to start checking blocks at and the chain state before it: the block whose header the
 * trusted checkpoint commits to (`header.anchor`, checkTrustedHeader), else the first block, in
 * height order, whose checkpoint the trusted key signed at the trusted size and root. From there
 * every later block is read in order, so one the gateway key signed at a smaller or the same tree
 * size is found as in a full audit. A checkpoint written before the header line (`header`
 * undefined) that no stored block carries is a finding, and the chain is then walked from block 0.
 */
export async function chainStartFor(store: RawStore, from: TrustedStart, trust: Trust, header: HeaderCheck | undefined, findings: Findings): Promise<ChainStart> {
  if (from.size === 0) return GENESIS; // the empty tree: before every block, which none ends at
  const height = header?.anchor ?? (await firstBlockSignedAt(store, from, trust));
  if (height === undefined && !header)
    findings.add(blockPos(from.size), {
      kind: 'consistency',
      index: from.size,
      detail: `no stored block carries the trusted checkpoint (size ${from.size}): none is signed at its size and root`,
    });
  if (height === undefined || height === 0) return GENESIS;
  const value = await store.get(blockKey(height - 1));
  return value ? chainStartAfter(readBlock(height - 1, value, trust)) : { ...GENESIS, height };
}

/** Block values read per batch while looking for the trusted block (the audit's block chain reads 64). */
const SCAN_BATCH = 16;

/**
 * The first block, in height order, whose checkpoint the trusted key signed at `from`'s size and
 * root. Verifies only a checkpoint of that size and root.
 */
async function firstBlockSignedAt(store: RawStore, from: TrustedStart, trust: Trust): Promise<number | undefined> {
  const cursor = store.cursor(blockKey(0), Uint8Array.of(PREFIX_BLOCK + 1), SCAN_BATCH);
  try {
    for (let e = await cursor.next(); e; e = await cursor.next()) {
      const height = blockKeyHeight(e[0]);
      if (height === undefined) continue; // not a key of the format
      const cp = storedCheckpoint(e[1]);
      if (cp?.size !== from.size || !bytesEqual(cp.root, from.root)) continue;
      if (readBlock(height, e[1], trust).signed) return height;
    }
  } finally {
    await cursor.close();
  }
  return undefined;
}

/** The checkpoint a block value stores, when it decodes (readBlock says what is wrong otherwise). */
function storedCheckpoint(value: Uint8Array): Checkpoint | undefined {
  const note = storedBlockFields(value)?.checkpoint;
  try {
    return note === undefined ? undefined : openCheckpoint(note);
  } catch {
    return undefined;
  }
}

/**
 * Reads every record before the trusted size. Their stored leaf hashes must rebuild the trusted
 * frontier, and a record whose bytes no longer match its leaf hash is a finding at that record:
 * only the records, proven so, tell which ones enrol, revoke or sign. Neither the summaries nor
 * the stored nodes are signed, so an edited summary or a record rewritten with its leaf hash
 * must not hide a revocation or a device's last counter. Undefined (with a finding) when the
 * stored leaves are not the trusted tree's: the caller then audits from the start to say where.
 * `hook`: the caller's device registry (AuditOptions.deviceKeys), asked as the full audit asks it.
 */
export async function readTrustedPrefix(store: RawStore, from: TrustedStart, findings: Findings, hook?: DeviceHook): Promise<PrefixDeviceState | undefined> {
  const fallBack = (detail: string): undefined => {
    findings.add(POS_START, { kind: 'consistency', index: from.size, detail: `${detail}; auditing from the start instead` });
    return undefined;
  };
  const devices = new PrefixDevices(store, hook);
  const tree = new Frontier(0, []);
  let size = 0;
  const cursor = store.cursor(recordKey(0), recordKey(from.size));
  try {
    for (let e = await cursor.next(); e; e = await cursor.next()) {
      const index = recordKeyIndex(e[0]);
      if (index === undefined) continue; // not a key of the format
      const value = e[1];
      if (index !== size || value.length < HASH_SIZE) return fallBack(`record ${size}, before the trusted checkpoint, is missing`);
      tree.append(hashString(value), () => undefined);
      size++;
      const record = provenRecord(value);
      if (record === 'mismatch') {
        findings.add(recordPos(index), { kind: 'consistency', index, detail: `record ${index}, before the trusted checkpoint, is not the one it commits to (its bytes do not match its leaf hash)` });
        continue;
      }
      const verifying = record && devices.note(index, record);
      if (verifying) await verifying;
    }
  } finally {
    await cursor.close();
  }
  if (size !== from.size) return fallBack(`record ${size}, before the trusted checkpoint, is missing`);
  const hashes = tree.hashes();
  if (hashes.length !== from.frontier.length || hashes.some((h, i) => !holdsHash(from.frontier[i] as Uint8Array, 0, h)))
    return fallBack(`the leaf hashes stored before the trusted checkpoint do not give its root`);
  return devices.finish(from.size);
}

/** Sets device enrolment and the last accepted counters as of the trusted size (readTrustedPrefix has found them). */
export function primeDevices(prefix: PrefixDeviceState, devices: DeviceChecker): void {
  for (const event of prefix.enrolments) devices.apply(event);
  for (const [did, reached] of prefix.reached) devices.replay.accept(did, reached);
}
