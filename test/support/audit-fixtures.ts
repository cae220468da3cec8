// Ledgers for the audit tests, written by the real Ledger; damage is done afterwards
// with classic-level directly, at keys laid out as docs/FORMAT.md says.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openRawDb, type Db } from './raw-db';
import { decodeCbor, encodeCbor, type CborValue } from '../../lib/encoding/codec';
import { generateKey, keyToDid, type PrivateKey } from '../../lib/crypto';
import { envelopePayload, signEnvelope, type EnvelopeFormat } from '../../lib/envelope/envelope';
import { bodyFromPayload } from '../../lib/envelope/payload';
import { sha256 } from '../../lib/crypto/hash';
import { Ledger, type LedgerRecord, type RecordInput } from '../../lib/ledger';
import { emptyTip, planWrite } from '../../lib/ledger/commit';
import { verifierKeyString } from '../../lib/note/note';
import { makeBlock } from '../../lib/ledger/blocks';
import { summaryValue } from '../../lib/ledger/layout';
import { summarise } from '../../lib/ledger/summary';
import { rootFromLeafHashes } from '../../lib/merkle';

export interface Device {
  key: PrivateKey;
  did: string;
  format: EnvelopeFormat;
  counter: number;
}

export function makeDevice(alg: 'Ed25519' | 'ES256' = 'Ed25519', format: EnvelopeFormat = 'jws'): Device {
  const key = generateKey(alg);
  return { key, did: keyToDid(key), format, counter: 0 };
}

/** A signed reading payload with the next counter (or the one given). */
export function signedReading(dev: Device, extra: Record<string, unknown> = {}, counter = ++dev.counter): string | Uint8Array {
  return signEnvelope(readingPayload(counter, extra), dev.key, { format: dev.format, kid: dev.did });
}

function readingPayload(counter: number, extra: Record<string, unknown>): Record<string, unknown> {
  return { temperature: -21 + counter / 10, counter, ...extra };
}

/**
 * A reading record as the gateway writes it: the device's envelope and, as its body, exactly
 * the payload the device signed (docs/FORMAT.md "Bodies of signed records").
 */
export function readingRecord(dev: Device, extra: Record<string, unknown> = {}, counter = ++dev.counter): RecordInput {
  const envelope = signEnvelope(readingPayload(counter, extra), dev.key, { format: dev.format, kid: dev.did });
  return { type: 'reading', device: dev.did, body: bodyFromPayload(envelopePayload(envelope)), envelope };
}

export function tempDir(prefix = 'audit-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function copyDir(from: string, prefix = 'audit-copy-'): string {
  const to = tempDir(prefix);
  fs.cpSync(from, to, { recursive: true });
  fs.rmSync(path.join(to, 'LOCK'), { force: true });
  return to;
}

/**
 * The directories of one describe(), removed after it: `keep(dir)` adds one (the sample ledger,
 * say), `damaged(from, fn)` copies `from`, applies `fn` to the copy's raw LevelDB and keeps it.
 */
export function scratchLedgers(): { keep(dir: string): void; damaged(from: string, fn: (db: RawDb) => Promise<void>): Promise<string> } {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });
  return {
    keep: (dir) => void dirs.push(dir),
    damaged: async (from, fn) => {
      const dir = copyDir(from);
      dirs.push(dir);
      await mutate(dir, fn);
      return dir;
    },
  };
}

/** A gateway clock that ticks a second per call, so record and block times are predictable. */
export function testClock(start = 1764000000000): () => number {
  let t = start;
  return () => (t += 1000);
}

/** Opens a new ledger for a test: no sealing timer, a ticking clock. */
export function createLedger(dir: string, opts: { name?: string; gatewayKey?: PrivateKey; blockRecords?: number } = {}): Promise<Ledger> {
  return Ledger.open(dir, {
    name: opts.name ?? 'test.ledger',
    gatewayKey: opts.gatewayKey ?? generateKey('Ed25519'),
    blockRecords: opts.blockRecords ?? 10,
    blockSeconds: 0,
    now: testClock(),
  });
}

/** Appends in batches (one synced write each). */
export async function appendAll(ledger: Ledger, inputs: RecordInput[], batch = 1000): Promise<void> {
  for (let i = 0; i < inputs.length; i += batch) await ledger.appendMany(inputs.slice(i, i + batch));
}

/** The signed checkpoints of every sealed block, by height. */
export async function checkpointsOf(ledger: Ledger): Promise<string[]> {
  const out: string[] = [];
  for (let h = 0; h < ledger.height; h++) out.push((await ledger.block(h)).checkpoint);
  return out;
}

export interface SampleLedger {
  dir: string;
  name: string;
  verifierKey: string;
  gatewayDid: string;
  gatewayKey: PrivateKey;
  checkpoints: string[];
  devices: Device[];
  size: number;
  blocks: number;
}

/**
 * ~40 records in blocks of 10: enrolment of an Ed25519/JWS device and a P-256/COSE
 * device (the second by TOFU), their signed readings, and gateway notes.
 */
export async function buildSampleLedger(dir = tempDir(), opts: { records?: number; blockRecords?: number } = {}): Promise<SampleLedger> {
  const gatewayKey = generateKey('Ed25519');
  const ledger = await createLedger(dir, { gatewayKey, blockRecords: opts.blockRecords ?? 10 });
  const a = makeDevice('Ed25519', 'jws');
  const b = makeDevice('ES256', 'cose');
  await ledger.append({ type: 'device.enrol', body: { did: a.did, name: 'cold-room-a' } });
  await ledger.append({ type: 'device.tofu', device: b.did, body: { did: b.did, name: 'cold-room-b' } });
  const total = opts.records ?? 40;
  for (let i = ledger.size; i < total; i++) {
    if (i % 5 === 4) await ledger.append({ type: 'note', body: { text: `gateway note ${i}` } });
    else {
      const dev = i % 2 === 0 ? a : b;
      await ledger.append(readingRecord(dev, { n: i }));
    }
  }
  await ledger.seal();
  const out: SampleLedger = {
    dir,
    name: 'test.ledger',
    verifierKey: verifierKeyString('test.ledger', gatewayKey),
    gatewayDid: keyToDid(gatewayKey),
    gatewayKey,
    checkpoints: await checkpointsOf(ledger),
    devices: [a, b],
    size: ledger.size,
    blocks: ledger.height,
  };
  await ledger.close();
  return out;
}

// ------------------------------------------------------------------ raw access, to damage ledgers

const u64 = (x: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeUInt32BE(Math.floor(x / 2 ** 32), 0);
  b.writeUInt32BE(x % 2 ** 32, 4);
  return b;
};

/** LevelDB keys as docs/FORMAT.md lays them out. */
export const keys = {
  meta: (): Buffer => Buffer.from('mmeta'),
  head: (): Buffer => Buffer.from('h'),
  record: (i: number): Buffer => Buffer.concat([Buffer.from('r'), u64(i)]),
  node: (level: number, i: number): Buffer => Buffer.concat([Buffer.from('n'), Buffer.from([level]), u64(i)]),
  block: (h: number): Buffer => Buffer.concat([Buffer.from('b'), u64(h)]),
  summary: (h: number): Buffer => Buffer.concat([Buffer.from('i'), u64(h)]),
};

/** A head value {size, height, blockFirst, hash}. */
export function headValue(size: number, height: number, blockFirst: number): Buffer {
  const fields = { size, height, blockFirst };
  return Buffer.from(encodeCbor({ ...fields, hash: sha256(encodeCbor(fields)) }));
}

export type RawDb = Db;

/** Opens a (closed) ledger's LevelDB directly, to change stored bytes. */
export async function mutate(dir: string, fn: (db: RawDb) => Promise<void>): Promise<void> {
  const db = await openRawDb(dir);
  try {
    await fn(db);
  } finally {
    await db.close();
  }
}

/**
 * What a power cut before sealing leaves: the last block gone and the head pointing
 * back to where it started (its records stay, not yet under a checkpoint).
 */
export async function unsealLastBlock(dir: string): Promise<void> {
  await mutate(dir, async (db) => {
    const head = (await db.get(keys.head())) as Buffer;
    const h = decodeCbor(head) as { size: number; height: number };
    const lastKey = keys.block(h.height - 1);
    const block = decodeCbor((await db.get(lastKey)) as Buffer) as { header: Uint8Array };
    const header = decodeCbor(block.header) as { first: number };
    await db.batch([
      { type: 'del', key: lastKey },
      { type: 'del', key: keys.summary(h.height - 1) },
      { type: 'put', key: keys.head(), value: headValue(h.size, h.height - 1, header.first) },
    ]);
  });
}

// ------------------------------------------------------------------ a key holder rewriting history

/** The records of a (closed) ledger, decoded, in index order. */
export async function readRecords(dir: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  await mutate(dir, async (db) => {
    for await (const [key, value] of db.iterator({ gte: keys.record(0), lt: Buffer.from('s') })) {
      if (key.length === 9) out.push(decodeCbor(value.subarray(32), { canonical: false }) as Record<string, unknown>);
    }
  });
  return out;
}

/**
 * What someone holding the gateway key can do: rewrite a ledger's records (bypassing the
 * writer's checks) and re-commit all of them with the ledger's own layout code, every hash,
 * node, block and checkpoint recomputed and re-signed. Only what the gateway key cannot
 * forge (device signatures) tells the result from an honest ledger. Returns the new directory.
 */
export async function forgeLedger(sample: Pick<SampleLedger, 'dir' | 'name' | 'gatewayKey'>, edit: (records: Record<string, unknown>[]) => void, blockRecords = 10): Promise<string> {
  const records = await readRecords(sample.dir);
  edit(records);
  let meta: Buffer | undefined;
  await mutate(sample.dir, async (db) => {
    meta = (await db.get(keys.meta()));
  });
  const dir = tempDir('audit-forged-');
  const prepared = records.map((r) => ({ record: r as unknown as LedgerRecord, bytes: encodeCbor(r as CborValue) }));
  const db = await openRawDb(dir, true);
  try {
    const batch = db.batch();
    batch.put(keys.meta(), meta as Buffer);
    const tip = emptyTip();
    planWrite(tip, [{ kind: 'append', records: prepared }, { kind: 'seal' }], { name: sample.name, key: sample.gatewayKey, blockRecords, now: testClock(1765000000000) }, batch);
    await batch.write({ sync: true });
  } finally {
    await db.close();
  }
  return dir;
}

/**
 * What the gateway key holder can do to the blocks after `height`: replaces them with blocks
 * ending at `ends` (each starting where the one before ends, the first where `first` says,
 * else at the end of block `height`), chained from block `height`'s stored header, each with
 * its summary and a checkpoint signed with `key`; the head follows the last one. The records
 * and nodes stay as they are.
 */
export async function resealAfter(dir: string, name: string, key: PrivateKey, height: number, ends: number[], first?: number): Promise<void> {
  await mutate(dir, async (db) => {
    const leaves: Uint8Array[] = [];
    const records: { type: string; time: number; device?: string }[] = [];
    for await (const [k, value] of db.iterator({ gte: keys.record(0), lt: Buffer.from('s') })) {
      if (k.length !== 9) continue;
      leaves.push(value.subarray(0, 32));
      records.push(decodeCbor(value.subarray(32), { canonical: false }) as { type: string; time: number; device?: string });
    }
    const anchor = decodeCbor((await db.get(keys.block(height))) as Buffer) as { header: Uint8Array; hash: Uint8Array };
    const anchorHeader = decodeCbor(anchor.header) as { size: number; time: number };
    for (let h = height + 1; (await db.get(keys.block(h))) !== undefined; h++) {
      await db.del(keys.block(h));
      await db.del(keys.summary(h));
    }
    let prev = anchor.hash;
    let start = first ?? anchorHeader.size;
    for (const [i, size] of ends.entries()) {
      const h = height + 1 + i;
      const fields = { height: h, prev, first: start, size, root: rootFromLeafHashes(leaves.slice(0, size)), time: anchorHeader.time + 1000 * (i + 1) };
      const { stored } = makeBlock(fields, name, key);
      await db.put(keys.block(h), Buffer.from(encodeCbor({ header: stored.header, hash: stored.hash, checkpoint: stored.checkpoint })));
      await db.put(keys.summary(h), summaryValue(summarise(start, records.slice(start, size))));
      prev = stored.hash;
      start = size;
    }
    await db.put(keys.head(), headValue(leaves.length, height + 1 + ends.length, start));
  });
}
