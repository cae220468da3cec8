// The anchoring account's secp256k1 key: 0x and 64 hex digits, from a Node-RED credential or
// a key file only its owner can read. It never appears in an error message.
import * as fs from 'node:fs';
import { LedgerError } from '../errors';

const KEY = /^(0x)?[0-9a-fA-F]{64}$/;
/** The order of secp256k1's group: a private key is a number from 1 to N - 1. */
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

export function checkAnchorKey(key: unknown): string {
  if (typeof key !== 'string' || !KEY.test(key.trim()))
    throw new LedgerError('ERR_ANCHOR_CONFIG', 'the anchoring account key must be 64 hex digits (optionally 0x-prefixed)');
  const k = key.trim();
  const hex = k.startsWith('0x') ? k : `0x${k}`;
  // ethers would refuse it later with an untyped error (ERR_INTERNAL in a flow).
  const n = BigInt(hex);
  if (n === 0n || n >= N) throw new LedgerError('ERR_ANCHOR_CONFIG', 'the anchoring account key is no secp256k1 private key (0, or not below the group order)');
  return hex;
}

/** Reads a key file; refuses one that group or others can read (chmod 600). */
export function readAnchorKeyFile(file: string): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (err) {
    throw new LedgerError('ERR_ANCHOR_CONFIG', `cannot read the anchor key file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  if (process.platform !== 'win32' && (st.mode & 0o077) !== 0)
    throw new LedgerError('ERR_ANCHOR_CONFIG', `the anchor key file ${file} is readable by others: chmod 600 it`);
  return checkAnchorKey(fs.readFileSync(file, 'utf8'));
}
