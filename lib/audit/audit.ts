// The audit: streams a ledger directory once, in index order, checking every stored
// record, node and block against docs/FORMAT.md, and reports where it goes wrong.
//
// Records are checked in aligned chunks of 2^k leaves (in worker threads when there
// are many): record hashes and decoding, the perfect nodes inside the chunk and the
// device signatures. This thread reads LevelDB, combines chunk roots into the upper
// tree (CompactRange), checks blocks, checkpoints and the head, and applies device
// enrolment and replay order in ledger order. Memory is bounded by the chunks in flight.
import { performance } from 'node:perf_hooks';
import { decodeCbor } from '../encoding/codec';
import { openCheckpoint } from '../note/checkpoint';
import { CompactRange, nodeHash, rootPlan, type NodeId } from '../merkle';
import { bytesEqual } from '../encoding/bytes';
import { BlockChain, GENESIS, readBlock, type Block, type ChainStart, type Trust } from './blocks';
import type { ChunkJob, ChunkResult, SecurityTally } from './chunk';
import { DeviceChecker } from './devices';
import { RuleChecker } from './rules';
import { Findings, nodePos, recordPos } from './findings';
import { SummaryChecker } from './summaries';
import { checkConsistency, checkTrustedHeader, chainStartFor, loadTrustedStart, primeDevices, readTrustedPrefix } from './incremental';
import {
  FORMAT_VERSION,
  HASH_SIZE,
  HEAD_KEY,
  META_KEY,
  MIN_STORED_LEVEL,
  PREFIX_BLOCK,
  PREFIX_RECORD,
  blockKey,
  blockKeyHeight,
  nodeKey,
  nodeKeyIndex,
  readNodeValue,
  recordKey,
  recordKeyIndex,
} from './layout';
import { PackBuilder } from './pack';
import { SubtreeFrontier, tiles } from './gap';
import { ChunkReader, NextStored } from './chunk-reader';
import { ChunkPool, defaultWorkers } from './pool';
import type { Cursor, RawStore } from './store';
import { io, RawStore as Store } from './store';
import { checkHead, chooseTrust, readHead, readMeta } from './trust';
import type { AuditOptions, AuditReport, CosignatureTally } from './types';
import { checkCosigned } from './cosigned';
import { parseWitnessKey, type WitnessKey } from '../witness/cosignature';

const DEFAULT_CHUNK_LEVEL = 10;
const DEFAULT_PARALLEL_THRESHOLD = 4096;
const UNKNOWN_HASH = new Uint8Array(HASH_SIZE);
const MAX_LEVEL = 63;
/** Stored nodes read for one run of missing records, its tiles and the children of lost ones. */
const MAX_GAP_NODES = 65536;

/** Audits the ledger in `dir` (read only). Throws LedgerError for usage and I/O problems, e.g. ERR_LEDGER_LOCKED. */
export async function auditLedger(dir: string, opts: AuditOptions = {}): Promise<AuditReport> {
  const started = performance.now();
  const store = opts.db ? Store.fromOpen(dir, opts.db) : await Store.open(dir);
  try {
    return await new Auditor(store, opts).run(started);
  } finally {
    await store.close();
  }
}

interface Start {
  /** First index to check. */
  start: number;
  /** The trusted frontier at `start`: hashes of rootPlan(start).ids. */
  frontier: Uint8Array[];
  ids: NodeId[];
  chain: ChainStart;
}

interface InFlight {
  result: Promise<ChunkResult>;
  base: number;
  start: number;
  end: number;
}

class Auditor {
  readonly #store: RawStore;
  readonly #opts: AuditOptions;
  readonly #findings: Findings;
  readonly #devices: DeviceChecker;
  #rules: RuleChecker | undefined;
  readonly #k: number;
  readonly #width: number;
  #upper = new Map<number, Cursor>();
  #lastBroken: number | undefined;
  #checked = { records: 0, nodes: 0, signatures: 0 };
  readonly #security: SecurityTally = {};
  readonly #witnesses: WitnessKey[];
  #summaries: SummaryChecker | undefined;

  constructor(store: RawStore, opts: AuditOptions) {
    this.#store = store;
    this.#opts = opts;
    this.#findings = new Findings(opts.maxFindings);
    this.#devices = new DeviceChecker(this.#findings, opts.deviceKeys);
    this.#witnesses = (opts.witnesses ?? []).map((k) => (typeof k === 'string' ? parseWitnessKey(k) : k));
    this.#k = Math.min(20, Math.max(1, MIN_STORED_LEVEL, Math.floor(opts.chunkLevel ?? DEFAULT_CHUNK_LEVEL)));
    this.#width = 2 ** this.#k;
  }

  async run(started: number): Promise<AuditReport> {
    const survey = await this.#survey();
    const { trust, head, treeSize } = survey;
    const from = await this.#startingPoint(trust, treeSize, survey.blockCount);
    const summaries = (this.#summaries = new SummaryChecker(this.#store, from.chain.height, this.#findings));
    const chain = new BlockChain(
      this.#store.cursor(blockKey(from.chain.height), Uint8Array.of(PREFIX_BLOCK + 1), 64),
      trust,
      this.#findings,
      from.chain,
      head?.intact ? head.blockFirst : undefined,
      from.start,
      summaries,
    );
    let cosigned: CosignatureTally | undefined;
    // Contracts and firmware are re-run from their first record, so only a full audit re-checks them.
    if (from.start === 0) this.#rules = new RuleChecker(this.#findings, this.#devices);
    try {
      await this.#stream(from, treeSize, chain);
      this.#rules?.finish();
      await chain.ensure(Number.MAX_SAFE_INTEGER);
      chain.checkNewest();
      chain.finish(treeSize);
      await this.#nodesBeyond(treeSize);
      await this.#lowNodes();
      await summaries.finish();
      cosigned = await checkCosigned(this.#store, this.#findings, from.chain.height, survey.blockCount, this.#witnesses);
      checkHead(head?.intact ? head : undefined, survey.recordCount, survey.blockCount, chain.lastSize, this.#findings);
    } finally {
      await Promise.all([chain.close(), summaries.close()]);
    }

    const { findings, omitted } = this.#findings.result();
    return {
      clean: findings.length === 0 && omitted === 0,
      name: trust.name,
      // What is stored, not what a head claims (the claim is a finding).
      size: survey.storedSize,
      blocks: survey.blockCount,
      from: from.start,
      trust: survey.choice.source,
      ...(survey.choice.verifierString ? { verifier: survey.choice.verifierString } : {}),
      findings,
      omitted,
      checked: {
        records: this.#checked.records,
        nodes: this.#checked.nodes,
        blocks: chain.checked,
        signatures: this.#checked.signatures + this.#devices.signatures + chain.signatures,
      },
      security: summariseSecurity(this.#security),
      unsealed: Math.max(0, survey.storedSize - chain.lastSize),
      cosigned: cosigned,
      durationMs: Math.round(performance.now() - started),
      storage: this.#store.storage,
      ...(this.#store.tornTail ? { tornTail: { ...this.#store.tornTail } } : {}),
    };
  }

  /** What the ledger says about itself, whom to trust, and how far records, leaves and blocks reach. */
  async #survey(): Promise<{
    trust: Trust;
    choice: ReturnType<typeof chooseTrust>;
    head: ReturnType<typeof readHead>;
    recordCount: number;
    /** One past the last stored record. */
    storedSize: number;
    blockCount: number;
    treeSize: number;
  }> {
    const store = this.#store;
    const meta = readMeta(await store.get(META_KEY), this.#findings);
    const name = meta?.name ?? (await this.#nameFromFirstCheckpoint()) ?? '';
    const choice = chooseTrust(this.#opts.trustedKey, meta, name, this.#findings);
    const head = readHead(await store.get(HEAD_KEY), this.#findings);
    const lastRecord = await store.last(recordKey(0), Uint8Array.of(PREFIX_RECORD + 1), (k) => recordKeyIndex(k) !== undefined);
    const lastBlock = await store.last(blockKey(0), Uint8Array.of(PREFIX_BLOCK + 1), (k) => blockKeyHeight(k) !== undefined);
    const recordCount = lastRecord ? (recordKeyIndex(lastRecord[0]) as number) + 1 : 0;
    const blockCount = lastBlock ? (blockKeyHeight(lastBlock[0]) as number) + 1 : 0;
    // A damaged head (its hash fails) does not get to stretch the tree.
    const storedSize = recordCount;
    const treeSize = Math.max(storedSize, head?.intact ? head.size : 0);
    return { trust: { name, verifier: choice.verifier }, choice, head, recordCount, storedSize, blockCount, treeSize };
  }

  /** The beginning, or the end of a checkpoint the caller trusts (once the stored tree is shown to extend it). */
  async #startingPoint(trust: Trust, treeSize: number, blockCount: number): Promise<Start> {
    const beginning: Start = { start: 0, frontier: [], ids: [], chain: GENESIS };
    if (this.#opts.from === undefined) return beginning;
    const store = this.#store;
    const from = await loadTrustedStart(store, this.#opts.from, trust, treeSize, this.#findings);
    const header = await checkTrustedHeader(store, this.#opts.from, trust, this.#findings);
    if (!from) return beginning;
    const prefix = await readTrustedPrefix(store, from, this.#findings, this.#opts.deviceKeys);
    if (!prefix) return beginning;
    const chain = await chainStartFor(store, from, trust, header, this.#findings);
    await checkConsistency(store, from, await this.#latestSigned(blockCount, trust), this.#findings);
    primeDevices(prefix, this.#devices);
    return { start: from.size, frontier: from.frontier, ids: rootPlan(from.size).ids, chain };
  }

  /**
   * Reads records and nodes in aligned chunks of 2^k leaves, hands each chunk to the
   * pool, and applies the results in order: block roots at their sizes, the upper tree
   * from chunk roots, device events.
   */
  async #stream(from: Start, treeSize: number, chain: BlockChain): Promise<void> {
    const store = this.#store;
    const k = this.#k;
    const width = this.#width;
    const { start } = from;
    const total = treeSize - start;
    const threshold = this.#opts.parallelThreshold ?? DEFAULT_PARALLEL_THRESHOLD;
    const workers = total >= threshold ? Math.max(0, Math.floor(this.#opts.workers ?? defaultWorkers())) : 0;
    // LevelDB opened by this audit: the workers read their chunks themselves, this thread only merges.
    const openRange = workers > 0 ? store.openRange() : undefined;
    const inThread = openRange && new ChunkReader(openRange);
    const pool = new ChunkPool(workers, openRange && inThread ? { location: store.sharedLocation, readInThread: (job) => inThread.read(job).catch((err: unknown) => Promise.reject(io(err, 'read'))) } : {});
    const reading = pool.reading;

    // The trusted frontier splits into the upper tree (whole chunks) and the first chunk's part.
    const base0 = Math.floor(start / width) * width;
    // frontier holds one hash per id: #startingPoint takes both from rootPlan(start).
    const upper = (i: number): boolean => from.ids[i]!.level >= k;
    let top = new CompactRange(base0 / width, from.frontier.filter((_, i) => upper(i)));
    let localFrontier = from.frontier.filter((_, i) => !upper(i));

    // This thread's cursors, when it reads the chunks (no workers, or a database given open or in file storage).
    const records = reading ? undefined : store.cursor(recordKey(start), Uint8Array.of(PREFIX_RECORD + 1));
    // Per level 0..k: a cursor over the stored nodes (none below MIN_STORED_LEVEL: format 4 stores none there).
    const levels: (Cursor | undefined)[] = [];
    if (!reading) for (let l = 0; l <= k; l++) levels.push(l < MIN_STORED_LEVEL ? undefined : store.cursor(nodeKey(l, Math.floor(start / 2 ** l)), nodeKey(l + 1, 0)));
    const probe = reading && openRange ? new NextStored(openRange) : undefined;
    const nextStored = async (at: number): Promise<number> => {
      if (records) return this.#nextStored(records, treeSize);
      try {
        return Math.min((await probe?.at(at)) ?? treeSize, treeSize);
      } catch (err) {
        throw io(err, 'read');
      }
    };
    try {
      this.#opts.onProgress?.(0, total);
      const inFlight: InFlight[] = [];
      // Results are applied in order, so a worker that is ahead would wait for a slower one's chunk:
      // reading workers hold little per queued chunk (they read it when they start it), so more queue.
      const maxInFlight = Math.max(2, (reading ? 8 : 3) * pool.threads);
      let seq = 0;
      // Time per record spent reading here and checking in workers, to balance the two.
      let readMs = 0;
      let checkMs = 0;
      for (let base = base0, at = start; at < treeSize || seq === 0; base += width) {
        // A run of whole chunks with nothing stored is one finding, not a pass over every index:
        // the work follows what is stored, whatever a head or a stray key claims.
        const gapEnd = this.#gapEnd(await nextStored(at), at, treeSize);
        if (gapEnd !== undefined) {
          while (inFlight.length > 0) await this.#absorb(inFlight.shift() as InFlight, top, chain, start, total);
          const after = await this.#skipGap(at, gapEnd, treeSize, [...top.hashes(), ...localFrontier], chain, start);
          if (!after) break;
          top = after;
          base = gapEnd - width;
          at = gapEnd;
          localFrontier = [];
          continue;
        }
        const end = Math.min(base + width, treeSize);
        const readStart = performance.now();
        await chain.ensure(end);
        const job: ChunkJob = {
          seq: seq++,
          level: k,
          base,
          start: at,
          end,
          frontier: localFrontier,
          sizes: chain.sizesIn(at, end),
          verify: true,
          keepEnvelopes: this.#opts.deviceKeys !== undefined,
        };
        if (records) {
          const pack = new PackBuilder();
          await this.#readRecords(records, end, pack.section());
          for (const [l, level] of levels.entries()) {
            const section = pack.section();
            if (level) await this.#readNodes(level, Math.floor(end / 2 ** l), section);
          }
          const [recordPack, ...nodePacks] = pack.build();
          job.records = recordPack; // the records' section, started first above
          job.nodes = nodePacks;
        }
        readMs = 0.8 * readMs + 0.2 * ((performance.now() - readStart) / Math.max(1, end - at));
        const result = pool.run(job);
        // Awaited in order by #absorb: one that fails while an earlier one is awaited, or after a
        // failure ended the audit, must not go unhandled (that ends the process: Node-RED with it).
        result.catch(() => undefined);
        inFlight.push({ result, base, start: at, end });
        while (inFlight.length >= maxInFlight) {
          const f = inFlight.shift() as InFlight;
          const res = await this.#absorb(f, top, chain, start, total);
          checkMs = 0.8 * checkMs + 0.2 * (res.ms / Math.max(1, f.end - f.start));
          // One checker per reader's worth of work: with few signatures one worker keeps
          // up and the other core stays with this thread; with many, all workers run.
          // Workers that read their own chunks all run.
          if (readMs > 0 && !reading) pool.active = Math.round(checkMs / readMs);
        }
        localFrontier = [];
        at = end;
      }
      while (inFlight.length > 0) await this.#absorb(inFlight.shift() as InFlight, top, chain, start, total);
    } finally {
      await pool.close();
      await Promise.all([
        records?.close(),
        ...levels.map((c) => c?.close()),
        ...[...this.#upper.values()].map((c) => c.close()),
        probe?.close(),
        inThread?.close(),
      ]);
    }
  }

  /**
   * Where a run of missing records starting at `at` ends, when it spans more than a chunk:
   * the start of the chunk holding the next stored record, `stored` (or the tree's end).
   */
  #gapEnd(stored: number, at: number, treeSize: number): number | undefined {
    if (stored - at <= this.#width) return undefined;
    return stored >= treeSize ? treeSize : Math.floor(stored / this.#width) * this.#width;
  }

  /** The next stored record at this thread's cursor (or the tree's end). */
  async #nextStored(records: Cursor, treeSize: number): Promise<number> {
    for (;;) {
      if (!records.ready) await records.fill();
      const e = records.peek();
      if (!e) return treeSize;
      const i = recordKeyIndex(e[0]);
      if (i !== undefined) return Math.min(i, treeSize);
      records.take(); // not a key of the format
    }
  }

  /**
   * Records [from, to) are all missing: one finding. The hashes over them are the stored nodes
   * that tile the run (a few per level, whatever its length), so the block roots in it and after
   * it are still recomputed and the nodes above it checked; a tile missing or damaged is rebuilt
   * from its children (#tileHash), and what none of them holds stays unknown. `frontier`: the
   * hashes of rootPlan(from).ids. Returns the upper tree at `to`, unless the tree ends there.
   */
  async #skipGap(from: number, to: number, treeSize: number, frontier: Uint8Array[], chain: BlockChain, start: number): Promise<CompactRange | undefined> {
    const n = to - from;
    this.#findings.add(recordPos(from), {
      kind: 'missing',
      index: from,
      detail: `records ${from}..${to - 1} are missing (${n} records)`,
    });
    const before = this.#lastBroken;
    const memo = new Map<string, Uint8Array | undefined>();
    const tileHashes = async (ids: NodeId[]): Promise<(Uint8Array | undefined)[]> => {
      const out: (Uint8Array | undefined)[] = [];
      for (const id of ids) out.push(await this.#tileHash(id, memo));
      return out;
    };
    await chain.ensure(to);
    for (const size of chain.sizesIn(from, to)) {
      if (before !== undefined) {
        chain.settle(size, undefined, `the hash of record ${before} is unknown`);
        continue;
      }
      const grown = new SubtreeFrontier(frontier);
      const ids = tiles(from, size);
      const hashes = await tileHashes(ids);
      ids.forEach((id, i) => grown.append(id, hashes[i]));
      const known = grown.known();
      chain.settle(size, known && rootPlan(size).rehash(known)[0], known ? undefined : `records ${from}..${to - 1} are missing`);
    }
    if (to >= treeSize) {
      this.#lastBroken = to - 1;
      return undefined;
    }
    const grown = new SubtreeFrontier(frontier);
    const ids = tiles(from, to);
    const hashes = await tileHashes(ids);
    for (const [i, id] of ids.entries()) {
      const hash = hashes[i];
      if (!hash) this.#lastBroken = Math.max(this.#lastBroken ?? 0, (id.index + 1) * 2 ** id.level - 1);
      const completed: [NodeId, Uint8Array][] = [];
      grown.append(id, hash, (parent, h) => {
        if (h && parent.level >= MIN_STORED_LEVEL) completed.push([parent, h]);
      });
      for (const [parent, h] of completed) await this.#checkUpper(parent.level, parent.index, h, start);
    }
    return new CompactRange(to / this.#width, grown.hashes.map((h) => h ?? UNKNOWN_HASH));
  }

  /**
   * The hash of subtree `id` over missing records: its stored node where intact, else (a finding
   * at the node, as inside a chunk) the hash of its two children found the same way, down to the
   * lowest stored level. `memo` holds what this run looked up, so each node is read and reported
   * once, and at most MAX_GAP_NODES are read per run.
   */
  async #tileHash(id: NodeId, memo: Map<string, Uint8Array | undefined>): Promise<Uint8Array | undefined> {
    const k = `${id.level}/${id.index}`;
    if (memo.has(k)) return memo.get(k);
    if (id.level < MIN_STORED_LEVEL || id.level > MAX_LEVEL || memo.size >= MAX_GAP_NODES) return undefined;
    memo.set(k, undefined);
    const key = nodeKey(id.level, id.index);
    const [value] = await this.#store.getMany([key]);
    const node = value && readNodeValue(key, value);
    if (node?.intact) {
      const hash = node.hash.slice();
      memo.set(k, hash);
      return hash;
    }
    const first = id.index * 2 ** id.level;
    const where = `node (level ${id.level}, index ${id.index}) over records ${first}..${first + 2 ** id.level - 1}`;
    if (node) this.#findings.add(nodePos(id.level, first), { kind: 'merkle-node', index: first, detail: `${where}: ${node.why}` });
    else this.#findings.add(nodePos(id.level, first), { kind: 'missing', index: first, detail: `${where} is missing` });
    if (id.level === MIN_STORED_LEVEL) return undefined;
    const left = await this.#tileHash({ level: id.level - 1, index: 2 * id.index }, memo);
    const right = left && (await this.#tileHash({ level: id.level - 1, index: 2 * id.index + 1 }, memo));
    const hash = left && right && nodeHash(left, right);
    memo.set(k, hash);
    return hash;
  }

  /** Applies one chunk's result, in chunk order. */
  async #absorb(f: InFlight, top: CompactRange, chain: BlockChain, start: number, total: number): Promise<ChunkResult> {
    const res = await f.result;
    this.#findings.addAll(res.findings);
    const before = this.#lastBroken;
    if (res.lastBroken !== undefined) this.#lastBroken = Math.max(this.#lastBroken ?? 0, res.lastBroken);
    const full = f.end - f.base === this.#width;
    const upper = top.hashes();
    const settle = (size: number, root: () => Uint8Array, unknown = this.#lastBroken): void => {
      const broken = unknown !== undefined && unknown < size;
      chain.settle(size, broken ? undefined : root(), broken ? `the hash of record ${unknown} is unknown` : undefined);
    };
    // Inside the chunk: the upper frontier (perfect subtrees before `base`) then the chunk's own.
    for (const { size, hashes, unknown } of res.frontiers) {
      if (!full || size < f.end) settle(size, () => rootPlan(size).rehash([...upper, ...hashes])[0], unknown ?? before);
    }
    if (full) {
      const completed: [NodeId, Uint8Array][] = [];
      top.append(res.root ?? UNKNOWN_HASH, (id, hash) => {
        if (id.level > 0) completed.push([id, hash]);
      });
      for (const [id, hash] of completed) await this.#checkUpper(id.level + this.#k, id.index, hash, start);
      // At the chunk's end the chunk root has merged into the upper tree.
      if (res.frontiers.some((x) => x.size === f.end)) settle(f.end, () => top.root());
    }
    await this.#summaries?.add(res.indexed);
    for (const ev of res.events) {
      this.#devices.apply(ev);
      this.#rules?.apply(ev);
    }
    this.#checked.records += res.checked.records;
    this.#checked.nodes += res.checked.nodes;
    this.#checked.signatures += res.checked.signatures;
    for (const [code, t] of Object.entries(res.security ?? {})) {
      const mine = (this.#security[code] ??= { records: 0, rejections: 0 });
      mine.records += t.records;
      mine.rejections += t.rejections;
    }
    this.#opts.onProgress?.(f.end - start, total);
    return res;
  }

  /** A node above the chunks, recomputed from chunk roots, against the stored one. */
  async #checkUpper(level: number, index: number, hash: Uint8Array, start: number): Promise<void> {
    let cursor = this.#upper.get(level);
    if (!cursor) {
      cursor = this.#store.cursor(nodeKey(level, Math.floor(start / 2 ** level)), nodeKey(level + 1, 0), 64);
      this.#upper.set(level, cursor);
    }
    let entry;
    while (true) {
      if (!cursor.ready) await cursor.fill();
      entry = cursor.peek();
      const at = entry && nodeKeyIndex(entry[0]);
      if (entry && (at === undefined || at < index)) {
        cursor.take();
        continue;
      }
      if (entry && at === index) cursor.take();
      else entry = undefined;
      break;
    }
    const first = index * 2 ** level;
    if (this.#lastBroken !== undefined && this.#lastBroken >= first) return;
    const where = `node (level ${level}, index ${index}) over records ${first}..${first + 2 ** level - 1}`;
    const add = (kind: string, detail: string): void => this.#findings.add(nodePos(level, first), { kind, index: first, detail });
    if (!entry) return add('missing', `${where} is missing`);
    this.#checked.nodes++;
    const node = readNodeValue(entry[0], entry[1]);
    if (!node.intact) add('merkle-node', `${where}: ${node.why}`);
    else if (!bytesEqual(node.hash, hash)) add('merkle-node', `${where} differs from the hash of its children`);
  }

  async #readRecords(cursor: Cursor, end: number, pack: PackBuilder): Promise<void> {
    while (true) {
      if (!cursor.ready) await cursor.fill();
      const e = cursor.peek();
      if (!e) break;
      const index = recordKeyIndex(e[0]);
      if (index === undefined) {
        cursor.take();
        continue; // not a record key (wrong length): not part of the format
      }
      if (index >= end) break;
      cursor.take();
      pack.push(index, e[1]);
    }
  }

  async #readNodes(cursor: Cursor, limit: number, pack: PackBuilder): Promise<void> {
    while (true) {
      if (!cursor.ready) await cursor.fill();
      const e = cursor.peek();
      if (!e) break;
      const index = nodeKeyIndex(e[0]);
      if (index === undefined) {
        cursor.take();
        continue;
      }
      if (index >= limit) break;
      cursor.take();
      pack.push(index, e[1]);
    }
  }

  /** Stored nodes that no tree of `treeSize` leaves has. */
  async #nodesBeyond(treeSize: number): Promise<void> {
    for (let level = MIN_STORED_LEVEL; level <= MAX_LEVEL; level++) {
      const e = await this.#store.first(nodeKey(level, Math.floor(treeSize / 2 ** level)), nodeKey(level + 1, 0), (k) => nodeKeyIndex(k) !== undefined);
      const index = e && nodeKeyIndex(e[0]);
      if (index === undefined) continue;
      const first = index * 2 ** level;
      this.#findings.add(recordPos(Math.min(first, treeSize)), {
        kind: 'merkle-node',
        index: first,
        detail: `stored node (level ${level}, index ${index}) lies beyond the tree of ${treeSize} records`,
      });
    }
  }

  /** Keys of nodes below MIN_STORED_LEVEL: a format 4 ledger stores none (their hashes come from the records). */
  async #lowNodes(): Promise<void> {
    for (let level = 0; level < MIN_STORED_LEVEL; level++) {
      const cursor = this.#store.cursor(nodeKey(level, 0), nodeKey(level + 1, 0), 64);
      try {
        for (;;) {
          const e = await cursor.next();
          if (!e) break;
          const index = nodeKeyIndex(e[0]);
          if (index === undefined) continue; // not a key of the format (keys of other shapes are skipped everywhere)
          const first = index * 2 ** level;
          this.#findings.add(nodePos(level, first), {
            kind: 'merkle-node',
            index: first,
            detail: `stored node (level ${level}, index ${index}): format ${FORMAT_VERSION} stores no node below level ${MIN_STORED_LEVEL} (its hash comes from the records)`,
          });
        }
      } finally {
        await cursor.close();
      }
    }
  }

  /** The latest block whose checkpoint verifies (looking back a few blocks). */
  async #latestSigned(blocks: number, trust: Trust): Promise<Block | undefined> {
    let latest: Block | undefined;
    for (let h = blocks - 1; h >= 0 && h >= blocks - 8; h--) {
      const value = await this.#store.get(blockKey(h));
      if (!value) continue;
      const b = readBlock(h, value, trust);
      latest ??= b;
      if (b.signed) return b;
    }
    return latest;
  }

  /** When the meta is unreadable: the origin of block 0's checkpoint names the ledger. */
  async #nameFromFirstCheckpoint(): Promise<string | undefined> {
    try {
      const value = await this.#store.get(blockKey(0));
      if (!value) return undefined;
      const v = decodeCbor(value, { canonical: false }) as { checkpoint?: unknown };
      return typeof v.checkpoint === 'string' ? openCheckpoint(v.checkpoint).origin : undefined;
    } catch {
      return undefined;
    }
  }
}

function summariseSecurity(tally: SecurityTally): AuditReport['security'] {
  const out: AuditReport['security'] = { records: 0, rejections: 0, byCode: {} };
  for (const [code, t] of Object.entries(tally).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    out.records += t.records;
    out.rejections += t.rejections;
    out.byCode[code] = t.rejections;
  }
  return out;
}
