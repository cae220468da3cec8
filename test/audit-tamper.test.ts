// Tamper localisation: damage one byte of one stored value, through classic-level
// directly, and the audit's first finding must name that record, node or block.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { openRawDb } from './support/raw-db';
import { auditLedger } from '../lib/audit';
import { buildSampleLedger, copyDir, type SampleLedger } from './support/audit-fixtures';

type Target = { kind: 'record'; index: number } | { kind: 'node'; level: number; index: number } | { kind: 'block'; height: number };

interface Stored {
  key: Buffer;
  value: Buffer;
  target: Target;
}

/** A small seeded PRNG (mulberry32), so a failing case can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function readAll(dir: string): Promise<Stored[]> {
  const db = await openRawDb(dir);
  const out: Stored[] = [];
  for await (const [key, value] of db.iterator()) {
    if (key[0] === 0x72) out.push({ key, value, target: { kind: 'record', index: key.readUInt32BE(5) } });
    else if (key[0] === 0x6e) out.push({ key, value, target: { kind: 'node', level: key[1], index: key.readUInt32BE(6) } });
    else if (key[0] === 0x62) out.push({ key, value, target: { kind: 'block', height: key.readUInt32BE(5) } });
  }
  await db.close();
  return out;
}

async function corrupt(dir: string, key: Buffer, value: Buffer, at: number, xor: number): Promise<void> {
  const db = await openRawDb(dir);
  const damaged = Buffer.from(value);
  damaged[at] ^= xor;
  await db.put(key, damaged);
  await db.close();
}

function describe_(t: Target): string {
  if (t.kind === 'record') return `record ${t.index}`;
  if (t.kind === 'node') return `node (${t.level}, ${t.index})`;
  return `block ${t.height}`;
}

async function expectLocalised(sample: SampleLedger, s: Stored, at: number, xor: number, chunkLevel: number): Promise<void> {
  const dir = copyDir(sample.dir);
  try {
    await corrupt(dir, s.key, s.value, at, xor);
    const report = await auditLedger(dir, { trustedKey: sample.verifierKey, chunkLevel, workers: 0 });
    const what = `${describe_(s.target)} byte ${at} ^ 0x${xor.toString(16)} (chunkLevel ${chunkLevel})`;
    assert.equal(report.clean, false, `${what}: not detected`);
    const first = report.findings[0];
    const t = s.target;
    if (t.kind === 'block') {
      assert.equal(first.height, t.height, `${what}: first finding ${JSON.stringify(first)}`);
    } else {
      const expected = t.kind === 'record' ? t.index : t.index * 2 ** t.level;
      assert.equal(first.index, expected, `${what}: first finding ${JSON.stringify(first)}`);
      assert.equal(first.height, undefined, `${what}: first finding ${JSON.stringify(first)}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('audit: tamper localisation', function () {
  this.timeout(60000);
  let sample: SampleLedger;
  let stored: Stored[];

  before(async () => {
    sample = await buildSampleLedger(undefined, { records: 40, blockRecords: 10 });
    assert.equal(sample.blocks, 4);
    stored = await readAll(sample.dir);
  });

  after(() => fs.rmSync(sample.dir, { recursive: true, force: true }));

  it('the untouched ledger is clean', async () => {
    const report = await auditLedger(sample.dir, { trustedKey: sample.verifierKey });
    assert.deepEqual(report.findings, []);
    assert.ok(report.clean);
  });

  for (const kind of ['record', 'node', 'block'] as const) {
    it(`one random byte of a random ${kind} value is found at that ${kind}`, async () => {
      const seed = 0x5eed + kind.length;
      const rand = prng(seed);
      const pool = stored.filter((s) => s.target.kind === kind);
      const cases = kind === 'block' ? 40 : 60;
      for (let c = 0; c < cases; c++) {
        const s = pool[Math.floor(rand() * pool.length)];
        const at = Math.floor(rand() * s.value.length);
        const xor = 1 + Math.floor(rand() * 255);
        await expectLocalised(sample, s, at, xor, c % 2 === 0 ? 10 : 2);
      }
    });
  }

  it('every byte of a device-signed record, of a node above the chunks and of the last block', async () => {
    const signed = stored.find((s) => s.target.kind === 'record' && s.value.length > 200) as Stored;
    const upper = stored.find((s) => s.target.kind === 'node' && s.target.level === 4) as Stored;
    const last = stored.find((s) => s.target.kind === 'block' && s.target.height === sample.blocks - 1) as Stored;
    // Every byte of the record's leaf hash and a spread of its body; all 36 node bytes;
    // a spread of the block (header, hash, checkpoint text and signature).
    const positions = (s: Stored, step: number): number[] =>
      Array.from({ length: s.value.length }, (_, i) => i).filter((i) => i < 36 || i % step === 0);
    for (const at of positions(signed, 23)) await expectLocalised(sample, signed, at, 0x01, 2);
    for (const at of positions(upper, 1)) await expectLocalised(sample, upper, at, 0x80, 2);
    for (const at of positions(last, 17)) await expectLocalised(sample, last, at, 0x20, 10);
  });
});
