// The options that point the CLI at an anchor contract: --anchor RPC_URL --contract ADDR
// [--chain-id N] [--from-block N] [--block-range N] [--anchor-timeout SECONDS].
import { intFlag, stringFlag, UsageError, type ParsedArgs } from './args';
import type { LedgerAnchorOptions } from '../anchor';

export const ANCHOR_FLAGS = ['anchor', 'contract', 'chain-id', 'from-block', 'block-range', 'anchor-timeout'];
export const anchorUsage = '[--anchor RPC_URL --contract ADDR [--chain-id N] [--from-block N] [--block-range N] [--anchor-timeout SECONDS]]';

/** Seconds the whole anchor check may take by default (the library's DEFAULT_ANCHOR_CHECK_MS). */
export const DEFAULT_ANCHOR_TIMEOUT_S = 300;
/** The longest --anchor-timeout: what a timer holds (2^31 - 1 ms). */
const MAX_ANCHOR_TIMEOUT_S = Math.floor((2 ** 31 - 1) / 1000);

export function anchorOptions(args: ParsedArgs): LedgerAnchorOptions | undefined {
  const rpcUrl = stringFlag(args, 'anchor');
  const contract = stringFlag(args, 'contract');
  if (rpcUrl === undefined) {
    if (contract !== undefined || ANCHOR_FLAGS.some((f) => f !== 'anchor' && args.flags[f] !== undefined))
      throw new UsageError('--contract, --chain-id, --from-block, --block-range and --anchor-timeout go with --anchor RPC_URL');
    return undefined;
  }
  if (contract === undefined) throw new UsageError('--anchor needs --contract ADDR (the anchor contract)');
  const blockRange = intFlag(args, 'block-range');
  if (blockRange === 0) throw new UsageError('--block-range must be at least 1');
  const timeout = intFlag(args, 'anchor-timeout') ?? DEFAULT_ANCHOR_TIMEOUT_S;
  if (timeout < 1 || timeout > MAX_ANCHOR_TIMEOUT_S) throw new UsageError(`--anchor-timeout must be a whole number of seconds from 1 to ${MAX_ANCHOR_TIMEOUT_S}`);
  return { rpcUrl, contract, chainId: intFlag(args, 'chain-id'), fromBlock: intFlag(args, 'from-block'), blockRange, timeoutMs: timeout * 1000 };
}

/** JSON for people and scripts: bytes as hex. */
export function anchorJson(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v, (_k, x: unknown) => (x instanceof Uint8Array ? Buffer.from(x).toString('hex') : x)));
}
