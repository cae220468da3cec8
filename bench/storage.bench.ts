// Storage backends side by side: the file store (lib/storage/file-db) against LevelDB.
//  1. synced batches of 64 records' puts (exactly the keys and values the ledger writes),
//  2. Ledger.append from 64 concurrent appenders (group commit above the storage),
//  3. the file store's in-memory index: bytes per record after opening (replaying) a store of
//     100k and of 1M records (readings of 8 devices, so device index entries are included),
//     and the time that open takes.
// `npm run bench storage`; BENCH_STORAGE_LARGE=0 skips the 1M-record store.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { generateKey, keyToDid, privateKeyFromBytes } from '../lib/crypto';
import { Ledger, type RecordInput } from '../lib/ledger';
import { planWrite, type Tip } from '../lib/ledger/commit';
import { recordFromInput } from '../lib/ledger/record';
import { CompactRange } from '../lib/merkle';
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

/** Full collections until the heap settles (one is not always enough to free a large replay's garbage). */
async function gc(): Promise<void> {
  let collect: (() => void) | undefined;
  try {
    v8.setFlagsFromString('--expose-gc');
    collect = vm.runInNewContext('gc') as () => void;
  } catch {
    return; // no gc: figures are noisier
  }
  for (let i = 0; i < 3; i++) {
    collect();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The puts of `count` records, planned as the ledger plans them, in groups of `per` records. */
function* plannedBatches(count: number, per: number): Generator<[Buffer, Buffer][]> {
  let tip: Tip = { head: { size: 0, height: 0, blockFirst: 0 }, frontier: new CompactRange(), last: null };
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

const memory = (): number => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

/** Writes `count` records into a file store, then measures the index an open of it builds. */
async function indexFootprint(count: number): Promise<{ bytesPerRecord: number; estimate: number; openSeconds: number; diskBytesPerRecord: number }> {
  const dir = tmpDir(`index-${count}`);
  let db = await FileDb.open(dir, { create: true });
  for (const puts of plannedBatches(count, 4096)) await db.batch(puts.map(([key, value]) => ({ type: 'put' as const, key, value })), { sync: false });
  await db.close();
  let disk = 0;
  for (const f of fs.readdirSync(dir)) disk += fs.statSync(path.join(dir, f)).size;
  await gc();
  const base = memory();
  const start = process.hrtime.bigint();
  db = await FileDb.open(dir);
  const openSeconds = seconds(start);
  await gc();
  const used = memory() - base;
  const estimate = db.indexBytes / count;
  await db.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return { bytesPerRecord: used / count, estimate, openSeconds, diskBytesPerRecord: disk / count };
}

export async function benchStorage(): Promise<void> {
  const n = Number(process.env.BENCH_STORAGE_RECORDS ?? 20_000);
  const figures: Figure[] = [
    { name: `synced batches of ${BATCH} records' puts (${n.toLocaleString('en-US')} records), file store vs LevelDB`, ours: await syncedBatches('file', n), baseline: await syncedBatches('leveldb', n), unit: 'records/s' },
    { name: `Ledger.append, ${BATCH} concurrent appenders (${n.toLocaleString('en-US')} records), file store vs LevelDB`, ours: await ledgerAppends('file', n), baseline: await ledgerAppends('leveldb', n), unit: 'records/s' },
  ];
  printFigures('Storage: file store (ours) against LevelDB (baseline)', figures);
  console.log('\nFile store index after open (replay): heap + array buffers per record (estimate from the structures), open time, bytes on disk per record');
  console.log('| records | index bytes/record (measured) | (estimate) | open (replay) | disk bytes/record |');
  console.log('|---:|---:|---:|---:|---:|');
  const sizes = process.env.BENCH_STORAGE_LARGE === '0' ? [100_000] : [100_000, 1_000_000];
  for (const size of sizes) {
    const r = await indexFootprint(size);
    console.log(`| ${size.toLocaleString('en-US')} | ${Math.round(r.bytesPerRecord)} | ${Math.round(r.estimate)} | ${r.openSeconds.toFixed(2)} s | ${Math.round(r.diskBytesPerRecord)} |`);
  }
}
