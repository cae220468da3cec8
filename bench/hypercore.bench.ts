// Side by side with hypercore 11 (Holepunch's signed append-only Merkle log), in this
// process, alternating rounds: batch appends, concurrent single appends, and an inclusion
// proof produced and verified. hypercore is a devDependency of this bench only.
//
// Durability, per acknowledgement (stated in bench/RESULTS.md too):
// - ours: every append resolves after a LevelDB write with sync: true (fdatasync of the WAL).
// - hypercore (default): append resolves after RocksDB has the batch in its WAL, unsynced:
//   the acknowledgement sits in the page cache and a power cut can take it.
// - hypercore + fdatasync: after each append resolves, this bench fdatasyncs RocksDB's
//   current WAL file (the newest *.log in its db directory): the same durability as ours,
//   emulated from outside, one sync per append call.
//
// BENCH_HC_RECORDS (default 32,000) sets the records per round, BENCH_HC_PROOF_RECORDS
// (default 100,000) the size of the logs the proofs are taken from.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { privateKeyFromBytes } from '../lib/crypto';
import { Ledger, verifyProofBundle, type RecordInput } from '../lib/ledger';
import { recordFromInput } from '../lib/ledger/record';
import { printFigures, type Figure } from './harness';

interface HypercoreProof {
  block: { index: number; value: Uint8Array | null; nodes: unknown[] } | null;
}
interface Hypercore {
  length: number;
  ready(): Promise<void>;
  append(blocks: Buffer | Buffer[]): Promise<{ length: number }>;
  proof(opts: { block: { index: number; nodes: number }; upgrade: { start: number; length: number } }): Promise<HypercoreProof>;
  verifyFullyRemote(proof: HypercoreProof): Promise<unknown>;
  close(): Promise<void>;
}
type HypercoreCtor = new (dir: string) => Hypercore;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const HypercoreClass = require('hypercore') as HypercoreCtor;

const BATCH = 64;
const gatewayKey = privateKeyFromBytes('Ed25519', new Uint8Array(32).fill(7));

function reading(i: number): RecordInput {
  const data = new Uint8Array(183);
  data.fill(i & 0xff);
  return { type: 'reading', body: { seq: i, data } };
}

const tmpDir = (tag: string): string => fs.mkdtempSync(path.join(os.tmpdir(), `iot-ledger-bench-hc-${tag}-`));
const seconds = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e9;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The same records as hypercore blocks: their canonical bytes, encoded beforehand. */
function recordBytes(count: number): Buffer[] {
  const time = Date.now();
  return Array.from({ length: count }, (_, i) => Buffer.from(recordFromInput(reading(i), time, 65536).bytes));
}

/** fdatasync of RocksDB's current WAL (the newest *.log) under a hypercore directory. */
function syncWal(dir: string): void {
  const db = path.join(dir, 'db');
  const logs = fs.readdirSync(db).filter((f) => f.endsWith('.log')).sort();
  const fd = fs.openSync(path.join(db, logs[logs.length - 1]), 'r');
  try {
    fs.fdatasyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

async function oursBatches(count: number): Promise<number> {
  const dir = tmpDir('ours');
  const ledger = await Ledger.open(dir, { name: 'bench.example/hc', gatewayKey });
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i += BATCH) {
    const batch: RecordInput[] = [];
    for (let j = i; j < i + BATCH; j++) batch.push(reading(j));
    await ledger.appendMany(batch);
  }
  const rate = count / seconds(start);
  await ledger.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return rate;
}

async function hypercoreBatches(blocks: Buffer[], fsync: boolean): Promise<number> {
  const dir = tmpDir('core');
  const core = new HypercoreClass(dir);
  await core.ready();
  const start = process.hrtime.bigint();
  for (let i = 0; i < blocks.length; i += BATCH) {
    await core.append(blocks.slice(i, i + BATCH));
    if (fsync) syncWal(dir);
  }
  const rate = blocks.length / seconds(start);
  await core.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return rate;
}

/** `appenders` concurrent callers, each awaiting its single append before the next. */
async function concurrently(count: number, appenders: number, append: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: appenders }, async () => {
      while (next < count) await append(next++);
    }),
  );
  return count / seconds(start);
}

async function oursSingles(count: number): Promise<number> {
  const dir = tmpDir('ours1');
  const ledger = await Ledger.open(dir, { name: 'bench.example/hc', gatewayKey });
  const rate = await concurrently(count, BATCH, (i) => ledger.append(reading(i)));
  await ledger.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return rate;
}

async function hypercoreSingles(blocks: Buffer[]): Promise<number> {
  const dir = tmpDir('core1');
  const core = new HypercoreClass(dir);
  await core.ready();
  const rate = await concurrently(blocks.length, BATCH, (i) => core.append(blocks[i]));
  await core.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return rate;
}

interface ProofTimes {
  produce: number;
  verify: number;
  both: number;
}

/** Median per-proof times (ms) at random indexes of a log of `size` records, produce then verify. */
async function proofTimes(n: number, size: number, produce: (index: number) => Promise<unknown>, verify: (p: unknown) => unknown): Promise<ProofTimes> {
  const p: number[] = [];
  const v: number[] = [];
  const both: number[] = [];
  for (let i = 0; i < n; i++) {
    const index = Math.floor(Math.random() * size);
    const t0 = process.hrtime.bigint();
    const proof = await produce(index);
    const t1 = process.hrtime.bigint();
    await verify(proof);
    const t2 = process.hrtime.bigint();
    p.push(Number(t1 - t0) / 1e6);
    v.push(Number(t2 - t1) / 1e6);
    both.push(Number(t2 - t0) / 1e6);
  }
  return { produce: median(p), verify: median(v), both: median(both) };
}

export async function benchHypercore(): Promise<Figure[]> {
  const count = Number(process.env.BENCH_HC_RECORDS ?? 32_000);
  const proofSize = Number(process.env.BENCH_HC_PROOF_RECORDS ?? 100_000);
  const blocks = recordBytes(count);
  const figures: Figure[] = [];

  // 1. batches of 64, three alternating rounds each, medians.
  const ours: number[] = [];
  const plain: number[] = [];
  const synced: number[] = [];
  for (let round = 0; round < 3; round++) {
    ours.push(await oursBatches(count));
    plain.push(await hypercoreBatches(blocks, false));
    synced.push(await hypercoreBatches(blocks, true));
  }
  const rounds = `rounds: ours ${ours.map(Math.round).join(', ')}; hypercore ${plain.map(Math.round).join(', ')}; hypercore+fdatasync ${synced.map(Math.round).join(', ')}`;
  figures.push({
    name: `durable batch append, appendMany(${BATCH}) x ${count / BATCH} vs hypercore append([${BATCH}]) + fdatasync of its WAL per batch, same records, median of 3`,
    ours: median(ours),
    baseline: median(synced),
    unit: 'rec/s',
    target: '>= 1.5',
  });
  figures.push({
    name: `same vs hypercore's default (no fsync: acknowledged from the page cache)`,
    ours: median(ours),
    baseline: median(plain),
    unit: 'rec/s',
    target: '>= 1.0',
  });

  // 2. 64 concurrent single appends (ours durable, hypercore default), one round each.
  const singles = Math.min(count, 16_000);
  figures.push({
    name: `${BATCH} concurrent single appends, ${singles.toLocaleString('en-US')} records (ours synced, hypercore default: unsynced)`,
    ours: await oursSingles(singles),
    baseline: await hypercoreSingles(blocks.slice(0, singles)),
    unit: 'rec/s',
    target: 'informative',
  });

  // 3. inclusion proofs at random indexes of logs of proofSize records.
  const ledgerDir = tmpDir('proof-ours');
  const coreDir = tmpDir('proof-core');
  try {
    const ledger = await Ledger.open(ledgerDir, { name: 'bench.example/proof', gatewayKey, blockRecords: 1000, blockSeconds: 0 });
    const core = new HypercoreClass(coreDir);
    await core.ready();
    const all = recordBytes(proofSize);
    for (let i = 0; i < proofSize; i += 1000) {
      const batch: RecordInput[] = [];
      for (let j = i; j < Math.min(proofSize, i + 1000); j++) batch.push(reading(j));
      await ledger.appendMany(batch);
      await core.append(all.slice(i, i + 1000));
    }
    await ledger.seal();
    const height = ledger.height - 1;
    const size = ledger.size;
    const key = ledger.verifierKey;
    const oursProof = (index: number): Promise<unknown> => ledger.proofBundle(index, height);
    const oursVerify = (b: unknown): unknown => verifyProofBundle(b, key);
    const coreProof = (index: number): Promise<unknown> => core.proof({ block: { index, nodes: 0 }, upgrade: { start: 0, length: core.length } });
    const coreVerify = (p: unknown): Promise<unknown> => core.verifyFullyRemote(p as HypercoreProof);
    await proofTimes(200, size, oursProof, oursVerify);
    await proofTimes(200, size, coreProof, coreVerify);
    const o: ProofTimes[] = [];
    const h: ProofTimes[] = [];
    for (let round = 0; round < 3; round++) {
      o.push(await proofTimes(1000, size, oursProof, oursVerify));
      h.push(await proofTimes(1000, size, coreProof, coreVerify));
    }
    const pick = (xs: ProofTimes[], k: keyof ProofTimes): number => median(xs.map((x) => x[k]));
    figures.push({
      name: `inclusion proof produce + verify at ${size.toLocaleString('en-US')} records, median (proofBundle + verifyProofBundle vs hypercore proof + verifyFullyRemote)`,
      ours: pick(o, 'both'),
      baseline: pick(h, 'both'),
      unit: 'ms',
      target: '<= 1.0',
    });
    figures.push({ name: 'same, produce only', ours: pick(o, 'produce'), baseline: pick(h, 'produce'), unit: 'ms', target: 'informative' });
    figures.push({
      name: 'same, verify only (ours: checkpoint signature checked once per note and key, then remembered; hypercore verifies its signature per proof)',
      ours: pick(o, 'verify'),
      baseline: pick(h, 'verify'),
      unit: 'ms',
      target: 'informative',
    });
    await ledger.close();
    await core.close();
  } finally {
    fs.rmSync(ledgerDir, { recursive: true, force: true });
    fs.rmSync(coreDir, { recursive: true, force: true });
  }
  printFigures('## Against hypercore 11', figures);
  console.log(rounds);
  return figures;
}

if (require.main === module) {
  benchHypercore().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
