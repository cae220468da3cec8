// Where the Ledger config node keeps a ledger and its gateway key inside the Node-RED user directory.
import * as path from 'node:path';

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

