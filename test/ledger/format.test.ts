// The bytes docs/FORMAT.md fixes: record encoding, storage keys and values.
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { bytesEqual, toHex } from '../../lib/encoding/bytes';
import { decodeCbor, encodeCbor, type CborValue } from '../../lib/encoding/codec';
import { isLedgerError } from '../../lib/errors';
import { sha256 } from '../../lib/crypto/hash';
import { referenceCrc32 } from '../support/crc32-reference';
import { openRawDb } from '../support/raw-db';
import { auditLedger } from '../../lib/audit';
import { decodeRecord, encodeRecord, Ledger, migrateLedger, verifyConsistencyBundle, verifyProofBundle, type LedgerRecord } from '../../lib/ledger';
import * as layout from '../../lib/ledger/layout';
import { deviceA, gatewayKey, tempDir } from '../support/ledger';

describe('ledger format', () => {
  describe('records', () => {
    it('encodes the documented map with deterministic key order and leaves absent fields out', () => {
      const bytes = encodeRecord({ v: 1, type: 'note', time: 1000 });
      // {"v": 1, "time": 1000, "type": "note"}: keys sorted by their encoded bytes (shorter first)
      assert.deepEqual(decodeCbor(bytes), { v: 1, type: 'note', time: 1000 });
      assert.equal(toHex(bytes), toHex(encodeCbor({ time: 1000, type: 'note', v: 1 })));
      assert.equal(toHex(bytes), 'a36176016474696d651903e86474797065646e6f7465');
    });

    it('round-trips every field, keeping the envelope exactly', () => {
      const r: LedgerRecord = {
        v: 1,
        type: 'contract.event',
        time: 1_700_000_000_123,
        device: deviceA,
        body: { verdict: 'alarm', celsius: -18.5, n: 3, raw: Uint8Array.of(1, 2, 3), list: [true, null, 'x'] },
        envelope: Uint8Array.of(0xd2, 0x84, 0x40, 0xa0, 0x40, 0x40),
      };
      const bytes = encodeRecord(r);
      assert.deepEqual(decodeRecord(bytes), r);
      assert.deepEqual(decodeRecord(encodeRecord({ ...r, envelope: 'a.b.c' })).envelope, 'a.b.c');
    });

    it('decoding refuses what encoding would not produce', () => {
      const bad: [string, Uint8Array][] = [
        ['non-canonical order', encodeCborUnsorted()],
        ['extra field', encodeCbor({ v: 1, type: 'note', time: 1, x: 1 })],
        ['version 2', encodeCbor({ v: 2, type: 'note', time: 1 })],
        ['missing time', encodeCbor({ v: 1, type: 'note' })],
        ['device not did:key', encodeCbor({ v: 1, type: 'note', time: 1, device: 'dev' })],
        ['array', encodeCbor([1, 2])],
        ['undefined body', Uint8Array.from([0xa4, ...encodeCbor('v'), 1, ...encodeCbor('body'), 0xf7, ...encodeCbor('time'), 1, ...encodeCbor('type'), ...encodeCbor('note')])],
        ['NaN in body', encodeCbor({ v: 1, type: 'note', time: 1, body: NaN })],
        ['Map body', encodeCbor({ v: 1, type: 'note', time: 1, body: new Map([[1, 1]]) })],
        ['trailing byte', Uint8Array.from([...encodeRecord({ v: 1, type: 'note', time: 1 }), 0])],
      ];
      for (const [what, bytes] of bad) {
        assert.throws(() => decodeRecord(bytes), (e: unknown) => isLedgerError(e, 'ERR_MALFORMED_RECORD'), what);
      }
    });

    it('encodes to the same bytes whatever the order of object keys (property)', () => {
      const body = fc.letrec<{ value: CborValue }>((tie) => ({
        value: fc.oneof(
          { depthSize: 'small' },
          fc.constant(null),
          fc.boolean(),
          fc.double({ noNaN: true, noDefaultInfinity: true }),
          fc.integer(),
          fc.string(),
          fc.uint8Array({ maxLength: 8 }),
          fc.array(tie('value'), { maxLength: 4 }),
          fc.dictionary(fc.string({ maxLength: 6 }), tie('value'), { maxKeys: 4 }),
        ),
      })).value;
      fc.assert(
        fc.property(body, (b) => {
          const r: LedgerRecord = { v: 1, type: 'reading', time: 5, body: b };
          const bytes = encodeRecord(r);
          const back = decodeRecord(bytes);
          assert.ok(bytesEqual(encodeRecord(back), bytes));
          const reversed = decodeCbor(encodeCbor(b));
          assert.ok(bytesEqual(encodeRecord({ ...r, body: reversed }), bytes));
        }),
        { numRuns: 300 },
      );
    });
  });

  describe('storage keys and values', () => {
    it('uses the documented key bytes', () => {
      assert.equal(layout.META_KEY.toString('latin1'), 'mmeta');
      assert.equal(toHex(layout.HEAD_KEY), '68');
      assert.equal(toHex(layout.recordKey(0x0102030405)), '72' + '0000000102030405');
      assert.equal(toHex(layout.recordKey(2 ** 53 - 1)), '72' + '001fffffffffffff');
      assert.equal(toHex(layout.nodeKey(3, 7)), '6e' + '03' + '0000000000000007');
      assert.equal(toHex(layout.blockKey(9)), '62' + '0000000000000009');
      assert.equal(toHex(layout.summaryKey(258)), '69' + '0000000000000102');
      assert.equal(layout.indexOfKey(layout.summaryKey(2 ** 40 + 3)), 2 ** 40 + 3);
    });

    it('stores records as leaf hash || bytes and nodes with a CRC-32 over key and hash (since format 2)', () => {
      const hash = sha256(Uint8Array.of(1));
      const key = layout.nodeKey(1, 2);
      const value = layout.nodeValue(key, hash);
      assert.equal(value.length, 36);
      // CRC-32 (IEEE, zlib's) of key || hash, computed independently of the layout module.
      assert.equal(Buffer.from(value.subarray(32)).readUInt32BE(0), referenceCrc32(Buffer.concat([key, hash])));
      assert.deepEqual(layout.nodeHashFromValue(key, value, 1, 2), hash);
      assert.throws(() => layout.nodeHashFromValue(layout.nodeKey(1, 3), value, 1, 3), { code: 'ERR_LEDGER_CORRUPT' });
      const rv = layout.recordValue(hash, Uint8Array.of(9, 9));
      assert.equal(toHex(rv), toHex(hash) + '0909');
    });

    it('writes one summary per sealed block and no per-record index entries (format 3)', async () => {
      const { dir, cleanup } = tempDir();
      try {
        const ledger = await Ledger.open(dir, { name: 'example.com/f', gatewayKey, blockRecords: 3 });
        // Times out of order within a block; types and devices sorted, each once.
        await ledger.append({ type: 'reading', device: deviceA, time: 9 });
        await ledger.append({ type: 'alarm.high', time: 5 });
        await ledger.append({ type: 'reading', device: deviceA, time: 7 });
        await ledger.append({ type: 'note', time: 11 });
        await ledger.close(); // seals the second block (one record)
        const db = await openRawDb(dir);
        const summaries: [string, CborValue][] = [];
        const prefixes = new Set<string>();
        for await (const [key, value] of db.iterator()) {
          prefixes.add(String.fromCharCode(key[0]));
          if (key[0] === 0x69) summaries.push([toHex(key), decodeCbor(value)]);
        }
        await db.close();
        assert.deepEqual([...prefixes].sort(), ['b', 'h', 'i', 'm', 'n', 'r']);
        assert.deepEqual(summaries, [
          ['690000000000000000', { first: 0, count: 3, tmin: 5, tmax: 9, types: ['alarm.high', 'reading'], devices: [deviceA] }],
          ['690000000000000001', { first: 3, count: 1, tmin: 11, tmax: 11, types: ['note'], devices: [] }],
        ]);
        // The value is the canonical CBOR of exactly these six fields.
        const value = layout.summaryValue({ first: 3, count: 1, tmin: 11, tmax: 11, types: ['note'], devices: [] });
        assert.equal(toHex(value), toHex(encodeCbor({ first: 3, count: 1, tmin: 11, tmax: 11, types: ['note'], devices: [] })));
      } finally {
        cleanup();
      }
    });

    it(`stores no Merkle node below level ${layout.MIN_STORED_LEVEL} (format 4), and every node at or above it`, async () => {
      const { dir, cleanup } = tempDir();
      try {
        // 37 records in blocks of 5, appended one by one and in groups, across block boundaries.
        const ledger = await Ledger.open(dir, { name: 'example.com/f', gatewayKey, blockRecords: 5 });
        for (let i = 0; i < 7; i++) await ledger.append({ type: 'note', body: { i } });
        await Promise.all(Array.from({ length: 30 }, (_, i) => ledger.append({ type: 'reading', body: { i } })));
        const size = ledger.size;
        // Proofs served from it (level-0 siblings read from the records) verify against the signed checkpoints.
        for (let i = 0; i < size; i++) {
          const bundle = await ledger.proofBundle(i);
          assert.equal(verifyProofBundle(JSON.parse(JSON.stringify(bundle)), ledger.verifierKey).index, i);
        }
        for (const size1 of [5, 10, 20, 30]) verifyConsistencyBundle(await ledger.consistencyBundle(size1), ledger.verifierKey);
        await ledger.close();
        assert.equal(size, 37);
        const db = await openRawDb(dir);
        const stored: string[] = [];
        for await (const key of db.keys({ gte: Buffer.from('n'), lt: Buffer.from('o') })) stored.push(`${key[1]}:${layout.indexOfKey(key)}`);
        await db.close();
        assert.ok(layout.MIN_STORED_LEVEL >= 1 && layout.MIN_STORED_LEVEL <= 8);
        // Exactly the perfect subtrees of the tree at levels >= MIN_STORED_LEVEL.
        const expected: string[] = [];
        for (let level = layout.MIN_STORED_LEVEL; 2 ** level <= size; level++)
          for (let i = 0; (i + 1) * 2 ** level <= size; i++) expected.push(`${level}:${i}`);
        assert.deepEqual(stored.sort(), expected.sort());
        assert.equal(layout.FORMAT_VERSION, 4);
        // A proof needing record 4's leaf hash (the sibling of record 5) checks it against the record's bytes.
        const raw = await openRawDb(dir);
        const v = (await raw.get(layout.recordKey(4))) as Buffer;
        v[0] ^= 1;
        await raw.put(layout.recordKey(4), v);
        await raw.close();
        const reopened = await Ledger.open(dir, { readOnly: true });
        try {
          await assert.rejects(reopened.proofBundle(5), (err: unknown) => isLedgerError(err, 'ERR_LEDGER_CORRUPT') && /record 4/.test(err.message));
        } finally {
          await reopened.close();
        }
      } finally {
        cleanup();
      }
    });

    it('hashes the head over its other fields', () => {
      const head = { size: 10, height: 2, blockFirst: 8 };
      const v = layout.headValue(head);
      const decoded = decodeCbor(v) as Record<string, CborValue>;
      assert.deepEqual(decoded.hash, sha256(encodeCbor({ size: 10, height: 2, blockFirst: 8 })));
      assert.deepEqual(layout.decodeHead(v), head);
      const forged = encodeCbor({ ...head, size: 11, hash: decoded.hash });
      assert.throws(() => layout.decodeHead(forged), { code: 'ERR_LEDGER_CORRUPT' });
    });

    it('reads u64 values back', () => {
      for (const n of [0, 1, 255, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1]) assert.equal(layout.readU64(layout.recordKey(n), 1), n);
    });
  });

  describe('format 1, 2 and 3 ledgers', () => {
    const u64 = (x: number): Buffer => {
      const b = Buffer.alloc(8);
      b.writeBigUInt64BE(BigInt(x));
      return b;
    };
    const textKey = (p: string, text: string, i: number): Buffer => Buffer.concat([Buffer.from(p), Buffer.from(text), Buffer.from([0]), u64(i)]);

    /** Rewrites a ledger as format 3 wrote it: a level-0 node per record (its leaf hash with the node check), meta v 3. */
    async function toFormat3(dir: string): Promise<number> {
      const db = await openRawDb(dir);
      let nodes = 0;
      for await (const [key, value] of db.iterator({ gte: Buffer.from('r'), lt: Buffer.from('s') })) {
        const node = layout.nodeKey(0, layout.indexOfKey(key));
        await db.put(node, layout.nodeValue(node, value.subarray(0, 32)));
        nodes++;
      }
      const meta = decodeCbor((await db.get(layout.META_KEY)) as Buffer) as Record<string, CborValue>;
      await db.put(layout.META_KEY, Buffer.from(encodeCbor({ ...meta, v: 3 })));
      await db.close();
      return nodes;
    }

    /** Rewrites a ledger as format 2 wrote it: format 3's level-0 nodes, no summaries, a `t` and `s` entry per record and a `d` one per device record, meta v 2. */
    async function toFormat2(dir: string): Promise<number> {
      await toFormat3(dir);
      const db = await openRawDb(dir);
      let entries = 0;
      for await (const key of db.keys({ gte: Buffer.from('i'), lt: Buffer.from('j') })) await db.del(key);
      for await (const [key, value] of db.iterator({ gte: Buffer.from('r'), lt: Buffer.from('s') })) {
        const i = Number(key.readBigUInt64BE(1));
        const r = decodeRecord(value.subarray(32));
        const keys = [textKey('t', r.type, i), Buffer.concat([Buffer.from('s'), u64(r.time), u64(i)])];
        if (r.device !== undefined) keys.push(textKey('d', r.device, i));
        for (const k of keys) await db.put(k, Buffer.from([0]));
        entries += keys.length;
      }
      const meta = decodeCbor((await db.get(layout.META_KEY)) as Buffer) as Record<string, CborValue>;
      await db.put(layout.META_KEY, Buffer.from(encodeCbor({ ...meta, v: 2 })));
      await db.close();
      return entries;
    }

    /** Rewrites a ledger as format 1 wrote it: format 2's indexes, node checks the first 4 bytes of SHA-256(key || hash), meta v 1. */
    async function toFormat1(dir: string): Promise<{ nodes: number; entries: number }> {
      const entries = await toFormat2(dir);
      const db = await openRawDb(dir);
      let nodes = 0;
      for await (const [key, value] of db.iterator({ gte: Buffer.from('n'), lt: Buffer.from('o') })) {
        const v1 = Buffer.concat([value.subarray(0, 32), createHash('sha256').update(key).update(value.subarray(0, 32)).digest().subarray(0, 4)]);
        await db.put(key, v1);
        nodes++;
      }
      const meta = decodeCbor((await db.get(layout.META_KEY)) as Buffer) as Record<string, CborValue>;
      await db.put(layout.META_KEY, Buffer.from(encodeCbor({ ...meta, v: 1 })));
      await db.close();
      return { nodes, entries };
    }

    /** Every key and value of the directory, as hex. */
    async function dump(dir: string): Promise<string[]> {
      const db = await openRawDb(dir);
      const out: string[] = [];
      for await (const [key, value] of db.iterator()) out.push(`${toHex(key)}=${toHex(value)}`);
      await db.close();
      return out;
    }

    /** A ledger of 11 records in blocks of 4, 4 and 3 (close seals the last), as format 4 writes it: its keys and values. */
    async function sample(dir: string): Promise<string[]> {
      const ledger = await Ledger.open(dir, { name: 'example.com/f', gatewayKey, blockRecords: 4, blockSeconds: 0 });
      for (let i = 0; i < 11; i++) await ledger.append({ type: i % 3 ? 'reading' : 'note', ...(i % 2 ? { device: deviceA } : {}), time: 50 - i });
      await ledger.close();
      return dump(dir);
    }

    const refused = (err: unknown): boolean => isLedgerError(err, 'ERR_LEDGER_FORMAT') && /migrate/.test(err.message);

    /** Runs migrate in batches of 4, stopping it after batch `stop` for each of `stops`; the ledger stays refused in between. */
    async function interruptMigration(dir: string, stops: number[]): Promise<void> {
      for (const stop of stops) {
        let batches = 0;
        await assert.rejects(
          migrateLedger(dir, {
            batch: 4,
            afterBatch: () => {
              if (++batches === stop) throw new Error('interrupted');
            },
          }),
          /interrupted/,
        );
        await assert.rejects(Ledger.open(dir, { readOnly: true }), refused);
        await assert.rejects(auditLedger(dir, { workers: 0 }), refused);
      }
    }

    for (const from of [1, 2, 3] as const) {
      it(`format ${from} is refused with ERR_LEDGER_FORMAT by the ledger and the audit, and after migrate holds exactly what format 4 writes`, async () => {
        const { dir, cleanup } = tempDir();
        try {
          const written = await sample(dir);
          const old = from === 1 ? await toFormat1(dir) : from === 2 ? { nodes: 0, entries: await toFormat2(dir) } : { nodes: 0, entries: 0, low: await toFormat3(dir) };
          assert.equal(old.entries, from === 3 ? 0 : 11 + 11 + 5);
          await assert.rejects(Ledger.open(dir, { readOnly: true }), refused);
          await assert.rejects(auditLedger(dir, { workers: 0 }), refused);
          assert.deepEqual(await migrateLedger(dir), { from, to: 4, nodes: old.nodes, summaries: from === 3 ? 0 : 3, removed: old.entries, lowNodes: 11 });
          assert.deepEqual(await dump(dir), written);
          assert.deepEqual(await migrateLedger(dir), { from: 4, to: 4, nodes: 0, summaries: 0, removed: 0, lowNodes: 0 });
          const report = await auditLedger(dir, { workers: 0 });
          assert.equal(report.clean, true, JSON.stringify(report.findings));
          const reopened = await Ledger.open(dir, { gatewayKey });
          assert.equal(reopened.size, 11);
          assert.deepEqual((await collect(reopened.byDevice(deviceA))).map((r) => r.index), [1, 3, 5, 7, 9]);
          await reopened.append({ type: 'note', body: { after: 'migration' } });
          await reopened.close();
          assert.equal((await auditLedger(dir, { workers: 0 })).clean, true);
        } finally {
          cleanup();
        }
      });
    }

    it('an interrupted migration is finished by running migrate again', async () => {
      const { dir, cleanup } = tempDir();
      try {
        const written = await sample(dir);
        const { nodes, entries } = await toFormat1(dir);
        // three interruptions, each further on (batches of 4 of 30 nodes, 3 summaries, 27 deletions, 11 level-0 deletions)
        await interruptMigration(dir, [1, 3, 5]);
        const done = await migrateLedger(dir, { batch: 4 });
        assert.equal(done.to, 4);
        assert.ok(done.nodes < nodes && done.removed < entries && done.lowNodes === 11, JSON.stringify(done));
        assert.deepEqual(await dump(dir), written);
        assert.equal((await auditLedger(dir, { workers: 0 })).clean, true);
      } finally {
        cleanup();
      }
    });

    it('an interrupted migration from format 3 is finished by running migrate again', async () => {
      const { dir, cleanup } = tempDir();
      try {
        const written = await sample(dir);
        assert.equal(await toFormat3(dir), 11);
        await interruptMigration(dir, [1, 2]);
        const done = await migrateLedger(dir, { batch: 4 });
        // The first run stopped after deleting 4 of the 11, the second after deleting the other 7 but before
        // writing `v: 4`: the ledger was still refused, and the last run only writes the meta.
        assert.deepEqual(done, { from: 3, to: 4, nodes: 0, summaries: 0, removed: 0, lowNodes: 0 });
        assert.deepEqual(await dump(dir), written);
        assert.equal((await auditLedger(dir, { workers: 0 })).clean, true);
      } finally {
        cleanup();
      }
    });

    it('migrate refuses a format 3 level-0 node that disagrees with its record (evidence for the old audit)', async () => {
      const { dir, cleanup } = tempDir();
      try {
        await sample(dir);
        await toFormat3(dir);
        const db = await openRawDb(dir);
        const key = layout.nodeKey(0, 6);
        const other = ((await db.get(layout.recordKey(7))) as Buffer).subarray(0, 32);
        await db.put(key, layout.nodeValue(key, other));
        await db.close();
        await assert.rejects(migrateLedger(dir), (err: unknown) => isLedgerError(err, 'ERR_LEDGER_CORRUPT') && /record 6/.test(err.message));
        await assert.rejects(Ledger.open(dir, { readOnly: true }), refused);
      } finally {
        cleanup();
      }
    });

    it('migrate refuses a format 3 level-0 node whose record is missing', async () => {
      const { dir, cleanup } = tempDir();
      try {
        await sample(dir);
        await toFormat3(dir);
        const db = await openRawDb(dir);
        await db.del(layout.recordKey(6));
        await db.close();
        await assert.rejects(migrateLedger(dir), (err: unknown) => isLedgerError(err, 'ERR_LEDGER_CORRUPT') && /record 6\b/.test(err.message));
      } finally {
        cleanup();
      }
    });

    it('migrate refuses a format 1 node whose checksum fails', async () => {
      const { dir, cleanup } = tempDir();
      try {
        const ledger = await Ledger.open(dir, { name: 'example.com/f', gatewayKey });
        for (let i = 0; i < 4; i++) await ledger.append({ type: 'note', body: { i } });
        await ledger.close();
        await toFormat1(dir);
        const db = await openRawDb(dir);
        const key = layout.nodeKey(1, 0);
        const v = Buffer.from((await db.get(key)) as Buffer);
        v[0] ^= 1;
        await db.put(key, v);
        await db.close();
        await assert.rejects(migrateLedger(dir), (err: unknown) => isLedgerError(err, 'ERR_LEDGER_CORRUPT'));
      } finally {
        cleanup();
      }
    });
  });
});

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** {"v":1,"type":"note","time":1} with keys in insertion order, not the deterministic order. */
function encodeCborUnsorted(): Uint8Array {
  return Uint8Array.from([0xa3, ...encodeCbor('v'), 1, ...encodeCbor('type'), ...encodeCbor('note'), ...encodeCbor('time'), 1]);
}
