// Storage backends side by side: the file store (lib/storage/file-db) against LevelDB.
//  1. synced batches of 64 records' puts (exactly the keys and values the ledger writes),
//  2. Ledger.append from 64 concurrent appenders (group commit above the storage),
//  3. the file store's in-memory index: bytes per record after opening (replaying) a store of
//     100k and of 1M records (readings of 8 devices),
//     and the time that open takes.
// `npm run bench storage`; BENCH_STORAGE_LARGE=0 skips the 1M-record store.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { generateKey, keyToDid, privateKeyFromBytes } from '../lib/crypto';
import { Ledger, type RecordInput } from '../lib/ledger';
import { emptyTip, planWrite, type Tip } from '../lib/ledger/commit';
import { recordFromInput } from '../lib/ledger/record';
import { FileDb } from '../lib/storage/file-db';
import { openStorage, STORAGE_ENV } from '../lib/storage/open';
import type { Db, StorageKind } from '../lib/storage/types';
import { printFigures, type Figure } from './harness';

const BATCH = 64;
const gatewayKey = privateKeyFromBytes('Ed25519', new Uint8Array(32).fill(7));
const devices = Array.from({ length: 8 }, () => keyToDid(generateKey('Ed25519')));

function reading(i: number): RecordInput {
  const data = new Uint8Array(120);
  data.fill(i & 0xff);
  return { type: 'reading', device: devices[i % devices.length], body: { seq: i, data } };
}

const tmpDir = (tag: string): string => fs.mkdtempSync(path.join(os.tmpdir(), `iot-ledger-bench-${tag}-`));
const seconds = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e9;

/** The puts of `count` records, planned as the ledger plans them, in groups of `per` records. */
function* plannedBatches(count: number, per: number): Generator<[Buffer, Buffer][]> {
  let tip: Tip = emptyTip();
  const settings = { name: 'bench', key: gatewayKey, blockRecords: 1000, now: () => 1765000000000 };
  for (let i = 0; i < count; i += per) {
    const puts: [Buffer, Buffer][] = [];
    const jobs = [];
    for (let j = i; j < Math.min(count, i + per); j++) jobs.push({ kind: 'append' as const, records: [recordFromInput(reading(j), 1765000000000 + j, 65536)] });
    tip = planWrite(tip, jobs, settings, { put: (k, v) => puts.push([k, v]) }).tip;
    yield puts;
  }
}

async function openKind(dir: string, kind: StorageKind): Promise<Db> {
  return (await openStorage(dir, { create: true, kind })).db;
}

/** Synced batches of 64 records' puts, prepared beforehand; records per second. */
async function syncedBatches(kind: StorageKind, count: number): Promise<number> {
  const batches = [...plannedBatches(count, BATCH)];
  const dir = tmpDir(kind);
  const db = await openKind(dir, kind);
  const start = process.hrtime.bigint();
  for (const puts of batches) {
    const b = db.batch();
    for (const [k, v] of puts) b.put(k, v);
    await b.write({ sync: true });
  }
  const rate = count / seconds(start);
  await db.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return rate;
}

/** Ledger.append from 64 concurrent appenders; records per second. */
async function ledgerAppends(kind: StorageKind, count: number): Promise<number> {
  const dir = tmpDir(`ledger-${kind}`);
  const before = process.env[STORAGE_ENV];
  process.env[STORAGE_ENV] = kind;
  const ledger = await Ledger.open(dir, { name: 'bench', gatewayKey });
  if (before === undefined) delete process.env[STORAGE_ENV];
  else process.env[STORAGE_ENV] = before;
  let next = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: BATCH }, async () => {
      while (next < count) await ledger.append(reading(next++));
    }),
  );
  const rate = count / seconds(start);
  await ledger.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return rate;
}

/** Opens the store in a fresh process and measures what the open adds to its heap and array buffers. */
function measureOpen(dir: string): { heap: number; arrayBuffers: number; estimate: number; openSeconds: number } {
  const mod = path.join(__dirname, '..', 'lib', 'storage', 'file-db.js');
  const script = `
    const { FileDb } = require(${JSON.stringify(mod)});
    const settle = async () => { for (let i = 0; i < 3; i++) { global.gc(); await new Promise((r) => setTimeout(r, 50)); } };
    (async () => {
      await settle();
      const m0 = process.memoryUsage();
      const t = process.hrtime.bigint();
      const db = await FileDb.open(${JSON.stringify(dir)});
      const openSeconds = Number(process.hrtime.bigint() - t) / 1e9;
      await settle();
      const m1 = process.memoryUsage();
      console.log(JSON.stringify({ heap: m1.heapUsed - m0.heapUsed, arrayBuffers: m1.arrayBuffers - m0.arrayBuffers, estimate: db.indexBytes, openSeconds }));
      await db.close();
    })();`;
  const r = spawnSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`measuring the open failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { heap: number; arrayBuffers: number; estimate: number; openSeconds: number };
}

/** Writes `count` records into a file store, then measures the index an open of it builds (in a fresh process). */
async function indexFootprint(count: number): Promise<{ heap: number; arrayBuffers: number; estimate: number; openSeconds: number; disk: number }> {
  const dir = tmpDir(`index-${count}`);
  const db = await FileDb.open(dir, { create: true });
  for (const puts of plannedBatches(count, 4096)) await db.batch(puts.map(([key, value]) => ({ type: 'put' as const, key, value })), { sync: false });
  await db.close();
  let disk = 0;
  for (const f of fs.readdirSync(dir)) disk += fs.statSync(path.join(dir, f)).size;
  const m = measureOpen(dir);
  fs.rmSync(dir, { recursive: true, force: true });
  return { heap: m.heap / count, arrayBuffers: m.arrayBuffers / count, estimate: m.estimate / count, openSeconds: m.openSeconds, disk: disk / count };
}

export async function benchStorage(): Promise<void> {
  const n = Number(process.env.BENCH_STORAGE_RECORDS ?? 20_000);
  const figures: Figure[] = [
    { name: `synced batches of ${BATCH} records' puts (${n.toLocaleString('en-US')} records), file store vs LevelDB`, ours: await syncedBatches('file', n), baseline: await syncedBatches('leveldb', n), unit: 'records/s' },
    { name: `Ledger.append, ${BATCH} concurrent appenders (${n.toLocaleString('en-US')} records), file store vs LevelDB`, ours: await ledgerAppends('file', n), baseline: await ledgerAppends('leveldb', n), unit: 'records/s' },
  ];
  printFigures('Storage: file store (ours) against LevelDB (baseline)', figures);
  console.log('\nFile store index after open (replay), measured in a fresh process: bytes per record of heap and of array buffers (typed arrays), their sum, the estimate from the structures, open time, bytes on disk per record');
  console.log('| records | heap B/record | typed arrays B/record | index B/record | (estimate) | open (replay) | disk B/record |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|');
  const sizes = process.env.BENCH_STORAGE_LARGE === '0' ? [100_000] : [100_000, 1_000_000];
  for (const size of sizes) {
    const r = await indexFootprint(size);
    console.log(
      `| ${size.toLocaleString('en-US')} | ${Math.round(r.heap)} | ${Math.round(r.arrayBuffers)} | ${Math.round(r.heap + r.arrayBuffers)} | ${Math.round(r.estimate)} | ${r.openSeconds.toFixed(2)} s | ${Math.round(r.disk)} |`,
    );
  }
}
