// Checks one aligned run of leaves [start, end) inside [base, base + 2^level):
// record hashes and decoding, every stored perfect node (levels >= MIN_STORED_LEVEL) that
// completes inside the run (recomputed from the records), and device envelope signatures.
// Pure and self-contained: it runs in a worker thread or in the caller's thread.
import { performance } from 'node:perf_hooks';
import type * as Signed from './chunk-signed';
import { Frontier, UNKNOWN } from './frontier';
import { nodePos, recordPos } from './findings';
import { HASH_SIZE, MIN_STORED_LEVEL, nodeValueIntact, readNodeAt } from './layout';
import { packedValue, type Packed } from './pack';
import {
  ENROL_TYPES,
  EVIDENCE_TYPES,
  isRuleRecord,
  REVOKE_TYPE,
  SELF_SIGNED_TYPES,
  VENDOR_SIGNED_TYPES,
  peekRecordContext,
  readRecord,
  subjectDid,
  type RecordView,
} from './records';
import { scanRecord } from './record-scan';
import { hashBytes, hashString, holdsHash, leafHashOfTail, perfectSubtreeString } from './sha';
import type { Finding } from './types';

export interface ChunkJob {
  seq: number;
  /** The run lies in the perfect subtree of 2^level leaves starting at `base`. */
  level: number;
  base: number;
  start: number;
  end: number;
  /** Hashes of the perfect subtrees covering [base, start), largest first. */
  frontier: Uint8Array[];
  /**
   * Record entries (index, value) with start <= index < end, in index order. Absent when the
   * thread that checks the chunk reads them itself (chunk-reader.ts), as are the nodes.
   */
  records?: Packed;
  /** Per level 0..level: stored nodes (index, value) that complete in (start, end], in index order (none below MIN_STORED_LEVEL). */
  nodes?: Packed[];
  /** Tree sizes in [start, end] whose frontier the caller needs (block ends), ascending. */
  sizes: number[];
  /** Verify device envelopes against the did:key the record names. */
  verify: boolean;
  /** Return the envelopes themselves (the caller verifies with keys of its own). */
  keepEnvelopes: boolean;
}

export interface EnvelopeCheck {
  /** Undefined when not verified here. */
  ok?: boolean;
  detail?: string;
  counter?: number;
  ts?: number;
  envelope?: string | Uint8Array;
}

/** What the device registry needs to know about a record, in ledger order. */
export interface DeviceEvent {
  index: number;
  time: number;
  type: string;
  device?: string;
  /** The did an enrolment or revocation is about. */
  subject?: string;
  envelope?: EnvelopeCheck;
  /** Signed by its own device id (a contract party), not by an enrolled device. */
  selfSigned?: boolean;
  /** Contract and firmware records, for the rule re-checks. */
  rule?: { body: unknown; envelope?: string | Uint8Array };
}

export type SecurityTally = Record<string, { records: number; rejections: number }>;

/** Adds a security record to a tally: its `count`, or 1 for a record written before aggregation. */
export function tallySecurity(tally: SecurityTally, body: unknown): void {
  const b = (body && typeof body === 'object' ? body : {}) as { code?: unknown; count?: unknown };
  const code = typeof b.code === 'string' ? b.code : 'unknown';
  const count = typeof b.count === 'number' && Number.isSafeInteger(b.count) && b.count > 0 ? b.count : 1;
  const t = (tally[code] ??= { records: 0, rejections: 0 });
  t.records++;
  t.rejections += count;
}

export interface PlacedFinding {
  pos: number;
  finding: Finding;
}

/**
 * What the block summaries are built from: the chunk's decodable records, in index order:
 * record `index[i]` has gateway time `time[i]`, type `texts[type[i]]` and device
 * `texts[device[i]]` (-1: none). Flat arrays and one table of strings, so a chunk's worth
 * crosses from a worker cheaply.
 */
export interface IndexFacts {
  index: Float64Array;
  time: Float64Array;
  type: Int32Array;
  device: Int32Array;
  texts: string[];
}

class FactsBuilder {
  readonly #index: Float64Array;
  readonly #time: Float64Array;
  readonly #type: Int32Array;
  readonly #device: Int32Array;
  readonly #texts: string[] = [];
  readonly #ids = new Map<string, number>();
  #n = 0;
  // Types and devices repeat from record to record: the last two texts seen, before the map.
  #lastText = ['', ''];
  #lastId = [-1, -1];

  /** `capacity`: the records of the chunk at most. */
  constructor(capacity: number) {
    this.#index = new Float64Array(capacity);
    this.#time = new Float64Array(capacity);
    this.#type = new Int32Array(capacity);
    this.#device = new Int32Array(capacity);
  }

  #text(s: string, slot: number): number {
    if (this.#lastText[slot] === s) return this.#lastId[slot]!;
    let id = this.#ids.get(s);
    if (id === undefined) {
      id = this.#texts.push(s) - 1;
      this.#ids.set(s, id);
    }
    this.#lastText[slot] = s;
    this.#lastId[slot] = id;
    return id;
  }

  add(index: number, record: RecordView): void {
    const n = this.#n++;
    this.#index[n] = index;
    this.#time[n] = record.time;
    this.#type[n] = this.#text(record.type, 0);
    this.#device[n] = record.device === undefined ? -1 : this.#text(record.device, 1);
  }

  /** The facts gathered, in arrays of their own (a view of a larger one would cross to the main thread whole). */
  build(): IndexFacts {
    const n = this.#n;
    return { index: this.#index.slice(0, n), time: this.#time.slice(0, n), type: this.#type.slice(0, n), device: this.#device.slice(0, n), texts: this.#texts };
  }
}

export interface ChunkResult {
  seq: number;
  /** The type, time and device of the records read, for the block summaries (docs/FORMAT.md "Storage"). */
  indexed: IndexFacts;
  findings: PlacedFinding[];
  /** The frontier at each size asked for; `unknown`: a leaf under it whose hash is unknown (the root cannot be recomputed). */
  frontiers: { size: number; hashes: Uint8Array[]; unknown?: number }[];
  /** The recomputed root of the whole 2^level subtree, when the run completed it. */
  root?: Uint8Array;
  events: DeviceEvent[];
  /** The last leaf whose hash could not be known (its record missing or shorter than a leaf hash, and no stored node over it intact). */
  lastBroken?: number;
  checked: { records: number; nodes: number; signatures: number };
  /** Security records by code: records, and the rejections they count. */
  security: SecurityTally;
  /** Time spent checking, ms. */
  ms: number;
}

let signedLoaded: typeof Signed | undefined;

/** The envelope checks (chunk-signed.ts), loaded with the first record that has an envelope. */
function signedModule(): typeof Signed {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  signedLoaded ??= require('./chunk-signed') as typeof Signed;
  return signedLoaded;
}

const EMPTY_FACTS: IndexFacts = { index: new Float64Array(0), time: new Float64Array(0), type: new Int32Array(0), device: new Int32Array(0), texts: [] };

const UNKNOWN_LEAF = UNKNOWN;

/** Entries of one key range: entry i is (ids[i], values[i]), ids ascending. */
export interface Entries {
  ids: ArrayLike<number>;
  values: readonly Uint8Array[];
}

/** A chunk's stored entries: its records, and its nodes per level 0..level (empty below MIN_STORED_LEVEL). */
export interface ChunkEntries {
  records: Entries;
  nodes: Entries[];
}

function unpack(p: Packed): Entries {
  const values: Uint8Array[] = [];
  for (let i = 0; i < p.ids.length; i++) values.push(packedValue(p, i));
  return { ids: p.ids, values };
}

/** The entries a job carries packed (when the thread that queued it read them). */
export function packedEntries(job: ChunkJob): ChunkEntries {
  if (!job.records || !job.nodes) throw new RangeError(`chunk ${job.seq} carries no entries: read them with a ChunkReader`);
  return { records: unpack(job.records), nodes: job.nodes.map(unpack) };
}

/** Checks a chunk; `entries`: its stored entries (by default the ones the job carries). */
export function checkChunk(job: ChunkJob, entries: ChunkEntries = packedEntries(job)): ChunkResult {
  const started = performance.now();
  const result = new ChunkChecker(job, entries).run();
  result.ms = performance.now() - started;
  return result;
}

interface Doubt {
  index: number;
  /** The hash of the record bytes (the stored leaf hash is what the tree was built with). */
  computed: string;
  /** The record bytes from the byte before them (tail[1..] is the record). */
  tail: Uint8Array;
  parsed: { record?: RecordView; problem?: string };
  ctx: { time?: number; device?: string };
}

class ChunkChecker {
  readonly #job: ChunkJob;
  readonly #entries: ChunkEntries;
  readonly #out: ChunkResult;
  readonly #nodeAt: number[];
  #recordAt = 0;
  #sizeAt = 0;
  #missingFrom: number | undefined;
  readonly #facts: FactsBuilder;
  /** Leaf hashes of the current aligned group of 2^MIN_STORED_LEVEL leaves (the subtree of the lowest stored node). */
  #group: string[] = [];
  #groupFirst = -1;
  /** A record whose bytes and stored leaf hash disagree, until the stored node over it tells which is right. */
  #doubt: Doubt | undefined;
  #reordered = false;
  /** Leaves whose hash is unknown and that no stored node has covered yet, ascending. */
  #broken: number[] = [];

  constructor(job: ChunkJob, entries: ChunkEntries) {
    this.#job = job;
    this.#entries = entries;
    this.#facts = new FactsBuilder(Math.max(0, job.end - job.start));
    this.#out = { seq: job.seq, indexed: EMPTY_FACTS, findings: [], frontiers: [], events: [], checked: { records: 0, nodes: 0, signatures: 0 }, security: {}, ms: 0 };
    this.#nodeAt = entries.nodes.map(() => 0);
  }

  run(): ChunkResult {
    const job = this.#job;
    const tree = new Frontier(
      job.start - job.base,
      job.frontier.map((h) => hashString(h)),
    );
    const visit = (level: number, index: number, hash: string): string | undefined => this.#visit(level, index, hash);
    this.#frontierAt(job.start, tree);
    const width = 2 ** MIN_STORED_LEVEL;
    for (let i = job.start; i < job.end; i++) {
      if (i % width === 0 || this.#groupFirst < 0) {
        this.#resolveDoubt(undefined);
        this.#group = [];
        this.#groupFirst = i;
      }
      const leaf = this.#leaf(i, this.#takeRecord(i));
      this.#group.push(leaf);
      tree.append(leaf, visit);
      this.#frontierAt(i + 1, tree);
    }
    this.#resolveDoubt(undefined);
    this.#flushMissing(job.end);
    this.#out.lastBroken = this.#broken[this.#broken.length - 1];
    if (this.#reordered) this.#out.events.sort((a, b) => a.index - b.index);
    this.#out.indexed = this.#facts.build();
    if (job.end - job.base === 2 ** job.level && this.#out.lastBroken === undefined) {
      const root = tree.hashes()[0];
      if (root !== undefined) this.#out.root = hashBytes(root);
    }
    return this.#out;
  }

  #add(kind: string, index: number, detail: string, ctx: { time?: number; device?: string } = {}, pos = recordPos(index)): void {
    this.#out.findings.push({ pos, finding: { kind, index, time: ctx.time, device: ctx.device, detail } });
  }

  #frontierAt(size: number, tree: Frontier): void {
    const sizes = this.#job.sizes;
    let next = sizes[this.#sizeAt];
    while (next !== undefined && next < size) next = sizes[++this.#sizeAt];
    if (next === size) {
      const unknown = this.#broken[this.#broken.length - 1];
      this.#out.frontiers.push(unknown === undefined ? { size, hashes: tree.hashes().map(hashBytes) } : { size, hashes: tree.hashes().map(hashBytes), unknown });
      this.#sizeAt++;
    }
  }

  #takeRecord(i: number): Uint8Array | undefined {
    const recs = this.#entries.records;
    let id = recs.ids[this.#recordAt];
    while (id !== undefined && id < i) id = recs.ids[++this.#recordAt];
    if (id === i) return recs.values[this.#recordAt++];
    return undefined;
  }

  /** The stored value of node (level, index), if there is one (read with readNodeAt, or nodeValueIntact on the fast path). */
  #takeNode(level: number, index: number): Uint8Array | undefined {
    const pack = this.#entries.nodes[level];
    let at = this.#nodeAt[level];
    if (!pack || at === undefined) throw new RangeError(`level ${level} is above the chunk's ${this.#job.level}`);
    let id = pack.ids[at];
    while (id !== undefined && id < index) id = pack.ids[++at];
    let value: Uint8Array | undefined;
    if (id === index) {
      value = pack.values[at];
      at++;
      this.#out.checked.nodes++;
    }
    this.#nodeAt[level] = at;
    return value;
  }

  /**
   * Perfect nodes above level 0 that complete as leaves are appended: the stored ones
   * (levels >= MIN_STORED_LEVEL) are compared. Returns the hash to build on when the node
   * over a doubtful leaf shows which of its two copies the tree holds.
   */
  #visit(level: number, within: number, hash: string): string | undefined {
    if (level < MIN_STORED_LEVEL) return undefined;
    const index = this.#job.base / 2 ** level + within;
    const first = index * 2 ** level;
    const value = this.#takeNode(level, index);
    if (hash === UNKNOWN) {
      // A leaf under it is unknown (its record is missing): an intact stored node supplies the hash.
      const stored = value && readNodeAt(level, index, value);
      if (!stored?.intact) return undefined;
      while ((this.#broken[this.#broken.length - 1] ?? -1) >= first) this.#broken.pop();
      return hashString(stored.hash);
    }
    if (value && nodeValueIntact(level, index, value) && holdsHash(value, 0, hash)) {
      if (level === MIN_STORED_LEVEL) this.#resolveDoubt(false);
      return undefined;
    }
    const stored = value && readNodeAt(level, index, value);
    if (stored?.intact && holdsHash(stored.hash, 0, hash)) {
      if (level === MIN_STORED_LEVEL) this.#resolveDoubt(false);
      return undefined;
    }
    if (level === MIN_STORED_LEVEL && this.#doubt && stored?.intact) {
      // The other copy of the doubtful leaf may be the one the tree holds.
      const alt = this.#groupHash(this.#doubt);
      if (alt !== undefined && holdsHash(stored.hash, 0, alt)) {
        this.#resolveDoubt(true);
        return alt;
      }
    }
    if (level === MIN_STORED_LEVEL) this.#resolveDoubt(undefined);
    const where = `node (level ${level}, index ${index}) over records ${first}..${first + 2 ** level - 1}`;
    const pos = nodePos(level, first);
    if (!stored) this.#add('missing', first, `${where} is missing`, {}, pos);
    else if (!stored.intact) this.#add('merkle-node', first, `${where}: ${stored.why}`, {}, pos);
    else this.#add('merkle-node', first, `${where} differs from the hash of its children`, {}, pos);
    return undefined;
  }

  /** The hash of the current group with the doubtful leaf's other copy (undefined unless the whole group lies in this chunk). */
  #groupHash(doubt: Doubt): string | undefined {
    const width = 2 ** MIN_STORED_LEVEL;
    if (this.#group.length !== width || this.#groupFirst % width !== 0 || this.#group.includes(UNKNOWN)) return undefined;
    return perfectSubtreeString(this.#group.map((h, at) => (this.#groupFirst + at === doubt.index ? doubt.computed : h)));
  }

  /**
   * Reports the doubtful leaf, if any: `bytesRight` true when the stored node over it holds its
   * bytes' hash (the stored leaf hash is damaged), false when it holds the stored leaf hash (the
   * bytes were changed), undefined when no intact stored node decides.
   */
  #resolveDoubt(bytesRight: boolean | undefined): void {
    const d = this.#doubt;
    if (!d) return;
    this.#doubt = undefined;
    const i = d.index;
    if (bytesRight === true) {
      this.#add('record-hash', i, `stored leaf hash of record ${i} is damaged (the record bytes match the tree)`, d.ctx);
      const at = this.#events();
      this.#checkRecord(i, d.tail, d.parsed, d.ctx);
      if (this.#events() !== at) this.#reordered = true;
    } else if (bytesRight === false)
      this.#add('record-hash', i, `record ${i} bytes do not match its leaf hash (the leaf hash matches the tree: the bytes were changed)`, d.ctx);
    else this.#add('record-hash', i, `record ${i} bytes do not match its stored leaf hash (no stored node over it tells which is damaged)`, d.ctx);
  }

  #events(): number {
    return this.#out.events.length;
  }

  /**
   * The leaf hash to build the tree with, from two copies: the hash of the record bytes and
   * the leaf hash stored before them. When they disagree the stored one is used and the record
   * is held in doubt until the lowest stored node over it (#visit) shows which copy the tree
   * holds: one corruption yields one finding at its own place, not a cascade of wrong parents.
   */
  #leaf(i: number, value: Uint8Array | undefined): string {
    if (!value) {
      // Consecutive missing records are one finding.
      if (this.#missingFrom === undefined) this.#missingFrom = i;
      this.#broken.push(i);
      return UNKNOWN_LEAF;
    }
    this.#flushMissing(i);
    if (value.length < HASH_SIZE) {
      this.#add('record-hash', i, `record ${i} value is ${value.length} bytes, shorter than its leaf hash`);
      this.#broken.push(i);
      return UNKNOWN_LEAF;
    }
    this.#out.checked.records++;
    // One plain view serves the leaf hash (0x00 || record, the 0x00 written over the byte before
    // the record) and the scan (from its second byte): Buffer.subarray costs several times more.
    const tail = new Uint8Array(value.buffer, value.byteOffset + HASH_SIZE - 1, value.length - HASH_SIZE + 1);
    const computed = leafHashOfTail(tail);
    const parsed = this.#parse(i, tail);
    if (holdsHash(value, 0, computed)) {
      this.#checkRecord(i, tail, parsed);
      return computed;
    }
    const ctx = parsed.record ?? peekRecordContext(tail.subarray(1));
    this.#resolveDoubt(undefined); // two in one group: the node cannot tell them apart
    this.#doubt = { index: i, computed, tail, parsed, ctx };
    return hashString(value);
  }

  /**
   * A record's bytes (tail[1..]) read: by the fast scanner, else by lib/codec (whose verdict
   * counts). Decodable ones count in their block's summary.
   */
  #parse(i: number, tail: Uint8Array): { record?: RecordView; problem?: string } {
    const fast = scanRecord(tail, 1);
    const parsed = fast ? { record: fast } : readRecord(tail.subarray(1));
    // Whatever the tree says of them, decodable records count in their block's summary.
    if (parsed.record) this.#facts.add(i, parsed.record);
    return parsed;
  }

  /** The checks of a record whose bytes the tree commits to: its form, a signed body, and its device event. */
  #checkRecord(i: number, tail: Uint8Array, parsed: { record?: RecordView; problem?: string }, known?: { time?: number; device?: string }): void {
    const ctx = (): { time?: number; device?: string } => known ?? parsed.record ?? peekRecordContext(tail.subarray(1));
    const signed = parsed.record?.envelope === undefined ? undefined : signedModule();
    const problem = parsed.problem ?? signed?.envelopeFormProblem(parsed.record as RecordView);
    if (problem) return this.#add('record-decode', i, `record ${i}: ${problem}`, ctx());
    const record = parsed.record as RecordView;
    const mismatch = signed?.signedBodyProblem(record);
    if (mismatch) this.#add('body-mismatch', i, `record ${i}: ${mismatch}`, ctx());
    this.#event(i, record);
  }

  /** Reports the run of missing records that ends before `end`. */
  #flushMissing(end: number): void {
    const from = this.#missingFrom;
    if (from === undefined) return;
    this.#missingFrom = undefined;
    if (end - from === 1) this.#add('missing', from, `record ${from} is missing`);
    else this.#add('missing', from, `records ${from}..${end - 1} are missing (${end - from} records)`);
  }

  #event(index: number, record: RecordView): void {
    if (record.type === 'security') tallySecurity(this.#out.security, record.body);
    const enrolment = ENROL_TYPES.has(record.type) || record.type === REVOKE_TYPE;
    const signed = record.envelope !== undefined && !EVIDENCE_TYPES.has(record.type) && !VENDOR_SIGNED_TYPES.has(record.type);
    const rule = isRuleRecord(record.type);
    if (!enrolment && !signed && !rule) return;
    const event: DeviceEvent = { index, time: record.time, type: record.type };
    if (record.device !== undefined) event.device = record.device;
    if (enrolment) event.subject = subjectDid(record);
    if (signed) event.envelope = this.#envelope(record);
    if (signed && SELF_SIGNED_TYPES.has(record.type)) event.selfSigned = true;
    if (rule) event.rule = record.envelope === undefined ? { body: record.body ?? null } : { body: record.body ?? null, envelope: record.envelope };
    this.#out.events.push(event);
  }

  #envelope(record: RecordView): EnvelopeCheck {
    const env = record.envelope as string | Uint8Array;
    const check: EnvelopeCheck = {};
    if (this.#job.keepEnvelopes) check.envelope = env;
    if (!this.#job.verify || record.device === undefined) return check;
    this.#out.checked.signatures++;
    return { ...check, ...signedModule().verifyDeviceEnvelope(env, record.device) };
  }
}
