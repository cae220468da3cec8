// A ledger checked against the anchors of its origin on a chain: reads the Anchored events
// and the ledger's own `anchor` records, then runs the pure checks of verify.ts.
import type { JsonRpcProvider } from 'ethers';
import { bytesEqual } from '../encoding/bytes';
import { LedgerError } from '../errors';
import type { Ledger } from '../ledger';
import { anchorsOfTransaction, contractAddress, makeProvider, readChainAnchors, remoteChainId, type ChainAnchor } from './chain';
import { ANCHOR_RECORD, parseAnchorBody } from './record';
import { anchorSubject, originHash } from './subject';
import { anchoredAt, checkAnchors, type AnchorCheck, type RecordedAnchor } from './verify';

export interface LedgerAnchorOptions {
  rpcUrl: string;
  contract: string;
  /** Expected chain id (default: what the endpoint reports). */
  chainId?: number;
  fromBlock?: number;
  blockRange?: number;
}

async function expectChain(provider: JsonRpcProvider, expected?: number): Promise<number> {
  const id = await remoteChainId(provider);
  if (expected !== undefined && id !== expected) throw new LedgerError('ERR_ANCHOR_CONFIG', `the JSON-RPC endpoint serves chain ${id}, not chain ${expected}`);
  return id;
}

export async function verifyLedgerAnchors(
  ledger: Ledger,
  opts: LedgerAnchorOptions,
): Promise<AnchorCheck & { chainId: number; contract: string; head: number }> {
  const contract = contractAddress(opts.contract);
  const provider = makeProvider(opts.rpcUrl, { chainId: opts.chainId });
  try {
    const chainId = await expectChain(provider, opts.chainId);
    const origin = originHash(ledger.name);
    const { anchors, head } = await readChainAnchors(provider, contract, origin, opts);
    const recorded: RecordedAnchor[] = [];
    for await (const r of ledger.byType(ANCHOR_RECORD)) {
      try {
        const body = parseAnchorBody(r.record.body);
        if (body.chain === chainId && body.contract === contract) recorded.push({ index: r.index, body });
      } catch {
        /* a malformed anchor record is not an anchor of this chain */
      }
    }
    // Recorded anchors outside the scanned block range are looked up by their transaction:
    // its anchors of this origin, never another origin's that the same transaction made.
    // Each transaction once, by a set of hashes (not a scan of the anchors per record).
    const all: ChainAnchor[] = [...anchors];
    const seen = new Set(anchors.map((a) => a.txHash));
    for (const r of recorded) {
      if (seen.has(r.body.tx)) continue;
      seen.add(r.body.tx);
      all.push(...(await anchorsOfTransaction(provider, contract, origin, r.body.tx)));
    }
    all.sort((a, b) => a.blockNumber - b.blockNumber || a.logIndex - b.logIndex);
    const size = ledger.size;
    const tree = { size, root: await ledger.rootAt(size), consistencyProof: (a: number, b: number) => ledger.consistencyProof(a, b) };
    return { ...(await checkAnchors(tree, all, recorded)), chainId, contract, head };
  } finally {
    provider.destroy();
  }
}

export type AnchoredCheckpoint =
  | { ok: true; chainId: number; contract: string; latest: ChainAnchor; first: ChainAnchor }
  | { ok: false; chainId: number; contract: string; code: 'ERR_ANCHOR_MISSING' | 'ERR_ANCHOR_MISMATCH'; reason: string; latest?: ChainAnchor };

/**
 * Whether a signed checkpoint note is anchored: an anchor of its origin with its note hash, or
 * with its tree size and root. An anchor of the same size with another root contradicts it.
 */
export async function checkAnchoredCheckpoint(note: string, opts: LedgerAnchorOptions): Promise<AnchoredCheckpoint> {
  const subject = anchorSubject(note);
  const contract = contractAddress(opts.contract);
  const provider = makeProvider(opts.rpcUrl, { chainId: opts.chainId });
  try {
    const chainId = await expectChain(provider, opts.chainId);
    const { anchors } = await readChainAnchors(provider, contract, subject.originHash, opts);
    const same = anchors.filter((a) => a.size === subject.size);
    const matching = same.filter((a) => bytesEqual(a.root, subject.root) || bytesEqual(a.checkpointHash, subject.checkpointHash));
    const contradicting = same.find((a) => !bytesEqual(a.root, subject.root));
    if (contradicting)
      return {
        ok: false,
        chainId,
        contract,
        code: 'ERR_ANCHOR_MISMATCH',
        reason: `the chain holds another root for tree size ${subject.size} of ${subject.origin}, anchored at ${anchoredAt(contradicting)}: the ledger forked or was rewritten`,
        latest: contradicting,
      };
    const [first] = matching;
    const last = matching[matching.length - 1];
    if (!first || !last) {
      const latest = anchors[anchors.length - 1];
      const hint = latest ? `; the latest anchor of ${subject.origin} is tree size ${latest.size} at ${anchoredAt(latest)} (make the bundle with \`iot-ledger prove DIR INDEX --anchored\`)` : '';
      return { ok: false, chainId, contract, code: 'ERR_ANCHOR_MISSING', reason: `the bundle's checkpoint (tree size ${subject.size}) is not anchored on chain ${chainId} at ${contract}${hint}`, latest };
    }
    return { ok: true, chainId, contract, first, latest: last };
  } finally {
    provider.destroy();
  }
}
