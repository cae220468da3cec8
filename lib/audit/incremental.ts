// Incremental audit: start from a checkpoint the caller trusts, prove the stored tree
// still extends it, and rebuild the state (frontier, chain, devices) needed to check
// only what was appended after it.
import { bytesEqual } from '../encoding/bytes';
import { checkpointHeader, openCheckpoint } from '../note/checkpoint';
import { LedgerError } from '../errors';
import { consistencyPlan, rootPlan, verifyConsistency, type NodeId } from '../merkle';
import { verifyNote } from '../note/note';
import { GENESIS, chainStartAfter, readBlock, type Block, type ChainStart, type Trust } from './blocks';
import type { DeviceEvent } from './chunk';
import { claimedFreshness, verifyDeviceEnvelope } from './chunk-signed';
import { toDevice, verificationKey, type DeviceChecker, type DeviceHook } from './devices';
import { blockPos, POS_START, recordPos, type Findings } from './findings';
import { Frontier } from './frontier';
import { blockKey, MIN_STORED_LEVEL, nodeKey, readNodeValue, recordKey, recordKeyIndex, HASH_SIZE } from './layout';
import { ENROL_TYPES, inDeviceOrder, REVOKE_TYPE, readRecord, subjectDid, type Freshness, type RecordView } from './records';
import { isNewer, mergeAccepted, type Freshness as DeviceFreshness } from '../registry/freshness';
import { scanRecord } from './record-scan';
import { hashBytes, hashString, holdsHash, leafHashOfTail, perfectSubtreeString } from './sha';
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
 * The block header the trusted checkpoint commits to (its `iot-ledger header` line) against the
 * stored block of that height. The tree alone does not cover headers: whoever holds the gateway
 * key can re-seal the same records into blocks of other times and re-sign them, and only this
 * line, signed before, tells. Returns the height of that block when it holds the header (and ends
 * at the checkpoint's size): the chain is walked from there (chainStartFor), so each later header
 * is checked against the one before it, back to this one.
 */
export async function checkTrustedHeader(store: RawStore, note: string, trust: Trust, findings: Findings): Promise<number | undefined> {
  const cp = openCheckpoint(note); // loadTrustedStart has opened and verified it
  let committed;
  try {
    committed = checkpointHeader(cp);
  } catch (err) {
    throw new LedgerError('ERR_INVALID_ARGUMENT', `the starting checkpoint's ${(err as Error).message}`);
  }
  if (!committed) return undefined; // written before format 2: no header line to hold the block to
  const add = (detail: string): undefined => {
    findings.add(blockPos(cp.size), { kind: 'consistency', index: cp.size, height: committed.height, detail });
    return undefined;
  };
  const value = await store.get(blockKey(committed.height));
  if (!value) return add(`block ${committed.height}, whose header the trusted checkpoint commits to, is missing`);
  const block = readBlock(committed.height, value, trust);
  if (!block.headerHash || !bytesEqual(block.headerHash, committed.hash))
    return add(`block ${committed.height}'s header is not the one the trusted checkpoint (size ${cp.size}) commits to`);
  // The gateway signs a checkpoint only as it seals the block, at the block's end.
  if (block.header?.size !== cp.size) return add(`block ${committed.height}'s header ends at tree size ${block.header?.size}, not at the trusted checkpoint's ${cp.size}`);
  return committed.height;
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
 * trusted checkpoint commits to (`anchor`, checkTrustedHeader), else the first block ending at or
 * after `size`. From the anchor every later block is read in order, so one the gateway key signed
 * at a smaller or the same tree size is found as in a full audit; the search, which takes the
 * signed sizes to grow, is only for a checkpoint that names no header.
 */
export async function chainStartFor(store: RawStore, size: number, blocks: number, trust: Trust, anchor?: number): Promise<ChainStart> {
  // Only a size the trusted key signed for this very block steers the search: a header edited (or a
  // block value moved from another height) must not make the audit skip blocks after `size` unread.
  const sizeOf = async (h: number): Promise<{ block?: Block; size?: number }> => {
    const value = await store.get(blockKey(h));
    if (!value) return {};
    const block = readBlock(h, value, trust);
    return { block, size: block.signed && block.covered ? block.checkpoint?.size : undefined };
  };
  if (anchor !== undefined) {
    if (anchor === 0) return GENESIS;
    const prev = (await sizeOf(anchor - 1)).block;
    return prev ? chainStartAfter(prev) : { ...GENESIS, height: anchor };
  }
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

/** The device facts of the records before a trusted size, once they are shown to be the ones it commits to. */
export interface TrustedPrefix {
  /** The last enrolment or revocation of each device (they decide its standing), in ledger order. */
  enrolments: DeviceEvent[];
  /** Per device, the indexes of its latest (at most LAST_SIGNED) device-ordered signed records while enrolled, ascending. */
  signed: Map<string, number[]>;
}

/** What the scan keeps: one entry per device, however many records enrol, revoke or name it. */
interface PrefixScan {
  standing: Map<string, DeviceEvent>;
  signed: Map<string, number[]>;
}

const LAST_SIGNED = 64;

/**
 * Reads every record before the trusted size. Their stored leaf hashes must rebuild the trusted
 * frontier, and a record whose bytes no longer match its leaf hash is a finding at that record:
 * only the records, proven so, tell which ones enrol, revoke or sign. Neither the summaries nor
 * the stored nodes are signed, so an edited summary or a record rewritten with its leaf hash
 * must not hide a revocation or a device's last counter. Undefined (with a finding) when the
 * stored leaves are not the trusted tree's: the caller then audits from the start to say where.
 */
export async function readTrustedPrefix(store: RawStore, from: TrustedStart, findings: Findings, hook?: DeviceHook): Promise<TrustedPrefix | undefined> {
  const fallBack = (detail: string): undefined => {
    findings.add(POS_START, { kind: 'consistency', index: from.size, detail: `${detail}; auditing from the start instead` });
    return undefined;
  };
  const scan: PrefixScan = { standing: new Map(), signed: new Map() };
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
      const tail = new Uint8Array(value.buffer, value.byteOffset + HASH_SIZE - 1, value.length - HASH_SIZE + 1);
      if (!holdsHash(value, 0, leafHashOfTail(tail))) {
        findings.add(recordPos(index), { kind: 'consistency', index, detail: `record ${index}, before the trusted checkpoint, is not the one it commits to (its bytes do not match its leaf hash)` });
        continue;
      }
      const record = scanRecord(tail, 1) ?? readRecord(tail.subarray(1)).record;
      if (record) noteRecord(scan, index, record, hook);
    }
  } finally {
    await cursor.close();
  }
  if (size !== from.size) return fallBack(`record ${size}, before the trusted checkpoint, is missing`);
  const hashes = tree.hashes();
  if (hashes.length !== from.frontier.length || hashes.some((h, i) => !holdsHash(from.frontier[i] as Uint8Array, 0, h)))
    return fallBack(`the leaf hashes stored before the trusted checkpoint do not give its root`);
  return { enrolments: [...scan.standing.values()].sort((a, b) => a.index - b.index), signed: scan.signed };
}

/**
 * Keeps the last enrolment or revocation of each device, and the signed records of a device
 * enrolled at that point (as the full audit, which accepts no other): memory grows with the
 * devices, not with records that enrol one again or are signed by a device never enrolled.
 * With a caller's registry (`hook`), enrolled at that point is what it answers for the record,
 * as in the full audit (the ledger's standing where it answers nothing).
 */
function noteRecord(scan: PrefixScan, index: number, record: RecordView, hook: DeviceHook | undefined): void {
  if (ENROL_TYPES.has(record.type) || record.type === REVOKE_TYPE) {
    const subject = subjectDid(record);
    if (subject !== undefined) {
      const event: DeviceEvent = { index, time: record.time, type: record.type, subject };
      if (record.device !== undefined) event.device = record.device;
      scan.standing.set(subject, event);
    }
  }
  if (record.device === undefined || record.envelope === undefined || !inDeviceOrder(record.type)) return;
  const answer = hook?.(record.device, index);
  if (answer ? answer.status !== 'enrolled' : !ENROL_TYPES.has(scan.standing.get(record.device)?.type ?? '')) return;
  let latest = scan.signed.get(record.device);
  if (!latest) scan.signed.set(record.device, (latest = []));
  if (latest.push(index) > LAST_SIGNED) latest.shift();
}

/**
 * Sets device enrolment and the last accepted counters as of the trusted size, from the
 * records before it (readTrustedPrefix has proven them). With a caller's registry (`hook`), each
 * record is verified with the key it answers for it, as in the full audit.
 */
export async function primeDevices(store: RawStore, prefix: TrustedPrefix, devices: DeviceChecker, hook?: DeviceHook): Promise<void> {
  for (const event of prefix.enrolments) devices.apply(event);
  for (const [did, indexes] of prefix.signed) {
    const reached = await lastAccepted(store, did, indexes, (index) => verificationKey(did, hook?.(did, index)));
    if (reached) devices.replay.accept(did, reached);
  }
}

/**
 * The counter / timestamp a device reached with its latest signed records (`indexes`, ascending),
 * as the full audit's ReplayGuard reaches it: the records are taken in order, each accepted when
 * its envelope verifies and it is newer than what was accepted before it (isNewer, merged as
 * mergeAccepted does). A record that replays an older message is not accepted, so it must not
 * lower what the device reached, nor (carrying no counter after ones that had one) drop its
 * counter. The order is first followed on what the payloads claim, unverified: in a ledger the
 * gateway wrote every record is newer than the one before, and only the records that gave the
 * result its counter and time, and the first that brought a counter, are verified (one signature
 * per device, two when it switched to counters in the window). When a claim is not newer
 * or such a record does not verify, every record is verified and the order followed again.
 */
async function lastAccepted(
  store: RawStore,
  did: string,
  indexes: number[],
  keyAt: (index: number) => ReturnType<typeof verificationKey>,
): Promise<Freshness | undefined> {
  const envelopes: (string | Uint8Array)[] = [];
  const keys: ReturnType<typeof verificationKey>[] = [];
  for (const index of indexes) {
    const value = await store.get(recordKey(index));
    const record = value && value.length >= HASH_SIZE ? readRecord(value.subarray(HASH_SIZE)).record : undefined;
    if (record?.envelope !== undefined && record.device === did) {
      envelopes.push(record.envelope);
      keys.push(keyAt(index));
    }
  }
  const claims = envelopes.map((e) => toDevice(claimedFreshness(e)));
  const verified = new Map<number, Freshness | undefined>();
  const verify = (k: number): Freshness | undefined => {
    if (!verified.has(k)) {
      const check = verifyDeviceEnvelope(envelopes[k] as string | Uint8Array, keys[k] as ReturnType<typeof verificationKey>);
      verified.set(k, check.ok ? { counter: check.counter, ts: check.ts } : undefined);
    }
    return verified.get(k);
  };
  // `fresh(k)`: what record k brings, or undefined when it is not taken at all.
  const follow = (fresh: (k: number) => DeviceFreshness | undefined) => {
    let state: DeviceFreshness | undefined;
    let counterFrom = -1;
    let timeFrom = -1;
    let counterSince = -1;
    let refused = false;
    for (let k = 0; k < envelopes.length; k++) {
      const f = fresh(k);
      if (!f) continue;
      if (!isNewer(f, state)) {
        refused = true;
        continue;
      }
      state = mergeAccepted(state, f);
      if (f.counter !== undefined) {
        counterFrom = k;
        if (counterSince < 0) counterSince = k;
      }
      if (f.time !== undefined) timeFrom = k;
    }
    return { state, counterFrom, timeFrom, counterSince, refused };
  };
  const reached = (f: DeviceFreshness | undefined): Freshness | undefined =>
    f && (f.counter !== undefined || f.time !== undefined) ? { counter: f.counter, ts: f.time } : undefined;
  const claimed = follow((k) => claims[k]);
  // Every record newer than the one before, and the ones that give the result verify, with the
  // first that brought a counter (records with one are taken after it only).
  if (!claimed.refused && [claimed.counterFrom, claimed.timeFrom, claimed.counterSince].every((k) => k < 0 || verify(k) !== undefined)) return reached(claimed.state);
  return reached(
    follow((k) => {
      const f = verify(k);
      return f ? toDevice(f) : undefined;
    }).state,
  );
}

