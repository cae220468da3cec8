// The deterministic entries shared by the tile tests and the Go vector (scripts/go-tiles).
import type { RecordInput } from '../../lib/ledger';

/** Big enough for full and partial tiles at levels 0 and 1 and a partial one at level 2. */
export const VECTOR_SIZE = 70000;

export function vectorInput(i: number): RecordInput {
  return { type: 'reading', time: 1764000000000 + i, body: { i, celsius: -20 + (i % 7) } };
}
