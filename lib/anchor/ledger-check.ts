// A ledger checked against the anchors of its origin on a chain: reads the Anchored events
// and the ledger's own `anchor` records, then runs the pure checks of verify.ts.
import type { JsonRpcProvider } from 'ethers';
import { bytesEqual } from '../encoding/bytes';
import { LedgerError } from '../errors';
import type { Ledger } from '../ledger';
import { anchorsOfTransaction, contractAddress, makeProvider, readChainAnchors, remoteChainId, stopError, throwIfStopped, type ChainAnchor } from './chain';
import { ANCHOR_RECORD, parseAnchorBody } from './record';
import { anchorSubject, originHash, type AnchorSubject } from './subject';
import { anchoredAt, checkAnchors, type AnchorCheck, type RecordedAnchor } from './verify';

export interface LedgerAnchorOptions {
  rpcUrl: string;
  contract: string;
  /** Expected chain id (default: what the endpoint reports). */
  chainId?: number;
  fromBlock?: number;
  blockRange?: number;
  /**
   * Milliseconds the whole check may take, every request to the endpoint included (default
   * DEFAULT_ANCHOR_CHECK_MS): past it the check stops, the request in flight cut off, with
   * ERR_ANCHOR_TIMEOUT. An endpoint that answers each of its up to MAX_LOG_REQUESTS requests
   * just inside the request timeout would otherwise keep a check going for days.
   */
  timeoutMs?: number;
  /** Stops the check when it aborts: ERR_ANCHOR_TIMEOUT (or the signal's reason, when that is a LedgerError). */
  signal?: AbortSignal;
}

/** How long one anchor check may take by default: 300 s (5 minutes). */
export const DEFAULT_ANCHOR_CHECK_MS = 300_000;
/** The longest deadline a timer holds (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Runs `check` with a signal that aborts at the deadline of `opts` (or with the caller's
 * signal): the check ends then with ERR_ANCHOR_TIMEOUT even if some step of it does not
 * heed the signal, and its requests, given the signal, stop too.
 */
async function withDeadline<T>(opts: LedgerAnchorOptions, check: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ms = opts.timeoutMs ?? DEFAULT_ANCHOR_CHECK_MS;
  if (!Number.isSafeInteger(ms) || ms < 1 || ms > MAX_TIMER_MS)
    throw new LedgerError('ERR_ANCHOR_CONFIG', `the anchor check's timeout must be a whole number of milliseconds from 1 to ${MAX_TIMER_MS}, got ${String(ms)}`);
  const outer = opts.signal;
  if (outer?.aborted) throw stopError(outer);
  const ctl = new AbortController();
  const timer = setTimeout(
    () =>
      ctl.abort(
        new LedgerError(
          'ERR_ANCHOR_TIMEOUT',
          `the anchor check did not finish within ${ms / 1000} s (the JSON-RPC endpoint is slow or keeps it busy): nothing was checked; raise --anchor-timeout, or read fewer blocks (--from-block N, a larger --block-range)`,
          { timeoutMs: ms },
        ),
      ),
    ms,
  );
  const onOuter = (): void => ctl.abort(stopError(outer as AbortSignal));
  outer?.addEventListener('abort', onOuter, { once: true });
  let onStop = (): void => undefined;
  const stopped = new Promise<never>((_resolve, reject) => {
    onStop = () => reject(stopError(ctl.signal));
    ctl.signal.addEventListener('abort', onStop, { once: true });
  });
  try {
    return await Promise.race([check(ctl.signal), stopped]);
  } catch (err) {
    if (ctl.signal.aborted) throw stopError(ctl.signal);
    throw err;
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener('abort', onOuter);
    ctl.signal.removeEventListener('abort', onStop);
  }
}

async function expectChain(provider: JsonRpcProvider, expected?: number): Promise<number> {
  const id = await remoteChainId(provider);
  if (expected !== undefined && id !== expected) throw new LedgerError('ERR_ANCHOR_CONFIG', `the JSON-RPC endpoint serves chain ${id}, not chain ${expected}`);
  return id;
}

/**
 * The ledger against the anchors of its origin on the chain. The whole check, every request
 * included, ends within opts.timeoutMs (ERR_ANCHOR_TIMEOUT past it).
 */
/** Anchor records of the ledger that name another chain or contract than the one checked (not checked). */
export interface AnchorsElsewhere {
  chain: number;
  contract: string;
  records: number;
}

export type LedgerAnchorCheck = AnchorCheck & { chainId: number; contract: string; head: number; elsewhere: AnchorsElsewhere[] };

export async function verifyLedgerAnchors(ledger: Ledger, opts: LedgerAnchorOptions): Promise<LedgerAnchorCheck> {
  const contract = contractAddress(opts.contract);
  return withDeadline(opts, (signal) => ledgerAgainstChain(ledger, contract, opts, signal));
}

async function ledgerAgainstChain(
  ledger: Ledger,
  contract: string,
  opts: LedgerAnchorOptions,
  signal: AbortSignal,
): Promise<LedgerAnchorCheck> {
  const provider = makeProvider(opts.rpcUrl, { chainId: opts.chainId, signal });
  try {
    const chainId = await expectChain(provider, opts.chainId);
    const origin = originHash(ledger.name);
    const { anchors, head } = await readChainAnchors(provider, contract, origin, { fromBlock: opts.fromBlock, blockRange: opts.blockRange, signal });
    const recorded: RecordedAnchor[] = [];
    const elsewhere = new Map<string, AnchorsElsewhere>();
    for await (const r of ledger.byType(ANCHOR_RECORD)) {
      throwIfStopped(signal);
      let body;
      try {
        body = parseAnchorBody(r.record.body);
      } catch {
        continue; // a malformed anchor record is not an anchor of this chain
      }
      if (body.chain === chainId && body.contract === contract) recorded.push({ index: r.index, body });
      else {
        // Not checked against this endpoint: said, so that a clean result against the wrong chain is not read as "anchored".
        const key = `${body.chain} ${body.contract}`;
        const seen = elsewhere.get(key) ?? { chain: body.chain, contract: body.contract, records: 0 };
        seen.records++;
        elsewhere.set(key, seen);
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
      throwIfStopped(signal);
      all.push(...(await anchorsOfTransaction(provider, contract, origin, r.body.tx)));
    }
    all.sort((a, b) => a.blockNumber - b.blockNumber || a.logIndex - b.logIndex);
    throwIfStopped(signal);
    const size = ledger.size;
    const tree = { size, root: await ledger.rootAt(size), consistencyProof: (a: number, b: number) => ledger.consistencyProof(a, b) };
    return { ...(await checkAnchors(tree, all, recorded)), chainId, contract, head, elsewhere: [...elsewhere.values()] };
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
 * The whole check ends within opts.timeoutMs (ERR_ANCHOR_TIMEOUT past it).
 */
export async function checkAnchoredCheckpoint(note: string, opts: LedgerAnchorOptions): Promise<AnchoredCheckpoint> {
  const subject = anchorSubject(note);
  const contract = contractAddress(opts.contract);
  return withDeadline(opts, (signal) => checkpointOnChain(subject, contract, opts, signal));
}

async function checkpointOnChain(subject: AnchorSubject, contract: string, opts: LedgerAnchorOptions, signal: AbortSignal): Promise<AnchoredCheckpoint> {
  const provider = makeProvider(opts.rpcUrl, { chainId: opts.chainId, signal });
  try {
    const chainId = await expectChain(provider, opts.chainId);
    const { anchors } = await readChainAnchors(provider, contract, subject.originHash, { fromBlock: opts.fromBlock, blockRange: opts.blockRange, signal });
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
      const hint = latest ? `; the latest anchor of ${subject.origin} is tree size ${latest.size} at ${anchoredAt(latest)} (prove under it: \`iot-ledger prove DIR INDEX --anchored\`, or \`prove DIR --consistency FROM ${latest.size}\`)` : '';
      return { ok: false, chainId, contract, code: 'ERR_ANCHOR_MISSING', reason: `the bundle's checkpoint (tree size ${subject.size}) is not anchored on chain ${chainId} at ${contract}${hint}`, latest };
    }
    return { ok: true, chainId, contract, first, latest: last };
  } finally {
    provider.destroy();
  }
}
