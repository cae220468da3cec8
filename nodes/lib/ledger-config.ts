import * as path from 'node:path';
import type { Gateway } from '../../lib/gateway';
import type { Node } from './red';

export interface LedgerConfigNode extends Node {
  ledgerName: string;
  dir: string;
  keyFile: string;
  /** Resolves to the shared gateway of this ledger; rejects with a typed error (e.g. ERR_LEDGER_LOCKED). */
  gateway(): Promise<Gateway>;
}

export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$/;

export function safeFileName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_');
}

/** Where a ledger and its gateway key live when the flow does not say. */
export function ledgerPaths(userDir: string, name: string, dir?: string): { dir: string; keyFile: string } {
  const base = path.join(userDir, 'iot-ledger');
  return {
    dir: dir && dir.trim() ? path.resolve(userDir, dir.trim()) : path.join(base, 'ledgers', safeFileName(name)),
    keyFile: path.join(base, 'keys', `${safeFileName(name)}.gateway.jwk`),
  };
}

