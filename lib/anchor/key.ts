// The anchoring account's secp256k1 key: 0x and 64 hex digits, from a Node-RED credential or
// a key file only its owner can read. It never appears in an error message.
import * as fs from 'node:fs';
import { LedgerError } from '../errors';

const KEY = /^(0x)?[0-9a-fA-F]{64}$/;

export function checkAnchorKey(key: unknown): string {
  if (typeof key !== 'string' || !KEY.test(key.trim()))
    throw new LedgerError('ERR_ANCHOR_CONFIG', 'the anchoring account key must be 64 hex digits (optionally 0x-prefixed)');
  const k = key.trim();
  return k.startsWith('0x') ? k : `0x${k}`;
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
