// Collects findings and orders them by where they sit in the ledger, first failure first.
import type { Finding } from './types';

/**
 * Positions in ledger order, so that the first finding is the first failure: record i
 * sits at 2i; a Merkle node, which commits to its records, sits after the last record
 * it covers, lower levels first (a changed record, then the nodes it breaks); block h,
 * sealed after its last record, sits at 2·size − 1, after the nodes ending there and
 * before the next record. The ledger's meta and the trusted starting point come before
 * everything, the head after everything.
 */
export const POS_START = -3;
export const POS_END = Number.MAX_SAFE_INTEGER;
export const recordPos = (index: number): number => 2 * index;
export const blockPos = (size: number): number => 2 * size - 1;
/** The node of 2^level leaves starting at leaf `first`: after record first + 2^level − 1, before that block. */
export const nodePos = (level: number, first: number): number => 2 * (first + 2 ** level) - 1 - 1 / (level + 1);

interface Placed {
  finding: Finding;
  pos: number;
  seq: number;
}

export class Findings {
  #items: Placed[] = [];
  #seq = 0;
  #omitted = 0;
  readonly #max: number;

  constructor(max = 10000) {
    this.#max = Math.max(1, max);
  }

  get count(): number {
    return this.#items.length + this.#omitted;
  }

  add(pos: number, finding: Finding): void {
    this.#items.push({ finding: clean(finding), pos, seq: this.#seq++ });
    // Memory stays bounded: keep the first `max` in ledger order.
    if (this.#items.length >= 2 * this.#max) this.#trim();
  }

  addAll(list: readonly { pos: number; finding: Finding }[]): void {
    for (const f of list) this.add(f.pos, f.finding);
  }

  #trim(): void {
    this.#items.sort(order);
    this.#omitted += Math.max(0, this.#items.length - this.#max);
    this.#items.length = Math.min(this.#items.length, this.#max);
  }

  /** The findings in ledger order, and how many were left out. */
  result(): { findings: Finding[]; omitted: number } {
    this.#trim();
    return { findings: this.#items.map((p) => p.finding), omitted: this.#omitted };
  }
}

function order(a: Placed, b: Placed): number {
  return a.pos - b.pos || a.seq - b.seq;
}

/** Drops undefined fields so reports compare and print cleanly. */
function clean(f: Finding): Finding {
  const out: Partial<Finding> = { kind: f.kind };
  if (f.index !== undefined) out.index = f.index;
  if (f.height !== undefined) out.height = f.height;
  if (f.time !== undefined) out.time = f.time;
  if (f.device !== undefined) out.device = f.device;
  out.detail = f.detail;
  return out as Finding;
}
