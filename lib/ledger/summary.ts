// The summary of a block's records (docs/FORMAT.md "Storage"), built as records arrive:
// the open block keeps one, and sealing the block stores it beside the block.
import type { BlockSummary } from './layout';

/** Ascending order of the UTF-8 bytes of two strings (which is code point order, unlike `<` on UTF-16). */
export function utf8Order(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** What a summary needs of a record. */
export interface SummaryFields {
  type: string;
  time: number;
  device?: string;
}

export class SummaryBuilder {
  readonly first: number;
  #count = 0;
  #tmin = 0;
  #tmax = 0;
  readonly #types: Set<string>;
  readonly #devices: Set<string>;

  constructor(first: number, from?: SummaryBuilder) {
    this.first = first;
    this.#types = new Set(from ? from.#types : undefined);
    this.#devices = new Set(from ? from.#devices : undefined);
    if (from) {
      this.#count = from.#count;
      this.#tmin = from.#tmin;
      this.#tmax = from.#tmax;
    }
  }

  /** A copy to add to without touching this one (a planned write may be abandoned). */
  clone(): SummaryBuilder {
    return new SummaryBuilder(this.first, this);
  }

  get count(): number {
    return this.#count;
  }

  add(r: SummaryFields): void {
    if (this.#count === 0) this.#tmin = this.#tmax = r.time;
    else if (r.time < this.#tmin) this.#tmin = r.time;
    else if (r.time > this.#tmax) this.#tmax = r.time;
    this.#count++;
    this.#types.add(r.type);
    if (r.device !== undefined) this.#devices.add(r.device);
  }

  build(): BlockSummary {
    return {
      first: this.first,
      count: this.#count,
      tmin: this.#tmin,
      tmax: this.#tmax,
      types: [...this.#types].sort(utf8Order),
      devices: [...this.#devices].sort(utf8Order),
    };
  }
}

/** The summary of records given in order, the first at index `first`. */
export function summarise(first: number, records: Iterable<SummaryFields>): BlockSummary {
  const b = new SummaryBuilder(first);
  for (const r of records) b.add(r);
  return b.build();
}
