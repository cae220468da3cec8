// A ledger checked against the anchors of its origin on a chain: reads the Anchored events
// and the ledger's own `anchor` records, then runs the pure checks of verify.ts.
import type { Ledger } from '../ledger';
import { anchorOfTransaction, contractAddress, makeProvider, readChainAnchors, remoteChainId, type ChainAnchor } from './chain';
import { ANCHOR_RECORD, parseAnchorBody } from './record';
import { originHash } from './subject';
import { checkAnchors, type AnchorCheck, type RecordedAnchor } from './verify';

export interface LedgerAnchorOptions {
  rpcUrl: string;
  contract: string;
  /** Expected chain id (default: what the endpoint reports). */
  chainId?: number;
  fromBlock?: number;
  blockRange?: number;
}

export async function verifyLedgerAnchors(
  ledger: Ledger,
  opts: LedgerAnchorOptions,
): Promise<AnchorCheck & { chainId: number; contract: string; head: number }> {
  const contract = contractAddress(opts.contract);
  const provider = makeProvider(opts.rpcUrl, { chainId: opts.chainId });
  try {
    const chainId = await remoteChainId(provider);
    const { anchors, head } = await readChainAnchors(provider, contract, originHash(ledger.name), opts);
    const recorded: RecordedAnchor[] = [];
    for await (const r of ledger.byType(ANCHOR_RECORD)) {
      try {
        const body = parseAnchorBody(r.record.body);
        if (body.chain === chainId && body.contract === contract) recorded.push({ index: r.index, body });
      } catch {
        /* a malformed anchor record is not an anchor of this chain */
      }
    }
    // Recorded anchors outside the scanned block range are looked up by their transaction.
    const all: ChainAnchor[] = [...anchors];
    for (const r of recorded) {
      if (all.some((a) => a.txHash === r.body.tx)) continue;
      const a = await anchorOfTransaction(provider, contract, r.body.tx);
      if (a) all.push(a);
    }
    all.sort((a, b) => a.blockNumber - b.blockNumber || a.logIndex - b.logIndex);
    const size = ledger.size;
    const tree = { size, root: await ledger.rootAt(size), consistencyProof: (a: number, b: number) => ledger.consistencyProof(a, b) };
    return { ...(await checkAnchors(tree, all, recorded)), chainId, contract, head };
  } finally {
    provider.destroy();
  }
}
