// JSON-RPC access to the anchor contract through ethers v6: the provider, the contract's
// interface, reading Anchored events with the chain's own block hashes and timestamps, and
// mapping ethers' failures onto typed ERR_ANCHOR_* errors.
import * as http from 'node:http';
import * as https from 'node:https';
import { gunzipSync } from 'node:zlib';
import { FetchRequest, getAddress, Interface, isError, JsonRpcProvider, makeError, Network, type FetchGetUrlFunc, type Log, type TransactionReceipt } from 'ethers';
import { fromHex, toHex } from '../encoding/bytes';
import { LedgerError, type ErrorCode } from '../errors';
import { readBoundedBody } from '../guards/bounded-body';
import { anchorArtifact } from './artifact';

export interface ChainAnchor {
  blockNumber: number;
  blockHash: string;
  /** The block's timestamp on the chain, ms since the epoch. */
  time: number;
  txHash: string;
  logIndex: number;
  size: number;
  root: Uint8Array;
  checkpointHash: Uint8Array;
}

let iface: Interface | undefined;
export function anchorInterface(): Interface {
  iface ??= new Interface(anchorArtifact().abi);
  return iface;
}

export const hex0x = (b: Uint8Array): string => `0x${toHex(b)}`;
export const bytesOf = (h: string): Uint8Array => fromHex(h.startsWith('0x') ? h.slice(2) : h);

/** A checked contract address, lower-case (how the `anchor` record stores it). */
export function contractAddress(addr: unknown): string {
  if (typeof addr !== 'string') throw new LedgerError('ERR_ANCHOR_CONFIG', 'the anchor contract address must be 0x and 40 hex digits');
  try {
    return getAddress(addr.trim()).toLowerCase();
  } catch {
    throw new LedgerError('ERR_ANCHOR_CONFIG', `"${addr.slice(0, 60)}" is not an EVM address (0x and 40 hex digits, checksum if mixed case)`);
  }
}

export interface ProviderOptions {
  /** The chain id the caller expects; without it, the provider asks the endpoint. */
  chainId?: number;
  /** Milliseconds before one RPC request gives up (default 15000). */
  timeoutMs?: number;
  /** Bytes of one answer at most, inflated (default MAX_RPC_RESPONSE_BYTES). */
  maxResponseBytes?: number;
  /**
   * Ends the provider's work: a request in flight when it aborts is cut off and later ones
   * fail at once, with stopError(signal) (the deadline of a whole check, see ledger-check).
   */
  signal?: AbortSignal;
}

/**
 * The error a stopped check ends with: the signal's reason when it is a LedgerError (the
 * deadline's ERR_ANCHOR_TIMEOUT), else ERR_ANCHOR_TIMEOUT saying the caller stopped it.
 */
export function stopError(signal: AbortSignal): LedgerError {
  const why: unknown = signal.reason;
  if (why instanceof LedgerError) return why;
  return new LedgerError('ERR_ANCHOR_TIMEOUT', `the anchor check was stopped by its caller${why instanceof Error ? `: ${why.message.slice(0, 200)}` : ''}`);
}

/** Throws stopError(signal) once `signal` has aborted. */
export function throwIfStopped(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw stopError(signal);
}

/**
 * Bytes of one JSON-RPC answer at most, inflated: the anchorer's answers are a few kilobytes;
 * an eth_getLogs of tens of thousands of anchors still fits (--block-range splits a longer one).
 */
export const MAX_RPC_RESPONSE_BYTES = 16 << 20;

/**
 * The statuses ethers follows with a request of its own, through its default reader (no bound
 * on the body or on gzip, only an idle timeout), whatever getUrlFunc the provider was given.
 */
const REDIRECTS = new Set([301, 302, 307, 308]);

/**
 * ethers' HTTP request with the endpoint treated as untrusted: the whole exchange (not only
 * each silence) within `timeoutMs`, the answer refused beyond `maxBytes`, gzip included
 * (ethers' own reads and inflates whatever comes, so a hostile endpoint could exhaust memory),
 * and a redirect refused rather than left to ethers (see REDIRECTS).
 */
function boundedGetUrl(timeoutMs: number, maxBytes: number, stop?: AbortSignal): FetchGetUrlFunc {
  return (req, signal) =>
    new Promise((resolve, reject) => {
      if (stop?.aborted) {
        reject(stopError(stop));
        return;
      }
      const request = (req.url.startsWith('https:') ? https : http).request(req.url, { method: req.method, headers: { ...req.headers } });
      const timer = setTimeout(() => fail(makeError('request timeout', 'TIMEOUT')), timeoutMs);
      // One listener per request, removed when it ends: a check makes thousands of requests.
      const onStop = (): void => fail(stopError(stop as AbortSignal));
      stop?.addEventListener('abort', onStop, { once: true });
      function fail(err: Error): void {
        clearTimeout(timer);
        stop?.removeEventListener('abort', onStop);
        request.destroy();
        reject(err);
      }
      signal?.addListener(() => fail(makeError('request cancelled', 'CANCELLED')));
      request.on('error', fail);
      request.once('response', (resp) => {
        if (REDIRECTS.has(resp.statusCode ?? 0)) {
          fail(makeError(`the endpoint redirects (HTTP ${resp.statusCode}), which is not followed: set the JSON-RPC URL to where it points`, 'SERVER_ERROR'));
          return;
        }
        readBoundedBody(resp, maxBytes, () => makeError(`response larger than ${maxBytes} bytes`, 'SERVER_ERROR')).then((raw) => {
          clearTimeout(timer);
          stop?.removeEventListener('abort', onStop);
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(resp.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
          let body = raw;
          try {
            if (headers['content-encoding'] === 'gzip') body = gunzipSync(body, { maxOutputLength: maxBytes });
          } catch {
            fail(makeError(`gzip response not readable or larger than ${maxBytes} bytes`, 'SERVER_ERROR'));
            return;
          }
          resolve({ statusCode: resp.statusCode ?? 0, statusMessage: resp.statusMessage ?? '', headers, body: new Uint8Array(body) });
        }, fail);
      });
      if (req.body) request.write(Buffer.from(req.body));
      request.end();
    });
}

/** A provider that never hangs on a dead or hostile endpoint: a fixed network, a request timeout, bounded answers. */
export function makeProvider(url: string, opts: ProviderOptions = {}): JsonRpcProvider {
  if (typeof url !== 'string' || !/^https?:\/\//.test(url))
    throw new LedgerError('ERR_ANCHOR_CONFIG', 'the JSON-RPC URL must start with http:// or https://');
  const req = new FetchRequest(url);
  req.timeout = opts.timeoutMs ?? 15000;
  req.getUrlFunc = boundedGetUrl(req.timeout, opts.maxResponseBytes ?? MAX_RPC_RESPONSE_BYTES, opts.signal);
  // A 429 is an error for this look, not a wait for as long as the endpoint's Retry-After says.
  req.retryFunc = () => Promise.resolve(false);
  // Always a static network: ethers would otherwise probe the endpoint in a loop (and log
  // about it) while it is down. remoteChainId() asks the endpoint when it matters.
  const network = opts.chainId !== undefined ? Network.from(opts.chainId) : new Network('unchecked', 0n);
  return new JsonRpcProvider(req, network, { staticNetwork: network, batchMaxCount: 1, cacheTimeout: -1 });
}

/** The chain id the endpoint reports (ERR_ANCHOR_RPC when it cannot be asked). */
export async function remoteChainId(provider: JsonRpcProvider): Promise<number> {
  try {
    return Number(BigInt((await provider.send('eth_chainId', [])) as string));
  } catch (err) {
    throw anchorError(err, 'asking the chain id');
  }
}

/** A short reason from an ethers error: its shortMessage, never the request it carried. */
function reason(err: unknown): string {
  const e = err as { shortMessage?: string; message?: string; code?: string };
  const text = e?.shortMessage ?? e?.message ?? String(err);
  const [firstLine = ''] = text.split('\n');
  return firstLine.slice(0, 200);
}

/** Maps a failure of ethers (or of the endpoint) to a typed ERR_ANCHOR_* error. */
export function anchorError(err: unknown, doing: string): LedgerError {
  if (err instanceof LedgerError) return err;
  const why = reason(err);
  let code: ErrorCode = 'ERR_ANCHOR_RPC';
  if (isError(err, 'INSUFFICIENT_FUNDS') || /insufficient funds/i.test(why)) code = 'ERR_ANCHOR_FUNDS';
  else if (isError(err, 'NONCE_EXPIRED') || isError(err, 'REPLACEMENT_UNDERPRICED') || /nonce/i.test(why)) code = 'ERR_ANCHOR_NONCE';
  else if (isError(err, 'CALL_EXCEPTION')) code = 'ERR_ANCHOR_REVERTED';
  return new LedgerError(code, `${doing}: ${why}`);
}

let anchoredTopic: string | undefined;
/** Bytes as ethers takes them: 0x and an even number of hex digits, either case. */
const BYTES_HEX = /^0x(?:[0-9a-f]{2})*$/i;
/** The low 64 bits of a word (ethers masks a uint64 so, whatever the word's upper bits). */
const UINT64 = (1n << 64n) - 1n;

/**
 * The Anchored event of a log, or null when the log is something else. Decoded by hand (about
 * 2 µs a log, against 130 through ethers' Interface.parseLog), accepting what parseLog does:
 * topic 0 the Anchored topic, the topics after it well-formed bytes of at least 32 (the indexed
 * origin), and data of at least three words (size, the low 64 bits of the first; root;
 * checkpoint hash), anything after them ignored.
 */
export function parseAnchorLog(log: Log, time: number): ChainAnchor | null {
  anchoredTopic ??= (anchorInterface().getEvent('Anchored')?.topicHash as string).toLowerCase();
  if (!Array.isArray(log.topics)) return null;
  const [topic0, ...indexed] = log.topics as unknown[];
  if (typeof topic0 !== 'string' || topic0.toLowerCase() !== anchoredTopic) return null;
  let indexedBytes = 0;
  for (const t of indexed) {
    if (typeof t !== 'string' || !BYTES_HEX.test(t)) return null;
    indexedBytes += (t.length - 2) / 2;
  }
  const data = log.data;
  if (indexedBytes < 32 || typeof data !== 'string' || !BYTES_HEX.test(data) || data.length < 2 + 3 * 64) return null;
  return {
    blockNumber: log.blockNumber,
    blockHash: log.blockHash.toLowerCase(),
    time,
    txHash: log.transactionHash.toLowerCase(),
    logIndex: log.index,
    size: Number(BigInt(`0x${data.slice(2, 66)}`) & UINT64),
    root: fromHex(data.slice(66, 130)),
    checkpointHash: fromHex(data.slice(130, 194)),
  };
}

/**
 * Whether `log` is the first at its position (block number, block hash, log index) among
 * those `seen`: an endpoint that repeats a log gets it counted once; another log at the
 * same position is a false answer (ERR_ANCHOR_RPC), since a block holds one log there.
 */
function firstAtPosition(seen: Map<string, Log>, log: Log): boolean {
  const key = `${log.blockNumber}/${log.blockHash.toLowerCase()}/${log.index}`;
  const was = seen.get(key);
  if (!was) {
    seen.set(key, log);
    return true;
  }
  if (was.transactionHash.toLowerCase() !== log.transactionHash.toLowerCase() || was.data.toLowerCase() !== log.data.toLowerCase())
    throw new LedgerError('ERR_ANCHOR_RPC', `the endpoint answers two different logs at index ${log.index} of block ${log.blockNumber} (${log.blockHash.toLowerCase()})`);
  return false;
}

export interface ReadAnchorsOptions {
  fromBlock?: number;
  /** Blocks per eth_getLogs request (public endpoints cap the range); default: all at once. */
  blockRange?: number;
  /** Stops the read between requests (stopError(signal)); give the provider the same signal to cut off the one in flight. */
  signal?: AbortSignal;
}

/**
 * eth_getLogs requests one read makes at most. The endpoint names the chain height, so
 * without a bound it could keep a read going for ever; a real scan longer than this needs a
 * later fromBlock (the contract's deployment block) or a larger blockRange.
 */
export const MAX_LOG_REQUESTS = 10_000;

/**
 * Anchored events of the origin one read accepts at most, over all its eth_getLogs answers.
 * Each costs an eth_getBlockByNumber (one per distinct block, for its hash and timestamp),
 * and one answer of MAX_RPC_RESPONSE_BYTES holds some 25,000 logs: without a bound, an
 * endpoint could make a check send that many block requests per answer, 10,000 answers long.
 * An hourly anchorer makes 8,760 anchors a year; a chain that holds more needs a later
 * fromBlock.
 */
export const MAX_ANCHOR_LOGS = 100_000;

/**
 * The Anchored events of one origin on a contract, oldest first, each with its block's
 * timestamp. Only logs that match the request count: from the contract, with the Anchored
 * topic and the origin's hash, in the block range asked, not removed; an endpoint's other
 * logs are left out. A log the endpoint repeats (the same block number, block hash and log
 * index) counts once; another log at the same position is refused (ERR_ANCHOR_RPC). A log
 * whose block hash is not the chain's block at that height any more (a reorg during the
 * read) is left out: only what the chain holds now counts. More than MAX_ANCHOR_LOGS
 * distinct matching logs are refused (ERR_ANCHOR_RPC) before any block is read.
 */
export async function readChainAnchors(
  provider: JsonRpcProvider,
  contract: string,
  originHashBytes: Uint8Array,
  opts: ReadAnchorsOptions = {},
): Promise<{ anchors: ChainAnchor[]; head: number }> {
  const address = contractAddress(contract);
  const topic = (anchorInterface().getEvent('Anchored')?.topicHash as string).toLowerCase();
  const origin = hex0x(originHashBytes).toLowerCase();
  try {
    throwIfStopped(opts.signal);
    const head = await provider.getBlockNumber();
    if (!Number.isSafeInteger(head) || head < 0) throw new LedgerError('ERR_ANCHOR_RPC', `the endpoint reports chain height ${head}, which is no block number`);
    const from = opts.fromBlock ?? 0;
    const step = opts.blockRange ?? Number.MAX_SAFE_INTEGER;
    const requests = head < from ? 0 : Math.ceil((head - from + 1) / step);
    if (requests > MAX_LOG_REQUESTS)
      throw new LedgerError(
        'ERR_ANCHOR_CONFIG',
        `reading blocks ${from}..${head} (the chain height the endpoint reports) in ranges of ${step} takes ${requests} eth_getLogs requests, more than the ${MAX_LOG_REQUESTS} a check makes: start at the block the anchor contract was deployed in (--from-block N) or use a larger --block-range`,
      );
    const logs: Log[] = [];
    const seen = new Map<string, Log>();
    for (let lo = from; lo <= head; lo += step) {
      throwIfStopped(opts.signal);
      const hi = Math.min(head, lo + step - 1);
      for (const log of await provider.getLogs({ address, topics: [topic, origin], fromBlock: lo, toBlock: hi })) {
        if (log.removed || log.address.toLowerCase() !== address || log.blockNumber < lo || log.blockNumber > hi) continue;
        if (log.topics.length !== 2 || log.topics[0]?.toLowerCase() !== topic || log.topics[1]?.toLowerCase() !== origin) continue;
        if (!firstAtPosition(seen, log)) continue;
        if (logs.length >= MAX_ANCHOR_LOGS)
          throw new LedgerError(
            'ERR_ANCHOR_RPC',
            `the endpoint answers with more than ${MAX_ANCHOR_LOGS} Anchored events of this origin (blocks ${from}..${hi} so far), more than a check reads: a hostile endpoint, or a chain that holds that many (start at a later block: --from-block N)`,
          );
        logs.push(log);
      }
    }
    // One block request per distinct block: at most MAX_ANCHOR_LOGS in all.
    const blocks = new Map<number, { hash: string; time: number } | null>();
    for (const log of logs) {
      if (blocks.has(log.blockNumber)) continue;
      throwIfStopped(opts.signal);
      const b = await provider.getBlock(log.blockNumber);
      blocks.set(log.blockNumber, b?.hash ? { hash: b.hash.toLowerCase(), time: b.timestamp * 1000 } : null);
    }
    const anchors: ChainAnchor[] = [];
    for (const log of logs) {
      const b = blocks.get(log.blockNumber);
      if (!b || b.hash !== log.blockHash.toLowerCase()) continue;
      const a = parseAnchorLog(log, b.time);
      if (a) anchors.push(a);
    }
    anchors.sort((a, b) => a.blockNumber - b.blockNumber || a.logIndex - b.logIndex);
    return { anchors, head };
  } catch (err) {
    // Stopped: whatever the request in flight failed with, the check ends for its stop.
    if (opts.signal?.aborted) throw stopError(opts.signal);
    throw anchorError(err, `reading anchors from ${address}`);
  }
}

/**
 * The anchors of one origin in a receipt (of a block whose time is `blockTime`, in seconds): the
 * contract's logs with exactly the Anchored topic and the origin's hash that the receipt places
 * in its own block and transaction, each log position once.
 */
export function receiptAnchors(receipt: TransactionReceipt, blockTime: number, contract: string, originHashBytes: Uint8Array): ChainAnchor[] {
  const address = contractAddress(contract);
  const topic = (anchorInterface().getEvent('Anchored')?.topicHash as string).toLowerCase();
  const origin = hex0x(originHashBytes).toLowerCase();
  const tx = receipt.hash.toLowerCase();
  const blockHash = receipt.blockHash.toLowerCase();
  const anchors: ChainAnchor[] = [];
  const seen = new Map<string, Log>();
  for (const log of receipt.logs) {
    if (log.removed || log.address.toLowerCase() !== address) continue;
    if (log.topics.length !== 2 || log.topics[0]?.toLowerCase() !== topic || log.topics[1]?.toLowerCase() !== origin) continue;
    if (log.transactionHash.toLowerCase() !== tx || log.blockHash.toLowerCase() !== blockHash || log.blockNumber !== receipt.blockNumber) continue;
    if (!firstAtPosition(seen, log)) continue;
    const a = parseAnchorLog(log, blockTime * 1000);
    if (a) anchors.push(a);
  }
  return anchors;
}

/**
 * The anchors of one origin a transaction made, in log order, when the chain holds that
 * transaction in a block now (an empty list otherwise). A transaction may anchor several
 * origins (a contract calling the anchor contract in a loop), so only the receipt's logs of
 * the contract with exactly the Anchored topic and the origin's hash count, and only those
 * the receipt places in its own block and transaction (a receipt is the endpoint's word),
 * each log position once.
 */
export async function anchorsOfTransaction(provider: JsonRpcProvider, contract: string, originHashBytes: Uint8Array, txHash: string): Promise<ChainAnchor[]> {
  try {
    const receipt = await provider.getTransactionReceipt(txHash);
    if (!receipt || receipt.status !== 1 || receipt.hash.toLowerCase() !== txHash.toLowerCase()) return [];
    const block = await provider.getBlock(receipt.blockNumber);
    if (!block?.hash || block.hash.toLowerCase() !== receipt.blockHash.toLowerCase()) return [];
    return receiptAnchors(receipt, block.timestamp, contract, originHashBytes);
  } catch (err) {
    throw anchorError(err, `reading transaction ${txHash}`);
  }
}
