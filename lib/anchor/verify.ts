// Checking a ledger against the anchors a chain holds: each anchored root must be a prefix of
// the ledger (an RFC 9162 consistency proof from the anchored size to the ledger's), no anchor
// may lie beyond the ledger's end (a rollback), and every `anchor` record of the ledger must
// still be on the chain (never mined or reorged away is reported, never passed as clean).
import { toHex } from '../encoding/bytes';
import { isoTime } from '../encoding/iso-time';
import { EMPTY_ROOT, verifyConsistency } from '../merkle';
import type { ChainAnchor } from './chain';
import type { AnchorBody } from './record';

export interface LedgerTree {
  size: number;
  /** The root of the whole ledger (size records). */
  root: Uint8Array;
  consistencyProof(size1: number, size2: number): Promise<Uint8Array[]>;
}

export interface RecordedAnchor {
  /** Index of the `anchor` record in the ledger. */
  index: number;
  body: AnchorBody;
}

export type AnchorFindingKind = 'anchor-contradicted' | 'anchor-beyond' | 'anchor-missing';

export interface AnchorFinding {
  kind: AnchorFindingKind;
  /** The anchored tree size the finding is about. */
  size: number;
  /** The `anchor` record's index, for anchor-missing. */
  index?: number;
  block: number;
  tx: string;
  detail: string;
}

export interface AnchorCheck {
  clean: boolean;
  /** Anchors on the chain for this ledger's origin. */
  onChain: number;
  /** Anchors whose root the ledger is consistent with, oldest first. */
  consistent: ChainAnchor[];
  findings: AnchorFinding[];
}

/** The endpoint's word: ethers takes any safe integer of seconds, past what a Date holds. */
const iso = (ms: number): string => isoTime(ms).replace('.000Z', 'Z');

export function anchoredAt(a: ChainAnchor): string {
  return `block ${a.blockNumber} (${iso(a.time)})`;
}

type AnchorKeyFields = Pick<ChainAnchor, 'txHash' | 'blockHash' | 'size' | 'root' | 'checkpointHash'>;

/** Transaction, block, tree size and root: where an anchor is and which tree it anchors. */
const placeKey = (a: AnchorKeyFields): string => `${a.txHash}/${a.blockHash}/${a.size}/${toHex(a.root)}`;

/**
 * Transaction, block, tree size, root and checkpoint hash: what an `anchor` record says the
 * chain holds (the Anchored event it names, all of it, as the Anchorer keeps it).
 */
const anchorKey = (a: AnchorKeyFields): string => `${placeKey(a)}/${toHex(a.checkpointHash)}`;

export async function checkAnchors(ledger: LedgerTree, onChain: ChainAnchor[], recorded: RecordedAnchor[]): Promise<AnchorCheck> {
  const findings: AnchorFinding[] = [];
  const consistent: ChainAnchor[] = [];
  // One consistency proof per anchored (size, root), however many anchors repeat it (the
  // same checkpoint anchored again, by retries or by several accounts): ledger reads scale
  // with the distinct trees anchored, not with the anchors.
  const verdicts = new Map<string, boolean>();
  const isConsistent = async (a: ChainAnchor): Promise<boolean> => {
    const key = `${a.size}/${toHex(a.root)}`;
    let ok = verdicts.get(key);
    if (ok === undefined) {
      // Every ledger extends the empty tree: from size 0 the proof is empty and only the root is checked.
      const proof = a.size === ledger.size || a.size === 0 ? [] : await ledger.consistencyProof(a.size, ledger.size);
      ok = verifyConsistency(a.size, ledger.size, proof, a.root, ledger.root);
      verdicts.set(key, ok);
    }
    return ok;
  };
  for (const a of onChain) {
    if (a.size > ledger.size) {
      findings.push({
        kind: 'anchor-beyond',
        size: a.size,
        block: a.blockNumber,
        tx: a.txHash,
        detail: `the chain holds an anchor of tree size ${a.size} at ${anchoredAt(a)}, but the ledger has only ${ledger.size} records: it was rolled back or is an old copy`,
      });
      continue;
    }
    if (await isConsistent(a)) consistent.push(a);
    else
      findings.push({
        kind: 'anchor-contradicted',
        size: a.size,
        block: a.blockNumber,
        tx: a.txHash,
        detail: a.size === 0 ? emptyTreeDetail(a) : `the ledger contradicts the root anchored for tree size ${a.size} at ${anchoredAt(a)} (root ${toHex(a.root)}): its first ${a.size} records were changed or the ledger forked`,
      });
  }
  // What each record must find, as a set: one look-up per record, however many anchors one
  // transaction (or block, or tree size) holds.
  const held = new Set(onChain.map(anchorKey));
  const placed = new Set(onChain.map(placeKey));
  for (const r of recorded) {
    const b = r.body;
    const claimed: AnchorKeyFields = { txHash: b.tx, blockHash: b.blockHash, size: b.size, root: b.root, checkpointHash: b.checkpoint };
    if (held.has(anchorKey(claimed))) continue;
    // The transaction anchored this tree, but another checkpoint note: not the anchor recorded.
    const why = placed.has(placeKey(claimed))
      ? `the chain's anchor of that tree size and root there has another checkpoint hash than the recorded ${toHex(b.checkpoint)}`
      : 'the chain does not hold that anchor (never mined, or reorged away)';
    findings.push({
      kind: 'anchor-missing',
      size: b.size,
      index: r.index,
      block: b.block,
      tx: b.tx,
      detail: `record ${r.index} says tree size ${b.size} was anchored by transaction ${b.tx} in block ${b.block} (${b.blockHash}), but ${why}`,
    });
  }
  findings.sort((x, y) => x.size - y.size || x.block - y.block);
  return { clean: findings.length === 0, onChain: onChain.length, consistent, findings };
}

/** An anchor of tree size 0 whose root is not the empty tree's: no ledger ever had that tree. */
function emptyTreeDetail(a: ChainAnchor): string {
  return `the chain holds an anchor of tree size 0 at ${anchoredAt(a)} whose root ${toHex(a.root)} is not the empty tree's (${toHex(EMPTY_ROOT)}): it is no checkpoint of any ledger (the Anchorer never anchors size 0; the contract's owner sent it otherwise)`;
}

/** The first and the latest consistent anchors covering record `index` (size > index). */
export function anchorsCovering(consistent: ChainAnchor[], index: number): { first?: ChainAnchor; latest?: ChainAnchor } {
  const covering = consistent.filter((a) => a.size > index);
  return { first: covering[0], latest: covering[covering.length - 1] };
}

/** Lines for people: the verdict, the latest anchor, then each finding. */
export function formatAnchorCheck(c: AnchorCheck, where: string, elsewhere?: { chain: number; contract: string; records: number }[]): string {
  const lines: string[] = [];
  // An anchor of the empty tree (size 0) covers no record.
  const latest = anchorsCovering(c.consistent, 0).latest;
  if (c.clean && latest)
    lines.push(`anchors: clean, ${c.onChain} on ${where}; records 0..${latest.size - 1} anchored at ${anchoredAt(latest)}, tx ${latest.txHash}`);
  else if (c.clean && c.onChain > 0) lines.push(`anchors: clean, ${c.onChain} on ${where}, of the empty tree only (size 0): no record is anchored`);
  else if (c.clean) lines.push(`anchors: none on ${where} for this ledger`);
  else {
    lines.push(`anchors: ${c.findings.length} finding(s) against ${c.onChain} anchor(s) on ${where}`);
    if (latest) lines.push(`  latest consistent: records 0..${latest.size - 1} anchored at ${anchoredAt(latest)}`);
  }
  for (const f of c.findings) lines.push(`  ${f.kind} size ${f.size}: ${f.detail}`);
  for (const e of elsewhere ?? [])
    lines.push(`  not checked: ${e.records} anchor record(s) of this ledger name chain ${e.chain}, contract ${e.contract} (audit them with --anchor pointing at that chain and --contract ${e.contract})`);
  return `${lines.join('\n')}\n`;
}
