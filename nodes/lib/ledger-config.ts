import type { Gateway } from '../../lib/gateway';
import type { Node } from './red';

export interface LedgerConfigNode extends Node {
  ledgerName: string;
  dir: string;
  keyFile: string;
  /** Resolves to the shared gateway of this ledger; rejects with a typed error (e.g. ERR_LEDGER_LOCKED). */
  gateway(): Promise<Gateway>;
}
