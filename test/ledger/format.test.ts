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
import { decodeRecord, encodeRecord, Ledger, migrateLedger, type LedgerRecord } from '../../lib/ledger';
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
      assert.equal(toHex(layout.deviceKey('did:key:z6Mk', 5)), '64' + toHex(Buffer.from('did:key:z6Mk')) + '00' + '0000000000000005');
      assert.equal(toHex(layout.typeKey('reading', 258)), '74' + toHex(Buffer.from('reading')) + '00' + '0000000000000102');
      assert.equal(toHex(layout.timeKey(1_700_000_000_000, 1)), '73' + '0000018bcfe56800' + '0000000000000001');
      assert.equal(layout.indexOfKey(layout.timeKey(5, 2 ** 40 + 3)), 2 ** 40 + 3);
    });

    it('keeps index keys of one device or type together, ordered by index', () => {
      const keys = [layout.deviceKey('did:key:a', 300), layout.deviceKey('did:key:ab', 1), layout.deviceKey('did:key:a', 2)];
      const sorted = [...keys].sort((a, b) => Buffer.compare(a, b)).map((k) => toHex(k));
      assert.deepEqual(sorted, [keys[2], keys[0], keys[1]].map((k) => toHex(k)));
    });

    it('stores records as leaf hash || bytes and nodes with a CRC-32 over key and hash (format 2)', () => {
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

    it('writes index entries with the one-byte value 0x00 (empty values leak in classic-level)', async () => {
      const { dir, cleanup } = tempDir();
      try {
        const ledger = await Ledger.open(dir, { name: 'example.com/f', gatewayKey });
        await ledger.append({ type: 'reading', device: deviceA, time: 5 });
        await ledger.close();
        const db = await openRawDb(dir);
        for (const key of [layout.deviceKey(deviceA, 0), layout.typeKey('reading', 0), layout.timeKey(5, 0)])
          assert.equal(toHex((await db.get(key)) as Buffer), '00');
        await db.close();
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

  describe('format 1 ledgers', () => {
    /** Rewrites a ledger as format 1 wrote it: node checks are the first 4 bytes of SHA-256(key || hash), meta v 1. */
    async function downgrade(dir: string): Promise<number> {
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
      return nodes;
    }

    it('are refused with ERR_LEDGER_FORMAT by the ledger and the audit, and open and audit clean after migrate', async () => {
      const { dir, cleanup } = tempDir();
      try {
        const ledger = await Ledger.open(dir, { name: 'example.com/f', gatewayKey, blockRecords: 4 });
        for (let i = 0; i < 11; i++) await ledger.append({ type: 'reading', device: deviceA, time: 5 + i });
        await ledger.close();
        const nodes = await downgrade(dir);
        await assert.rejects(Ledger.open(dir, { readOnly: true }), (err: unknown) => isLedgerError(err, 'ERR_LEDGER_FORMAT') && /migrate/.test(err.message));
        await assert.rejects(auditLedger(dir, { workers: 0 }), (err: unknown) => isLedgerError(err, 'ERR_LEDGER_FORMAT'));
        assert.deepEqual(await migrateLedger(dir), { from: 1, to: 2, nodes });
        assert.deepEqual(await migrateLedger(dir), { from: 2, to: 2, nodes: 0 });
        const report = await auditLedger(dir, { workers: 0 });
        assert.equal(report.clean, true, JSON.stringify(report.findings));
        const reopened = await Ledger.open(dir, { gatewayKey });
        assert.equal(reopened.size, 11);
        await reopened.append({ type: 'note', body: { after: 'migration' } });
        await reopened.close();
        assert.equal((await auditLedger(dir, { workers: 0 })).clean, true);
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
        await downgrade(dir);
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

/** {"v":1,"type":"note","time":1} with keys in insertion order, not the deterministic order. */
function encodeCborUnsorted(): Uint8Array {
  return Uint8Array.from([0xa3, ...encodeCbor('v'), 1, ...encodeCbor('type'), ...encodeCbor('note'), ...encodeCbor('time'), 1]);
}
