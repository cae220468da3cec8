// Ledger benchmarks: durable append throughput, memory while appending, open time and
// proof generation, each beside a raw classic-level baseline measured in the same run.
//
// BENCH_RECORDS (default 1000000) sets the size of the large ledger (memory, open, proofs).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { ClassicLevel } from 'classic-level';
import { privateKeyFromBytes } from '../lib/crypto';
import { Ledger, type RecordInput } from '../lib/ledger';
import { emptyTip, planWrite, type Tip } from '../lib/ledger/commit';
import { recordKey, nodeKey } from '../lib/ledger/layout';
import { recordFromInput } from '../lib/ledger/record';
import { inclusionPlan } from '../lib/merkle';
import { printFigures, type Figure } from './harness';

const APPENDERS = 64;
const THROUGHPUT_RECORDS = 100_000;
// A fixed key, so that the RSS child process and this one open the same ledger.
const gatewayKey = privateKeyFromBytes('Ed25519', new Uint8Array(32).fill(7));

type Db = ClassicLevel<Buffer, Buffer>;

/** A reading whose body is 200 bytes of CBOR (canonical record: about 230 bytes). */
function reading(i: number): RecordInput {
  const data = new Uint8Array(183);
  data.fill(i & 0xff);
  return { type: 'reading', body: { seq: i, data } };
}

function tmpDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `iot-ledger-bench-${tag}-`));
}

const seconds = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e9;

function gcFunction(): (() => void) | undefined {
  try {
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}

/** Appends `count` readings from `APPENDERS` concurrent appenders; returns records per second. */
async function appendConcurrently(ledger: Ledger, count: number, onProgress?: (done: number) => void): Promise<number> {
  let next = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: APPENDERS }, async () => {
      while (next < count) {
        await ledger.append(reading(next++));
        if ((next & 0x3fff) === 0) onProgress?.(next);
      }
    }),
  );
  return count / seconds(start);
}

async function openRaw(dir: string): Promise<Db> {
  const db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  return db;
}

/** Raw baseline: the records' canonical bytes under `r` keys, in synced batches of APPENDERS. */
async function rawRecords(count: number, onProgress?: (done: number) => void): Promise<number> {
  const dir = tmpDir('raw');
  const db = await openRaw(dir);
  const time = Date.now();
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i += APPENDERS) {
    const batch = db.batch();
    for (let j = i; j < Math.min(count, i + APPENDERS); j++) {
      batch.put(recordKey(j), Buffer.from(recordFromInput(reading(j), time, 65536).bytes));
    }
    await batch.write({ sync: true });
    if ((i & 0x3fff) === 0) onProgress?.(i);
  }
  const rate = count / seconds(start);
  await db.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return rate;
}

/**
 * Raw baseline with exactly the puts the ledger makes (records, Merkle nodes, blocks and
 * their summaries, head), prepared beforehand, in synced batches of APPENDERS records.
 */
async function rawSamePuts(count: number): Promise<number> {
  const batches: [Buffer, Buffer][][] = [];
  let tip: Tip = emptyTip();
  const settings = { name: 'bench', key: gatewayKey, blockRecords: 1000, now: Date.now };
  for (let i = 0; i < count; i += APPENDERS) {
    const puts: [Buffer, Buffer][] = [];
    const jobs = [];
    for (let j = i; j < Math.min(count, i + APPENDERS); j++)
      jobs.push({ kind: 'append' as const, records: [recordFromInput(reading(j), Date.now(), 65536)] });
    tip = planWrite(tip, jobs, settings, { put: (k, v) => puts.push([k, v]) }).tip;
    batches.push(puts);
  }
  const dir = tmpDir('same');
  const db = await openRaw(dir);
  const start = process.hrtime.bigint();
  for (const puts of batches) {
    const batch = db.batch();
    for (const [k, v] of puts) batch.put(k, v);
    await batch.write({ sync: true });
  }
  const rate = count / seconds(start);
  await db.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return rate;
}

interface RssGrowth {
  /** Peak RSS minus RSS before the first record, MB. */
  growthMb: number;
  /** Mean RSS over the last tenth of the records minus that over the second tenth, MB: what grows with size. */
  lateGrowthMb: number;
  /** At the end: V8 heap committed, and the RSS split of /proc/self/status (anonymous, file-backed), MB. */
  end?: { heapMb: number; anonMb: number; fileMb: number };
}

function endOfRun(): { heapMb: number; anonMb: number; fileMb: number } {
  const mb = (field: string, status: string): number => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN) / 1024;
  let status = '';
  try {
    status = fs.readFileSync('/proc/self/status', 'utf8');
  } catch {
    // not Linux: only the heap figure
  }
  return { heapMb: process.memoryUsage().heapTotal / 2 ** 20, anonMb: mb('RssAnon', status), fileMb: mb('RssFile', status) };
}

/** RSS growth while `run` writes `count` records, sampled on every progress call and every 20 ms. */
async function rssGrowth(count: number, run: (progress: (done: number) => void) => Promise<unknown>): Promise<RssGrowth> {
  gcFunction()?.();
  const base = process.memoryUsage.rss();
  let peak = base;
  let done = 0;
  const tenths: number[][] = Array.from({ length: 10 }, () => []);
  const sample = (): void => {
    const rss = process.memoryUsage.rss();
    peak = Math.max(peak, rss);
    tenths[Math.min(9, Math.floor((done / count) * 10))].push(rss);
  };
  const timer = setInterval(sample, 20);
  try {
    await run((n) => {
      done = n;
      sample();
    });
  } finally {
    clearInterval(timer);
  }
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  return { growthMb: (peak - base) / 2 ** 20, lateGrowthMb: (mean(tenths[9]) - mean(tenths[1])) / 2 ** 20, end: endOfRun() };
}

/**
 * Measures RSS growth in a fresh process (RSS never shrinks, so earlier phases of this one
 * would hide it): `ours` appends `count` records to a new ledger in `dir`, `raw` writes them
 * with raw synced batches.
 */
function rssInChild(kind: 'ours' | 'raw', dir: string, count: number): RssGrowth & { rate: number } {
  const r = spawnSync(process.execPath, [__filename, '--rss-child', kind, dir, String(count)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`RSS child failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as RssGrowth & { rate: number };
}

async function rssChild(kind: string, dir: string, count: number): Promise<void> {
  let rate = 0;
  let growth: RssGrowth;
  if (kind === 'ours') {
    const ledger = await Ledger.open(dir, { name: 'bench.example/big', gatewayKey });
    growth = await rssGrowth(count, async (progress) => {
      rate = await appendConcurrently(ledger, count, progress);
    });
    await ledger.close();
  } else {
    growth = await rssGrowth(count, async (progress) => {
      rate = await rawRecords(count, progress);
    });
  }
  process.stdout.write(`${JSON.stringify({ ...growth, rate })}\n`);
}

async function medianOpenMs(dir: string, runs = 7): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    const l = await Ledger.open(dir, { gatewayKey });
    times.push(seconds(start) * 1000);
    await l.close();
  }
  return median(times);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** `only` runs one entry: 'tput' the 64-appender throughput, 'rss' the memory while appending the large ledger. */
export async function benchLedger(only?: 'tput' | 'rss'): Promise<Figure[]> {
  const large = Number(process.env.BENCH_RECORDS ?? 1_000_000);
  const figures: Figure[] = [];
  const dirs: string[] = [];
  try {
    // 1. durable append throughput
    if (only !== 'rss') {
      const dir = tmpDir('tput');
      dirs.push(dir);
      const ledger = await Ledger.open(dir, { name: 'bench.example/tput', gatewayKey });
      const ours = await appendConcurrently(ledger, THROUGHPUT_RECORDS);
      await ledger.close();
      const rawRate = await rawRecords(THROUGHPUT_RECORDS);
      const sameRate = await rawSamePuts(THROUGHPUT_RECORDS);
      figures.push({
        name: `durable appends, ${APPENDERS} appenders, 200-byte bodies, ${THROUGHPUT_RECORDS / 1000}k (raw: records only, synced batches of ${APPENDERS})`,
        ours,
        baseline: rawRate,
        unit: 'rec/s',
        target: '>= 0.7',
      });
      figures.push({
        name: 'same, raw baseline writing exactly the ledger\'s puts (records, nodes, blocks, summaries, head)',
        ours,
        baseline: sameRate,
        unit: 'rec/s',
        target: 'informative',
      });
    }
    if (only === 'tput') return figures;

    // 2. memory while appending the large ledger
    const bigDir = tmpDir('big');
    dirs.push(bigDir);
    const oursRss = rssInChild('ours', bigDir, large);
    const rawRss = rssInChild('raw', '', large);
    figures.push({
      name: `RSS growth while appending ${large.toLocaleString('en-US')} records (ours at ${Math.round(oursRss.rate).toLocaleString('en-US')} rec/s, raw at ${Math.round(rawRss.rate).toLocaleString('en-US')})`,
      ours: oursRss.growthMb,
      baseline: rawRss.growthMb,
      unit: 'MB',
      target: '< 48 MB',
    });
    figures.push({
      name: 'RSS growth with size: mean RSS over the last tenth of those records minus over the second tenth',
      ours: oursRss.lateGrowthMb,
      baseline: rawRss.lateGrowthMb,
      unit: 'MB',
      target: 'flat',
    });
    if (only === 'rss') {
      for (const [kind, r] of [['ours', oursRss], ['raw', rawRss]] as const)
        if (r.end) console.log(`${kind} at the end: V8 heap ${r.end.heapMb.toFixed(1)} MB, RssAnon ${r.end.anonMb.toFixed(1)} MB, RssFile ${r.end.fileMb.toFixed(1)} MB`);
      return figures;
    }

    // 3. open time: large ledger vs 1k
    const smallDir = tmpDir('small');
    dirs.push(smallDir);
    const small = await Ledger.open(smallDir, { name: 'bench.example/small', gatewayKey });
    await appendConcurrently(small, 1000);
    await small.close();
    figures.push({
      name: `open time, ${large.toLocaleString('en-US')} records vs 1,000`,
      ours: await medianOpenMs(bigDir),
      baseline: await medianOpenMs(smallDir),
      unit: 'ms',
      target: 'ratio <= 3',
    });

    // 4. inclusion proof generation at the large size, vs the raw reads it needs
    const reader = await Ledger.open(bigDir, { readOnly: true });
    const size = reader.size;
    const proofTimes: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const index = Math.floor(Math.random() * size);
      const start = process.hrtime.bigint();
      await reader.inclusionProof(index, size);
      proofTimes.push(seconds(start) * 1000);
    }
    await reader.close();
    const raw = await openRaw(bigDir);
    const readTimes: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const keys = inclusionPlan(Math.floor(Math.random() * size), size).ids.map((id) => nodeKey(id.level, id.index));
      const start = process.hrtime.bigint();
      await raw.getMany(keys);
      readTimes.push(seconds(start) * 1000);
    }
    await raw.close();
    figures.push({
      name: `inclusion proof at ${size.toLocaleString('en-US')} records, median (raw: getMany of its nodes)`,
      ours: median(proofTimes),
      baseline: median(readTimes),
      unit: 'ms',
      target: '< 1 ms',
    });
  } finally {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    printFigures('## Ledger', figures);
  }
  return figures;
}

if (require.main === module) {
  const [flag, kind, dir, count] = process.argv.slice(2);
  (flag === '--rss-child' ? rssChild(kind, dir, Number(count)) : benchLedger()).catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
