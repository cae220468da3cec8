// The block summaries (docs/FORMAT.md "Storage": `i` + u64(height)), checked exactly. They
// carry nothing the records do not, but the ledger's queries and the incremental audit skip
// blocks by them, so a missing, extra or wrong summary is a finding (`index`), and so is any
// key left under format 2's per-record index prefixes (`d`, `t`, `s`).
//
// In step with the audit's single pass over the records: the chunk checkers hand over each
// decodable record's type, time and device (no record is read twice), the block chain hands
// over each block's extent as it is settled, and one cursor walks the stored summaries in
// height order beside them. Memory: the summary of one block at a time.
import { decodeCbor, type CborValue } from '../encoding/codec';
import type { IndexFacts } from './chunk';
import { blockPos, recordPos, type Findings } from './findings';
import { getU64, OLD_INDEX_PREFIXES, PREFIX_SUMMARY, summaryKey } from './layout';
import type { Cursor, RawStore } from './store';
import type { BlockListener } from './blocks';

const FIELDS = ['first', 'count', 'tmin', 'tmax', 'types', 'devices'];
const OLD_NAMES: Record<number, string> = { 0x64: 'by-device', 0x74: 'by-type', 0x73: 'by-time' };

export interface Summary {
  first: number;
  count: number;
  tmin: number;
  tmax: number;
  types: string[];
  devices: string[];
}

const isUint = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');
const byUtf8 = (a: string, b: string): number => Buffer.compare(utf8(a), utf8(b));

/** Strictly ascending in UTF-8 byte order (so sorted and without repeats). */
function isSortedSet(v: CborValue | undefined): v is string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) return false;
  for (let i = 1; i < v.length; i++) if (byUtf8(v[i - 1] as string, v[i] as string) >= 0) return false;
  return true;
}

/** Decodes a stored summary; throws a message naming what is wrong with it. */
export function readSummary(value: Uint8Array): Summary {
  const v = decodeCbor(value);
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array || v instanceof Map) throw new Error('it is not a CBOR map');
  const o = v as { [key: string]: CborValue };
  const keys = Object.keys(o);
  if (keys.length !== FIELDS.length || !FIELDS.every((k) => k in o)) throw new Error(`its fields are ${keys.join(', ')}, expected ${FIELDS.join(', ')}`);
  for (const k of ['first', 'count', 'tmin', 'tmax']) if (!isUint(o[k])) throw new Error(`${k} is not an unsigned integer`);
  for (const k of ['types', 'devices']) if (!isSortedSet(o[k])) throw new Error(`${k} is not a list of texts in ascending UTF-8 order without repeats`);
  return o as unknown as Summary;
}

/** The summary the records of one block give, built as their facts arrive. */
class Expected {
  count = 0;
  tmin = 0;
  tmax = 0;
  readonly types = new Set<string>();
  readonly devices = new Set<string>();
  constructor(
    readonly height: number,
    readonly first: number,
    readonly size: number,
  ) {}

  add(time: number, type: string, device: string | undefined): void {
    if (this.count === 0) this.tmin = this.tmax = time;
    else if (time < this.tmin) this.tmin = time;
    else if (time > this.tmax) this.tmax = time;
    this.count++;
    this.types.add(type);
    if (device !== undefined) this.devices.add(device);
  }

  /** Every record of the block was read and decoded (otherwise the records' own findings say why). */
  get complete(): boolean {
    return this.count === this.size - this.first;
  }

  /** The fields of `s` that differ from these records. */
  differences(s: Summary): string[] {
    const out: string[] = [];
    const same = (a: string[], b: Set<string>): boolean => a.length === b.size && a.every((x) => b.has(x));
    if (s.first !== this.first) out.push(`first is ${s.first}, the block starts at ${this.first}`);
    if (s.count !== this.count) out.push(`count is ${s.count}, the block holds ${this.count}`);
    if (s.tmin !== this.tmin || s.tmax !== this.tmax) out.push(`times are ${s.tmin}..${s.tmax}, the records' are ${this.tmin}..${this.tmax}`);
    if (!same(s.types, this.types)) out.push(`types are [${s.types.join(', ')}], the records' are [${[...this.types].sort(byUtf8).join(', ')}]`);
    if (!same(s.devices, this.devices)) out.push(`devices are [${s.devices.join(', ')}], the records' are [${[...this.devices].sort(byUtf8).join(', ')}]`);
    return out;
  }
}

export interface SummaryCheck {
  summaries: number;
}

/** Fed each settled block's extent and each chunk's facts in ledger order; finish() settles the rest. */
export class SummaryChecker implements BlockListener {
  readonly #store: RawStore;
  readonly #findings: Findings;
  readonly #cursor: Cursor;
  readonly #blocks: Expected[] = [];
  #stored = 0;
  /**
   * Runs of heights whose block is missing (reported by the chain, in height order): their
   * summaries are not checked. Strays are met in height order too (one cursor), so the runs that
   * end below the last stray looked up are passed over for good (#missingFrom): one look-up per
   * stray costs no more than the runs it passes, not all of them.
   */
  readonly #missing: [number, number][] = [];
  #missingFrom = 0;
  /** The height after the last block settled (summaries at or past it are for no sealed block). */
  #sealed: number;

  /** `height`: the first block the audit reads (an incremental audit starts past the trusted ones). */
  constructor(store: RawStore, height: number, findings: Findings) {
    this.#store = store;
    this.#findings = findings;
    this.#sealed = height;
    this.#cursor = store.cursor(summaryKey(height), Uint8Array.of(PREFIX_SUMMARY + 1), 64);
  }

  /** Block `height` holds records [first, size): called as the chain settles it, before its records' facts arrive. */
  block(height: number, first: number, size: number): void {
    this.#blocks.push(new Expected(height, first, size));
    this.#sealed = Math.max(this.#sealed, height + 1);
  }

  missing(from: number, to: number): void {
    this.#missing.push([from, to]);
  }

  /** The next chunk's facts, in index order. */
  async add(facts: IndexFacts): Promise<void> {
    const { texts } = facts;
    for (let i = 0; i < facts.index.length; i++) {
      const index = facts.index[i]!;
      let b = this.#blocks[0];
      while (b && index >= b.size) {
        await this.#close(this.#blocks.shift() as Expected);
        b = this.#blocks[0];
      }
      if (!b || index < b.first) continue; // in the open block (no summary yet), or before the audited blocks
      const d = facts.device[i]!;
      b.add(facts.time[i]!, texts[facts.type[i]!]!, d < 0 ? undefined : texts[d]);
    }
  }

  #add(pos: number, height: number | undefined, detail: string, index?: number): void {
    this.#findings.add(pos, { kind: 'index', ...(index !== undefined ? { index } : {}), ...(height !== undefined ? { height } : {}), detail });
  }

  /** Stored summaries below `height` that no settled block expects, then the one at `height` (if stored). */
  async #storedAt(height: number): Promise<Uint8Array | undefined> {
    const c = this.#cursor;
    for (;;) {
      if (!c.ready) await c.fill();
      const e = c.peek();
      if (!e) return undefined;
      const h = e[0].length === 9 ? getU64(e[0], 1) : undefined;
      if (h !== undefined && h > height) return undefined;
      c.take();
      this.#stored++;
      if (h === height) return e[1];
      this.#stray(e[0], e[1], h);
    }
  }

  /** Where a summary claims to sit: after the records it claims, when it is readable. */
  #claimed(value: Uint8Array): { pos: number; index?: number } {
    try {
      const s = readSummary(value);
      return { pos: blockPos(s.first + Math.max(1, s.count)), index: s.first };
    } catch {
      return { pos: recordPos(0) };
    }
  }

  #stray(key: Uint8Array, value: Uint8Array, h: number | undefined, why = 'which is not a sealed block of the ledger'): void {
    if (h !== undefined && this.#inMissingRun(h)) return; // its block is reported missing
    const { pos, index } = this.#claimed(value);
    if (h === undefined) this.#add(pos, undefined, `summary key ${Buffer.from(key).toString('hex')} is not \`i\` + u64(height)`, index);
    else this.#add(pos, h, `a summary is stored for block ${h}, ${why}`, index);
  }

  /** Whether height `h` lies in a run of missing blocks; `h` never decreases from call to call. */
  #inMissingRun(h: number): boolean {
    const runs = this.#missing;
    while (this.#missingFrom < runs.length && runs[this.#missingFrom]![1] < h) this.#missingFrom++;
    const run = runs[this.#missingFrom];
    return run !== undefined && run[0] <= h;
  }

  async #close(b: Expected): Promise<void> {
    const value = await this.#storedAt(b.height);
    const pos = blockPos(b.size);
    const where = `the summary of block ${b.height} (records ${b.first}..${b.size - 1})`;
    if (!value) return this.#add(pos, b.height, `${where} is missing`, b.first);
    let s: Summary;
    try {
      s = readSummary(value);
    } catch (err) {
      return this.#add(pos, b.height, `${where} is unreadable: ${(err as Error).message}`, b.first);
    }
    if (!b.complete) return; // records missing or undecodable: reported as such
    const diff = b.differences(s);
    if (diff.length > 0) this.#add(pos, b.height, `${where} differs from its records: ${diff.join('; ')}`, b.first);
  }

  /** After the last record: the blocks left, summaries past the last sealed block, and keys of format 2's indexes. */
  async finish(): Promise<SummaryCheck> {
    while (this.#blocks.length > 0) await this.#close(this.#blocks.shift() as Expected);
    for (let e = await this.#cursor.next(); e; e = await this.#cursor.next()) {
      this.#stored++;
      const h = e[0].length === 9 ? getU64(e[0], 1) : undefined;
      if (h === undefined || h < this.#sealed) this.#stray(e[0], e[1], h);
      else this.#stray(e[0], e[1], h, `but the ledger has sealed only ${this.#sealed} block(s)`);
    }
    for (const prefix of OLD_INDEX_PREFIXES) {
      const cursor = this.#store.cursor(Uint8Array.of(prefix), Uint8Array.of(prefix + 1), 256);
      let n = 0;
      let first: Uint8Array | undefined;
      try {
        for (let e = await cursor.next(); e; e = await cursor.next()) {
          first ??= e[0];
          n++;
        }
      } finally {
        await cursor.close();
      }
      if (first)
        this.#add(
          recordPos(0),
          undefined,
          `${n} key(s) under format 2's ${OLD_NAMES[prefix]} index prefix '${String.fromCharCode(prefix)}' (the first ${Buffer.from(first).toString('hex')}): format 3 keeps block summaries instead (an unfinished \`iot-ledger migrate\`?)`,
          0,
        );
    }
    return { summaries: this.#stored };
  }

  async close(): Promise<void> {
    await this.#cursor.close();
  }
}
