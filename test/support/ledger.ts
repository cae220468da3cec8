import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateKey, keyToDid, type PrivateKey } from '../../lib/crypto';
import type { Ledger } from '../../lib/ledger';
import { CompactRange } from '../../lib/merkle';

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(prefix = 'iot-ledger-test-'): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** Appends `count` note records ({n: from + i}), 500 to a write, then seals them into a block. */
export async function appendNotes(ledger: Ledger, from: number, count: number): Promise<void> {
  for (let i = 0; i < count; i += 500)
    await ledger.appendMany(Array.from({ length: Math.min(500, count - i) }, (_, j) => ({ type: 'note', body: { n: from + i + j } })));
  await ledger.seal();
}

export const gatewayKey: PrivateKey = generateKey('Ed25519');
export const deviceA = keyToDid(generateKey('Ed25519'));
export const deviceB = keyToDid(generateKey('ES256'));

/** MTH recomputed from every record's bytes (not from the stored nodes). */
export async function recomputeRoot(ledger: Ledger): Promise<{ size: number; root: Uint8Array }> {
  const range = new CompactRange();
  let n = 0;
  for await (const r of ledger.range(0)) {
    if (r.index !== n) throw new Error(`record ${n} missing in the range`);
    range.append(r.leafHash);
    n++;
  }
  return { size: n, root: range.root() };
}
