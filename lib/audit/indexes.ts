// The derived indexes, checked exactly: records by device (`d`), by type (`t`) and by gateway
// time (`s`). They carry nothing the records do not, but the ledger's queries and the
// incremental audit read them, so a deleted, added or altered entry is a finding (`index`).
//
// Exact with bounded memory, in step with the audit's single pass over the records (the
// chunk checkers hand over each decodable record's type, time and device; no record is
// read twice):
//  1. every expected entry is found by a merge: each type and device has a cursor over its
//     own entries from `start` (its keys sort by record index, as the records arrive); the
//     by-time entries are one cursor (sorted by time, which mostly grows with the index).
//     An expected key the merge has already passed (a record older than the one before it,
//     or a text beyond the cursor budget) is looked up instead, in batches.
//  2. every stored entry naming an index >= start is counted, by the merge cursors and by a
//     walk of the key ranges no cursor covered. Keys are unique and every expected key is
//     distinct, so when the count equals the number found in 1 the stored set is exactly the
//     expected one. Otherwise the entries are read again and each is checked against the
//     record it names, to name the extra ones (the rare, damaged case).
import { Findings, recordPos } from './findings';
import type { IndexFacts } from './chunk';
import { concatBytes, utf8 } from '../encoding/bytes';
import { HASH_SIZE, PREFIX_DEVICE, PREFIX_TYPE, deviceKey, getU64, indexKeyIndex, recordKey, typeKey } from './layout';
import { readRecord, type RecordView } from './records';
import { scanRecord } from './record-scan';
import type { Cursor, RawStore } from './store';

const PREFIX_TIME = 0x73; // 's'
const BATCH = 1024;
/** Per family (types, devices): texts merged through a cursor of their own; later ones are looked up. */
const TEXT_CURSORS = 64;
const TEXT_BATCH = 128;
const FAMILIES = [
  { prefix: PREFIX_DEVICE, name: 'by-device' },
  { prefix: PREFIX_TYPE, name: 'by-type' },
  { prefix: PREFIX_TIME, name: 'by-time' },
] as const;

/** Writes x (a safe non-negative integer) as 8 bytes big-endian at `at`. */
function putU64(out: Uint8Array, at: number, x: number): void {
  for (let i = 7, v = x; i >= 0; i--, v = Math.floor(v / 256)) out[at + i] = v % 256;
}

const textDecoder = new TextDecoder('utf-8', { fatal: false });

function view(value: Uint8Array | undefined): RecordView | undefined {
  if (!value || value.length < HASH_SIZE) return undefined;
  const bytes = value.subarray(HASH_SIZE);
  return scanRecord(bytes) ?? readRecord(bytes).record;
}

/** What a stored index key claims: the family's text (type, did) or time, and the index. */
function claim(key: Uint8Array): { index: number; text?: string; time?: number } | undefined {
  if (key[0] === PREFIX_TIME) {
    if (key.length !== 17) return undefined;
    const dv = new DataView(key.buffer, key.byteOffset, key.byteLength);
    const time = Number(dv.getBigUint64(1));
    const index = Number(dv.getBigUint64(9));
    return Number.isSafeInteger(time) && Number.isSafeInteger(index) ? { index, time } : undefined;
  }
  const index = indexKeyIndex(key);
  if (index === undefined || !Number.isSafeInteger(index)) return undefined;
  return { index, text: textDecoder.decode(key.subarray(1, key.length - 9)) };
}

function describeKey(key: Uint8Array): string {
  return Buffer.from(key).toString('hex');
}

export interface IndexCheck {
  entries: number;
}

/** Bytewise order of a[from..] and b[from..] (both share a[0, from)); a shorter prefix sorts first. */
function compareFrom(a: Uint8Array, b: Uint8Array, from: number): number {
  const n = Math.min(a.length, b.length);
  for (let i = from; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

function lessBytes(a: Uint8Array, b: Uint8Array): boolean {
  return compareFrom(a, b, 0) < 0;
}

interface Context {
  time: number;
  device?: string;
}

interface Lookup {
  index: number;
  key: Uint8Array;
  what: string;
  ctx: Context;
}

/** The entries of one type (or device) from `start` on: key prefix + text + 0x00, then u64(index). */
class TextRun {
  readonly gte: Uint8Array;
  readonly lt: Uint8Array;
  readonly cursor: Cursor;
  /** The expected key being looked for; its last 8 bytes are rewritten per record. */
  readonly key: Uint8Array;
  readonly prefix: number;

  constructor(store: RawStore, family: number, text: string, start: number) {
    const head = concatBytes(Uint8Array.of(family), utf8(text));
    this.prefix = head.length + 1;
    this.gte = concatBytes(head, Uint8Array.of(0), new Uint8Array(8));
    putU64(this.gte, this.prefix, start);
    this.lt = concatBytes(head, Uint8Array.of(1));
    this.key = this.gte.slice();
    this.cursor = store.cursor(this.gte, this.lt, TEXT_BATCH);
  }
}

/** Fed each chunk's index facts in ledger order; finish() settles the count. */
export class IndexChecker {
  readonly #store: RawStore;
  readonly #start: number;
  readonly #end: number;
  readonly #findings: Findings;
  #found = 0;
  #stored = 0;
  readonly #runs = new Map<number, Map<string, TextRun>>([
    [PREFIX_TYPE, new Map()],
    [PREFIX_DEVICE, new Map()],
  ]);
  readonly #time: Cursor;
  #timeLast: Uint8Array | undefined;
  readonly #timeKey = new Uint8Array(17);
  #lookups: Lookup[] = [];
  #inFlight: Promise<void> = Promise.resolve();

  constructor(store: RawStore, start: number, end: number, findings: Findings) {
    this.#store = store;
    this.#start = start;
    this.#end = end;
    this.#findings = findings;
    this.#time = store.cursor(Uint8Array.of(PREFIX_TIME), Uint8Array.of(PREFIX_TIME + 1), BATCH);
    this.#timeKey[0] = PREFIX_TIME;
  }

  #add(index: number, detail: string, r?: Context): void {
    this.#findings.add(recordPos(index), { kind: 'index', index, ...(r ? { time: r.time } : {}), ...(r?.device ? { device: r.device } : {}), detail });
  }

  /** The stored key was passed by a merge: counted as eachStored counts it. */
  #count(key: Uint8Array): void {
    const index = key[0] === PREFIX_TIME ? (key.length === 17 ? getU64(key, 9) : undefined) : indexKeyIndex(key);
    if (index === undefined || index >= this.#start) this.#stored++;
  }

  /** The next chunk's records, in index order. */
  async add(facts: IndexFacts): Promise<void> {
    const { texts } = facts;
    for (let i = 0; i < facts.index.length; i++) {
      const index = facts.index[i]!;
      const time = facts.time[i]!;
      const d = facts.device[i]!;
      const ctx: Context = d < 0 ? { time } : { time, device: texts[d] };
      // Awaits only when a cursor has to be filled: no promise per record.
      const type = texts[facts.type[i]!]!;
      const byType = this.#run(PREFIX_TYPE, type, index, ctx);
      if (byType) while (!this.#textStep(byType, PREFIX_TYPE, type, index, ctx)) await byType.cursor.fill();
      putU64(this.#timeKey, 1, time);
      putU64(this.#timeKey, 9, index);
      while (!this.#timeStep(index, ctx)) await this.#time.fill();
      const byDevice = ctx.device === undefined ? undefined : this.#run(PREFIX_DEVICE, ctx.device, index, ctx);
      if (byDevice) while (!this.#textStep(byDevice, PREFIX_DEVICE, ctx.device as string, index, ctx)) await byDevice.cursor.fill();
    }
    if (this.#lookups.length >= BATCH) await this.#flush();
  }

  #what(family: number, text: string): string {
    return family === PREFIX_TYPE ? `by-type entry (${text})` : `by-device entry (${text})`;
  }

  /** The text's run with its expected key set to `index`; undefined when the key goes to the lookups instead. */
  #run(family: number, text: string, index: number, ctx: Context): TextRun | undefined {
    const runs = this.#runs.get(family) as Map<string, TextRun>;
    let run = runs.get(text);
    if (!run) {
      if (runs.size >= TEXT_CURSORS) {
        const key = family === PREFIX_TYPE ? typeKey(text, index) : deviceKey(text, index);
        this.#lookups.push({ index, key, what: this.#what(family, text), ctx });
        return undefined;
      }
      run = new TextRun(this.#store, family, text, this.#start);
      runs.set(text, run);
    }
    putU64(run.key, run.prefix, index);
    return run;
  }

  /** Merges one expected key into its text's cursor; false when the cursor must be filled first. */
  #textStep(run: TextRun, family: number, text: string, index: number, ctx: Context): boolean {
    const c = run.cursor;
    for (;;) {
      if (!c.ready) return false;
      const e = c.peek();
      const cmp = e ? compareFrom(e[0], run.key, run.prefix) : 1;
      if (cmp <= 0) {
        c.take();
        this.#count((e as [Uint8Array, Uint8Array])[0]);
        if (cmp < 0) continue;
        this.#found++;
      } else this.#add(index, `${this.#what(family, text)} of record ${index} is missing`, ctx);
      return true;
    }
  }

  /** The same for the by-time key in #timeKey; a key the cursor has passed is looked up. */
  #timeStep(index: number, ctx: Context): boolean {
    const key = this.#timeKey;
    const what = `by-time entry (${ctx.time})`;
    if (this.#timeLast && !lessBytes(this.#timeLast, key)) {
      this.#lookups.push({ index, key: key.slice(), what, ctx });
      return true;
    }
    const c = this.#time;
    for (;;) {
      if (!c.ready) return false;
      const e = c.peek();
      const cmp = e ? compareFrom(e[0], key, 0) : 1;
      if (cmp <= 0) {
        const k = (c.take() as [Uint8Array, Uint8Array])[0];
        this.#count(k);
        this.#timeLast = k;
        if (cmp < 0) continue;
        this.#found++;
      } else this.#add(index, `${what} of record ${index} is missing`, ctx);
      return true;
    }
  }

  async #flush(): Promise<void> {
    await this.#inFlight;
    const list = this.#lookups;
    if (list.length === 0) return;
    this.#lookups = [];
    // One lookup in flight while the merge goes on: LevelDB works on its own threads.
    this.#inFlight = this.#store.getMany(list.map((b) => b.key)).then((values) => {
      for (const [i, b] of list.entries()) {
        if (values[i] !== undefined) this.#found++;
        else this.#add(b.index, `${b.what} of record ${b.index} is missing`, b.ctx);
      }
    });
    this.#inFlight.catch(() => undefined); // surfaced by the next flush
  }

  /** After the last record: counts what no merge passed, and names extra entries when the counts differ. */
  async finish(): Promise<IndexCheck> {
    await this.#flush();
    await this.#inFlight;
    for (let e = await this.#time.next(); e; e = await this.#time.next()) this.#count(e[0]);
    for (const [family, runs] of this.#runs) {
      for (const run of runs.values()) for (let e = await run.cursor.next(); e; e = await run.cursor.next()) this.#count(e[0]);
      await this.#walkUncovered(family, [...runs.values()]);
    }
    if (this.#stored !== this.#found) await this.#nameExtras();
    return { entries: this.#stored };
  }

  /** Counts the family's entries outside every text run's range. */
  async #walkUncovered(family: number, runs: TextRun[]): Promise<void> {
    const ranges = runs.map((r) => [r.gte, r.lt] as const).sort((a, b) => compareFrom(a[0], b[0], 0));
    let from: Uint8Array = Uint8Array.of(family);
    const gaps: [Uint8Array, Uint8Array][] = [];
    for (const [gte, lt] of ranges) {
      if (lessBytes(from, gte)) gaps.push([from, gte]);
      if (lessBytes(from, lt)) from = lt;
    }
    gaps.push([from, Uint8Array.of(family + 1)]);
    for (const [gte, lt] of gaps) {
      const cursor = this.#store.cursor(gte, lt, BATCH);
      try {
        for (let e = await cursor.next(); e; e = await cursor.next()) this.#count(e[0]);
      } finally {
        await cursor.close();
      }
    }
  }

  async #nameExtras(): Promise<void> {
    const { start, end } = this;
    const store = this.#store;
    await eachStored(store, start, async (key, claimOf) => {
      const c = claimOf();
      const where = `${FAMILIES.find((f) => f.prefix === key[0])?.name ?? 'index'} entry ${describeKey(key)}`;
      if (!c) return this.#add(Math.min(start, end), `${where} is not an index key`);
      const value = c.index < end ? await store.get(recordKey(c.index)) : undefined;
      const r = view(value);
      if (c.index >= end) return this.#add(end, `${where} names record ${c.index}, beyond the ledger's ${end} records`);
      if (!r) return; // the record is missing or undecodable: reported as such
      const ok = key[0] === PREFIX_TIME ? r.time === c.time : key[0] === PREFIX_TYPE ? r.type === c.text : r.device === c.text;
      if (!ok) this.#add(c.index, `${where} names record ${c.index}, which is not what the record says`, r);
    });
  }

  get start(): number {
    return this.#start;
  }

  get end(): number {
    return this.#end;
  }

  /** Releases the cursors (after finish, or when the audit stops early). */
  async close(): Promise<void> {
    await this.#inFlight.catch(() => undefined);
    const cursors = [this.#time, ...[...this.#runs.values()].flatMap((m) => [...m.values()].map((r) => r.cursor))];
    await Promise.all(cursors.map((c) => c.close()));
  }
}

/** Calls `fn` for each stored index key naming an index >= start (and for every key of no valid shape). */
async function eachStored(
  store: RawStore,
  start: number,
  fn: (key: Uint8Array, claimOf: () => ReturnType<typeof claim>) => void | Promise<void>,
): Promise<void> {
  for (const { prefix } of FAMILIES) {
    const cursor = store.cursor(Uint8Array.of(prefix), Uint8Array.of(prefix + 1), BATCH);
    try {
      for (let e = await cursor.next(); e; e = await cursor.next()) {
        const key = e[0];
        // The index alone decides the skip; the claimed text is decoded only for a caller that asks.
        const index = key[0] === PREFIX_TIME ? (key.length === 17 ? getU64(key, 9) : undefined) : indexKeyIndex(key);
        if (index !== undefined && index < start) continue;
        await fn(key, () => claim(key));
      }
    } finally {
      await cursor.close();
    }
  }
}

