// The `anchor` record (docs/FORMAT.md "anchor"): the gateway's note that a checkpoint was
// committed to an EVM chain, written only once the transaction had its confirmations.
import { LedgerError } from '../errors';

export const ANCHOR_RECORD = 'anchor';

export interface AnchorBody {
  /** EIP-155 chain id. */
  chain: number;
  /** The anchor contract, 0x-prefixed lower-case hex. */
  contract: string;
  /** The account that sent the transaction. */
  account: string;
  tx: string;
  block: number;
  blockHash: string;
  /** The chain's timestamp of that block, ms since the epoch. */
  blockTime: number;
  /** The ledger block whose checkpoint was anchored. */
  height: number;
  size: number;
  root: Uint8Array;
  /** SHA-256 of the anchored signed checkpoint note. */
  checkpoint: Uint8Array;
}

const KEYS = ['chain', 'contract', 'account', 'tx', 'block', 'blockHash', 'blockTime', 'height', 'size', 'root', 'checkpoint'];
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isHex = (v: unknown, bytes: number): v is string => typeof v === 'string' && new RegExp(`^0x[0-9a-f]{${bytes * 2}}$`).test(v);
const isHash = (v: unknown): v is Uint8Array => v instanceof Uint8Array && v.length === 32;

/** Checks an `anchor` record body; throws ERR_MALFORMED_RECORD naming the bad field. */
export function parseAnchorBody(v: unknown): AnchorBody {
  const bad = (field: string): never => {
    throw new LedgerError('ERR_MALFORMED_RECORD', `anchor record: ${field} is missing or malformed`, { field });
  };
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) return bad('body');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!KEYS.includes(k)) bad(k);
  if (!isCount(o.chain) || o.chain === 0) bad('chain');
  if (!isHex(o.contract, 20)) bad('contract');
  if (!isHex(o.account, 20)) bad('account');
  if (!isHex(o.tx, 32)) bad('tx');
  if (!isCount(o.block)) bad('block');
  if (!isHex(o.blockHash, 32)) bad('blockHash');
  if (!isCount(o.blockTime)) bad('blockTime');
  if (!isCount(o.height)) bad('height');
  if (!isCount(o.size) || o.size === 0) bad('size');
  if (!isHash(o.root)) bad('root');
  if (!isHash(o.checkpoint)) bad('checkpoint');
  return o as unknown as AnchorBody;
}
