// Worker threads that read their own chunks from LevelDB (lib/audit/chunk-reader.ts) must
// find exactly what the audit finds when one thread reads every chunk: each damage below is
// audited both ways, in chunks of 8 records, and the two reports must agree (and not be clean).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { auditLedger, formatReport, type AuditReport } from '../lib/audit';
import { ChunkReader, NextStored, type SeekableIterator } from '../lib/audit/chunk-reader';
import { ClassicLevel } from 'classic-level';
import { isLedgerError } from '../lib/errors';
import { openRawDb } from './support/raw-db';
import { convertLedger } from '../lib/ledger/convert';
import { storageIn } from '../lib/storage/open';
import { buildSampleLedger, copyDir, keys, mutate, tempDir, type RawDb, type SampleLedger } from './support/audit-fixtures';

const CHUNK_LEVEL = 3; // 8 records a chunk

async function both(dir: string): Promise<{ workers: AuditReport; thread: AuditReport }> {
  const workers = await auditLedger(dir, { workers: 2, parallelThreshold: 0, chunkLevel: CHUNK_LEVEL });
  const thread = await auditLedger(dir, { workers: 0, chunkLevel: CHUNK_LEVEL });
  return { workers, thread };
}

const kinds = (r: AuditReport): [string, number | undefined][] => r.findings.map((f) => [f.kind, f.index ?? f.height]);

describe('audit: workers reading their own chunks', function () {
  this.timeout(120000);
  let sample: SampleLedger;
  before(async () => {
    sample = await buildSampleLedger(undefined, { records: 300, blockRecords: 50 });
  });
  after(() => fs.rmSync(sample.dir, { recursive: true, force: true }));

  it('checks a clean ledger as one thread does', async () => {
    const { workers, thread } = await both(sample.dir);
    assert.equal(workers.clean, true, formatReport(workers));
    assert.deepEqual(workers.checked, thread.checked);
    assert.equal(workers.checked.records, 300);
  });

  const damages: [string, (db: RawDb) => Promise<void>, [string, number | undefined][]][] = [
    ['a record deleted', (db) => db.del(keys.record(13)), [['missing', 13]]],
    [
      'a stored leaf hash damaged (the record bytes and the tree agree: nothing else is reported)',
      async (db) => {
        const v = (await db.get(keys.record(21))) as Buffer;
        v[3] ^= 1;
        await db.put(keys.record(21), v);
      },
      [['record-hash', 21]],
    ],
    [
      'record bytes changed under their leaf hash (the tree agrees with the leaf hash: nothing else is reported)',
      async (db) => {
        const v = (await db.get(keys.record(22))) as Buffer;
        v[v.length - 2] ^= 1;
        await db.put(keys.record(22), v);
      },
      [['record-hash', 22]],
    ],
    ['a level-0 node planted (format 4 stores none)', (db) => db.put(keys.node(0, 21), Buffer.alloc(36)), [['merkle-node', 21]]],
    ['a level-1 node deleted', (db) => db.del(keys.node(1, 10)), [['missing', 20]]],
    [
      'a node inside a chunk and a chunk root deleted',
      async (db) => {
        await db.del(keys.node(2, 9)); // records 36..39
        await db.del(keys.node(3, 7)); // records 56..63, the root of a chunk of 8
      },
      [
        ['missing', 36],
        ['missing', 56],
      ],
    ],
    [
      'records deleted over several chunks (one finding)',
      async (db) => {
        for (let i = 40; i < 80; i++) await db.del(keys.record(i));
      },
      [['missing', 40]],
    ],
    [
      'a record moved to a key of another length, in the record range',
      async (db) => {
        const v = (await db.get(keys.record(100))) as Buffer;
        await db.del(keys.record(100));
        await db.put(Buffer.concat([keys.record(100), Buffer.of(0)]), v);
      },
      [['missing', 100]],
    ],
    [
      'a node moved to a key of another length, in its level range',
      async (db) => {
        const v = (await db.get(keys.node(1, 60))) as Buffer;
        await db.del(keys.node(1, 60));
        await db.put(Buffer.concat([keys.node(1, 60), Buffer.of(0)]), v);
        await db.put(keys.node(1, 61).subarray(0, 9), v); // shorter: sorts before the level's index 61
      },
      [['missing', 120]],
    ],
    [
      'a record cut short and two records swapped',
      async (db) => {
        await db.put(keys.record(150), Buffer.alloc(10));
        const a = (await db.get(keys.record(170))) as Buffer;
        const b = (await db.get(keys.record(171))) as Buffer;
        await db.put(keys.record(170), b);
        await db.put(keys.record(171), a);
      },
      [
        ['record-hash', 150],
        // Both records agree with their leaf hashes: the node over the pair names them.
        ['merkle-node', 170],
      ],
    ],
    [
      'a chunk whose records are all gone, its nodes kept (the tree goes on from them: nothing else is reported)',
      async (db) => {
        for (let i = 200; i < 208; i++) await db.del(keys.record(i));
      },
      [['missing', 200]],
    ],
    [
      'the tail gone (records and nodes), a node left beyond it',
      async (db) => {
        for (let i = 290; i < 300; i++) await db.del(keys.record(i));
        for (let i = 145; i < 150; i++) await db.del(keys.node(1, i));
        await db.put(keys.node(1, 5000), Buffer.alloc(36));
      },
      [['missing', 290]],
    ],
  ];

  for (const [what, damage, expected] of damages) {
    it(`finds ${what}`, async () => {
      const dir = copyDir(sample.dir);
      try {
        await mutate(dir, damage);
        const { workers, thread } = await both(dir);
        assert.deepEqual(workers.findings, thread.findings);
        assert.deepEqual(workers.checked, thread.checked);
        // The first findings are the damage itself (what follows from it: block roots, the head).
        assert.deepEqual(kinds(workers).slice(0, expected.length), expected, formatReport(workers));
        if (what.includes('nothing else')) assert.equal(workers.findings.length, expected.length, formatReport(workers));
        // Which of a record's two copies of its leaf hash is wrong, decided by the stored node over it.
        if (what.startsWith('a stored leaf hash damaged')) assert.match(workers.findings[0].detail, /stored leaf hash of record 21 is damaged/);
        if (what.startsWith('record bytes changed')) assert.match(workers.findings[0].detail, /record 22 bytes do not match .* the bytes were changed/);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

describe('audit: a LevelDB table damaged on disk', function () {
  this.timeout(120000);
  // LevelDB passes over a table block it cannot read and says so only when an iterator reaches
  // the end of its range: a worker reading one chunk's range used to report the records of the
  // block as missing (the main thread, reading to the end, reports the damage), and a second
  // failing chunk in flight went unhandled, which ends the process.
  it('is an I/O error with workers as in one thread, and no promise is left rejected unhandled', async () => {
    const written = await buildSampleLedger(undefined, { records: 300, blockRecords: 50 });
    // LevelDB even when the suite runs on the file store (IOT_LEDGER_STORAGE=file).
    const sample = { dir: storageIn(written.dir) === 'leveldb' ? written.dir : `${written.dir}-leveldb` };
    if (sample.dir !== written.dir) {
      await convertLedger(written.dir, sample.dir, 'leveldb');
      fs.rmSync(written.dir, { recursive: true, force: true });
    }
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): number => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const db = await openRawDb(sample.dir);
      await db.close(); // opening turns the write-ahead log into a table
      const tables = fs.readdirSync(sample.dir).filter((n) => n.endsWith('.ldb')).map((n) => path.join(sample.dir, n));
      const table = tables.sort((a, b) => fs.statSync(b).size - fs.statSync(a).size)[0];
      const pristine = fs.readFileSync(table);
      const storageDamage = (e: unknown): boolean => isLedgerError(e, 'ERR_LEDGER_IO') && /Corruption/.test((e as Error).message);
      // 64 bytes among the records (most of the table), where LevelDB can no longer read the block
      // (damage inside an uncompressed block's values is a record-hash finding instead): the first
      // such place, as the audit in one thread reports it.
      let damaged = false;
      for (let frac = 0.5; frac < 0.9 && !damaged; frac += 0.05) {
        const bytes = Buffer.from(pristine);
        const at = Math.floor(bytes.length * frac);
        for (let i = at; i < at + 64; i++) bytes[i] ^= 0x55;
        fs.writeFileSync(table, bytes);
        damaged = await auditLedger(sample.dir, { workers: 0 }).then(() => false, storageDamage);
      }
      assert.ok(damaged, 'no place in the table where LevelDB reports the damage');
      await assert.rejects(auditLedger(sample.dir, { workers: 2, parallelThreshold: 0, chunkLevel: 6 }), storageDamage);
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      fs.rmSync(sample.dir, { recursive: true, force: true });
    }
  });
});

describe('audit: ChunkReader and NextStored', function () {
  // A bare LevelDB holding keys of the ledger's shapes (the reader looks at keys only): records
  // 0..63 and the nodes above them, with record 10 under a longer key, records and level-0
  // nodes 24..39 gone, and node (1, 3) gone. Format 4 stores no level-0 node: the reader
  // leaves those keys alone (the audit reports them on its own) and returns none.
  let dir: string;
  let db: ClassicLevel<Buffer, Buffer>;
  const open = (gte: Buffer, lt: Buffer): SeekableIterator => db.iterator({ gte, lt });
  before(async () => {
    dir = tempDir('chunk-reader-');
    db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    await db.open();
    const batch = db.batch();
    for (let i = 0; i < 64; i++) {
      if (i === 10) batch.put(Buffer.concat([keys.record(10), Buffer.of(7)]), Buffer.from('stray'));
      else if (i < 24 || i >= 40) batch.put(keys.record(i), Buffer.from(`record ${i}`));
    }
    for (let level = 0; level <= 6; level++) {
      for (let i = 0; i < 64 >> level; i++) {
        if ((level === 0 && i >= 24 && i < 40) || (level === 1 && i === 3)) continue;
        batch.put(keys.node(level, i), Buffer.from(`node ${level} ${i}`));
      }
    }
    await batch.write();
  });
  after(async () => {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const range = (from: number, to: number, skip: number[] = []): number[] =>
    Array.from({ length: to - from }, (_, i) => from + i).filter((i) => !skip.includes(i));

  it('reads each chunk range, skips keys of other shapes, and seeks between ranges', async () => {
    const reader = new ChunkReader(open);
    try {
      const a = await reader.read({ level: 2, start: 8, end: 16 });
      assert.deepEqual(Array.from(a.records.ids), range(8, 16, [10]));
      assert.deepEqual(a.records.values.map((v) => Buffer.from(v).toString()), range(8, 16, [10]).map((i) => `record ${i}`));
      assert.deepEqual(
        a.nodes.map((n) => Array.from(n.ids)),
        [[], range(4, 8, [3]), range(2, 4)],
      );
      // Records 24..39 are gone: the read runs past its range into the next chunk's, which then seeks back.
      const b = await reader.read({ level: 2, start: 24, end: 32 });
      assert.deepEqual(Array.from(b.records.ids), []);
      assert.deepEqual(Array.from(b.nodes[0].ids), []);
      assert.deepEqual(Array.from(b.nodes[1].ids), range(12, 16));
      const c = await reader.read({ level: 2, start: 40, end: 48 });
      assert.deepEqual(Array.from(c.records.ids), range(40, 48));
      // Straight on (no seek), then back to the start.
      const d = await reader.read({ level: 2, start: 48, end: 56 });
      assert.deepEqual(Array.from(d.records.ids), range(48, 56));
      assert.deepEqual(Array.from(d.nodes[2].ids), range(12, 14));
      const e = await reader.read({ level: 0, start: 0, end: 8 });
      assert.deepEqual(Array.from(e.records.ids), range(0, 8));
      assert.equal(e.nodes.length, 1);
      // An unaligned span (an incremental audit's first chunk): levels start at start / 2^level.
      const f = await reader.read({ level: 3, start: 5, end: 8 });
      assert.deepEqual(
        f.nodes.map((n) => Array.from(n.ids)),
        [[], range(2, 4, [3]), [1], [0]],
      );
      // Reads asked for together are done one after the other, and answered in order.
      const [g, h] = await Promise.all([reader.read({ level: 1, start: 56, end: 64 }), reader.read({ level: 1, start: 0, end: 8 })]);
      assert.deepEqual(Array.from(g.records.ids), range(56, 64));
      assert.deepEqual(Array.from(h.nodes[1].ids), range(0, 4, [3]));
    } finally {
      await reader.close();
    }
  });

  it('finds the next stored record', async () => {
    const next = new NextStored(open);
    try {
      assert.equal(await next.at(0), 0);
      assert.equal(await next.at(11), 11);
      assert.equal(await next.at(24), 40);
      assert.equal(await next.at(20), 20);
      assert.equal(await next.at(64), undefined);
    } finally {
      await next.close();
    }
  });
});
