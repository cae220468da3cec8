// The options that point the CLI at an anchor contract: --anchor RPC_URL --contract ADDR
// [--chain-id N] [--from-block N] [--block-range N].
import { intFlag, stringFlag, UsageError, type ParsedArgs } from './args';
import type { LedgerAnchorOptions } from '../anchor';

export const ANCHOR_FLAGS = ['anchor', 'contract', 'chain-id', 'from-block', 'block-range'];
export const anchorUsage = '[--anchor RPC_URL --contract ADDR [--chain-id N] [--from-block N] [--block-range N]]';

export function anchorOptions(args: ParsedArgs): LedgerAnchorOptions | undefined {
  const rpcUrl = stringFlag(args, 'anchor');
  const contract = stringFlag(args, 'contract');
  if (rpcUrl === undefined) {
    if (contract !== undefined || ANCHOR_FLAGS.some((f) => f !== 'anchor' && args.flags[f] !== undefined))
      throw new UsageError('--contract, --chain-id, --from-block and --block-range go with --anchor RPC_URL');
    return undefined;
  }
  if (contract === undefined) throw new UsageError('--anchor needs --contract ADDR (the anchor contract)');
  const blockRange = intFlag(args, 'block-range');
  if (blockRange === 0) throw new UsageError('--block-range must be at least 1');
  return { rpcUrl, contract, chainId: intFlag(args, 'chain-id'), fromBlock: intFlag(args, 'from-block'), blockRange };
}

/** JSON for people and scripts: bytes as hex. */
export function anchorJson(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v, (_k, x: unknown) => (x instanceof Uint8Array ? Buffer.from(x).toString('hex') : x)));
}
