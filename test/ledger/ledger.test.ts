import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mock } from 'node:test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openRawDb } from '../support/raw-db';
import { bytesEqual, toHex } from '../../lib/encoding/bytes';
import { openCheckpoint, signCheckpoint } from '../../lib/note/checkpoint';
import { encodeCbor } from '../../lib/encoding/codec';
import { generateKey, keyToDid } from '../../lib/crypto';
import { isLedgerError, type ErrorCode } from '../../lib/errors';
import { sha256 } from '../../lib/crypto/hash';
import { referenceCrc32 } from '../support/crc32-reference';
import { Ledger, MAX_BLOCK_BYTES, MAX_BLOCK_RECORDS, verifyConsistencyBundle, verifyProofBundle, type BlockInfo, type Receipt, type RecordInput } from '../../lib/ledger';
import { writeKeyFile } from '../../lib/crypto/keyfile';
import * as merkle from '../../lib/merkle';
import { collect, deviceA, deviceB, gatewayKey, recomputeRoot, tempDir } from '../support/ledger';
import { projectRoot } from '../support/paths';
import { auditLedger } from '../../lib/audit';

const NAME = 'example.com/cold-room';

async function rejects(p: Promise<unknown> | (() => unknown), code: ErrorCode, match?: RegExp): Promise<void> {
  await assert.rejects(
    async () => (typeof p === 'function' ? p() : p),
    (err: unknown) => {
      assert.ok(isLedgerError(err, code), `expected ${code}, got ${String((err as { code?: string }).code)}: ${(err as Error).message}`);
      if (match) assert.match((err as Error).message, match);
      return true;
    },
  );
}

function reading(i: number, device = i % 2 ? deviceA : deviceB, time?: number): RecordInput {
  return { type: i % 3 === 0 ? 'note' : 'reading', device, body: { seq: i, celsius: -20 - i / 10 }, ...(time === undefined ? {} : { time }) };
}

describe('Ledger', function () {
  let tmp: ReturnType<typeof tempDir>;
  let n = 0;
  const fresh = (): string => path.join(tmp.dir, `l${n++}`);
  before(() => {
    tmp = tempDir();
  });
  after(() => tmp.cleanup());

  describe('appends and reads', () => {
    let ledger: Ledger;
    let receipts: Receipt[];
    const T0 = 1_700_000_000_000;
    before(async () => {
      let clock = T0;
      ledger = await Ledger.open(fresh(), { name: NAME, gatewayKey, blockRecords: 1000, now: () => clock++ });
      receipts = await Promise.all(Array.from({ length: 30 }, (_, i) => ledger.append(reading(i))));
    });
    after(() => ledger.close());

    it('knows its name, gateway did:key and verifier key', () => {
      assert.equal(ledger.name, NAME);
      assert.match(ledger.gatewayDid, /^did:key:z6Mk/);
      assert.match(ledger.verifierKey, /^example\.com\/cold-room\+[0-9a-f]{8}\+/);
    });

    it('returns receipts in order with index, leaf hash, time and the block to be', async () => {
      assert.deepEqual(
        receipts.map((r) => r.index),
        Array.from({ length: 30 }, (_, i) => i),
      );
      assert.equal(ledger.size, 30);
      assert.equal(ledger.pending, 30);
      assert.equal(ledger.height, 0);
      for (const r of receipts) {
        const stored = await ledger.get(r.index);
        assert.equal(toHex(stored.leafHash), r.leafHash);
        assert.equal(toHex(merkle.leafHash(stored.bytes)), r.leafHash);
        assert.equal(stored.record.time, r.time);
        assert.equal(r.block, 0);
      }
    });

    it('reads by index and range', async () => {
      const r = await ledger.get(7);
      assert.deepEqual(r.record, { v: 1, type: 'reading', time: receipts[7].time, device: deviceA, body: { seq: 7, celsius: -20.7 } });
      assert.deepEqual(
        (await collect(ledger.range(5, 9))).map((x) => x.index),
        [5, 6, 7, 8],
      );
      assert.equal((await collect(ledger.range(0))).length, 30);
      assert.equal((await collect(ledger.range(25, 100))).length, 5);
      await rejects(ledger.get(30), 'ERR_NOT_FOUND');
      await rejects(ledger.get(-1), 'ERR_INVALID_ARGUMENT');
    });

    it('reads by device, type and time, with from/to/limit', async () => {
      const a = await collect(ledger.byDevice(deviceA));
      assert.deepEqual(
        a.map((x) => x.index),
        Array.from({ length: 15 }, (_, i) => 2 * i + 1),
      );
      assert.ok(a.every((x) => x.record.device === deviceA));
      assert.deepEqual(
        (await collect(ledger.byDevice(deviceB, { from: 10, to: 20, limit: 3 }))).map((x) => x.index),
        [10, 12, 14],
      );
      const notes = await collect(ledger.byType('note'));
      assert.deepEqual(
        notes.map((x) => x.index),
        [0, 3, 6, 9, 12, 15, 18, 21, 24, 27],
      );
      assert.equal((await collect(ledger.byType('reading'))).length, 20);
      assert.equal((await collect(ledger.byType('nothing'))).length, 0);
      const t = receipts[10].time;
      const inTime = await collect(ledger.byTime(t, t + 5));
      assert.deepEqual(
        inTime.map((x) => x.index),
        receipts.filter((r) => r.time >= t && r.time < t + 5).map((r) => r.index),
      );
      assert.equal((await collect(ledger.byTime(0, Number.MAX_SAFE_INTEGER, { limit: 4 }))).length, 4);
      assert.equal((await collect(ledger.byTime(t, t))).length, 0);
    });

    it('orders byTime by gateway time, not by index', async () => {
      const dir = fresh();
      const l = await Ledger.open(dir, { name: NAME, gatewayKey });
      await l.appendMany([reading(0, deviceA, 300), reading(1, deviceA, 100), reading(2, deviceA, 200)]);
      assert.deepEqual(
        (await collect(l.byTime(0, 1000))).map((x) => x.record.time),
        [100, 200, 300],
      );
      await l.close();
    });
  });

  it('answers queries from block summaries exactly as a filter over every record would, sealed blocks and open block alike', async () => {
    // Blocks of 7; times go back and forth across blocks; types and devices come and go; the
    // last 5 records stay in the open block, summarised in memory.
    const dir = fresh();
    const l = await Ledger.open(dir, { name: NAME, gatewayKey, blockRecords: 7, blockSeconds: 0 });
    const N = 61;
    const timeOf = (i: number): number => 1000 + ((i * 37) % 23) * 10;
    for (let i = 0; i < N; i += 4) {
      const batch = [];
      for (let j = i; j < Math.min(N, i + 4); j++) {
        const device = j % 5 === 0 ? undefined : j % 3 === 0 ? deviceB : deviceA;
        batch.push({ type: j % 11 === 0 ? 'rare' : j % 2 ? 'reading' : 'note', time: timeOf(j), ...(device ? { device } : {}), body: { j } });
      }
      await l.appendMany(batch);
    }
    assert.equal(l.pending, N % 7);
    const all = await collect(l.range(0));
    const check = async (): Promise<void> => {
      const cases: { what: string; got: AsyncIterable<{ index: number }>; want: (typeof all)[number][] }[] = [];
      for (const opts of [{}, { reverse: true }, { from: 9, to: 50 }, { from: 9, to: 50, reverse: true }, { limit: 3 }, { limit: 3, reverse: true }, { from: 58 }]) {
        const within = (r: { index: number }): boolean => r.index >= ((opts as { from?: number }).from ?? 0) && r.index < ((opts as { to?: number }).to ?? N);
        const shape = (rs: typeof all): typeof all => {
          const o = (opts as { reverse?: boolean }).reverse ? [...rs].reverse() : rs;
          return o.slice(0, (opts as { limit?: number }).limit ?? N);
        };
        for (const type of ['rare', 'reading', 'note', 'none'])
          cases.push({ what: `type ${type} ${JSON.stringify(opts)}`, got: l.byType(type, opts), want: shape(all.filter((r) => r.record.type === type && within(r))) });
        for (const d of [deviceA, deviceB])
          cases.push({ what: `device ${d === deviceA ? 'A' : 'B'} ${JSON.stringify(opts)}`, got: l.byDevice(d, opts), want: shape(all.filter((r) => r.record.device === d && within(r))) });
        if ((opts as { reverse?: boolean }).reverse) continue;
        for (const [a, b] of [[0, 5000], [1050, 1130], [1100, 1101], [1220, 1300]]) {
          const byTime = all.filter((r) => r.record.time >= a && r.record.time < b && within(r)).sort((x, y) => x.record.time - y.record.time || x.index - y.index);
          cases.push({ what: `time ${a}..${b} ${JSON.stringify(opts)}`, got: l.byTime(a, b, opts), want: byTime.slice(0, (opts as { limit?: number }).limit ?? N) });
        }
      }
      for (const c of cases) assert.deepEqual((await collect(c.got)).map((r) => r.index), c.want.map((r) => r.index), c.what);
    };
    await check();
    await l.close(); // seals the open block
    // Reopened, one more record in a new open block (its summary rebuilt on open, then extended).
    const again = await Ledger.open(dir, { gatewayKey, blockRecords: 7, blockSeconds: 0 });
    assert.equal(again.pending, 0);
    await again.append({ type: 'rare', time: 1001 });
    all.push(await again.get(N));
    const rare = all.filter((r) => r.record.type === 'rare').map((r) => r.index);
    assert.deepEqual((await collect(again.byType('rare'))).map((r) => r.index), rare);
    assert.deepEqual((await collect(again.byType('rare', { reverse: true, limit: 2 }))).map((r) => r.index), rare.reverse().slice(0, 2));
    const early = all.filter((r) => r.record.time >= 1000 && r.record.time < 1011).sort((x, y) => x.record.time - y.record.time || x.index - y.index);
    assert.ok(early.length >= 3);
    assert.deepEqual((await collect(again.byTime(1000, 1011))).map((r) => r.index), early.map((r) => r.index));
    await again.close();
  });

  it('group-commits concurrent appends into fewer synced writes', async () => {
    const ledger = await Ledger.open(fresh(), { name: NAME, gatewayKey });
    const writes: Receipt[][] = [];
    ledger.on('append', (r: Receipt[]) => writes.push(r));
    const receipts = await Promise.all(Array.from({ length: 200 }, (_, i) => ledger.append(reading(i))));
    await new Promise((r) => setImmediate(r));
    assert.equal(receipts.length, 200);
    assert.equal(
      writes.reduce((s, w) => s + w.length, 0),
      200,
    );
    assert.ok(writes.length < 20, `200 concurrent appends took ${writes.length} writes`);
    assert.deepEqual(
      writes.flat().map((r) => r.index),
      receipts.map((r) => r.index),
    );
    await ledger.close();
  });

  it('plans appends that arrive turn by turn during a write into the next one, across block boundaries, and audits clean', async () => {
    const dir = fresh();
    const ledger = await Ledger.open(dir, { name: NAME, gatewayKey, blockRecords: 7, blockSeconds: 0 });
    const writes: number[] = [];
    ledger.on('append', (r: Receipt[]) => writes.push(r.length));
    const receipts: Promise<Receipt>[] = [];
    // 60 turns, 1 to 3 appends each (as a flow delivers messages), while writes are in flight.
    await new Promise<void>((resolve) => {
      let turn = 0;
      const next = (): void => {
        for (let k = 0; k <= turn % 3; k++) receipts.push(ledger.append({ type: turn % 2 ? 'a' : 'b', device: turn % 4 ? deviceA : deviceB, body: { turn, k } }));
        if (++turn < 60) setImmediate(next);
        else resolve();
      };
      next();
    });
    const all = await Promise.all(receipts);
    await new Promise((r) => setImmediate(r)); // the last write's 'append' event comes on a later tick
    assert.deepEqual(
      all.map((r) => r.index),
      all.map((_, i) => i),
    );
    assert.equal(
      writes.reduce((a, b) => a + b, 0),
      all.length,
    );
    assert.ok(writes.some((n) => n > 3), `some write carried the appends of several turns: ${writes.join(' ')}`);
    const { root } = await recomputeRoot(ledger);
    assert.equal(toHex(await ledger.rootAt(ledger.size)), toHex(root));
    await ledger.close();
    const report = await auditLedger(dir, { workers: 0 });
    assert.equal(report.clean, true, JSON.stringify(report.findings.slice(0, 3)));
    assert.equal(report.size, all.length);
  });

  describe('blocks', () => {
    it('seals every blockRecords records, exactly at the boundary, chaining headers', async () => {
      const ledger = await Ledger.open(fresh(), { name: NAME, gatewayKey, blockRecords: 5, blockSeconds: 0 });
      const blocks: BlockInfo[] = [];
      ledger.on('block', (b: BlockInfo) => blocks.push(b));
      const receipts = await ledger.appendMany(Array.from({ length: 12 }, (_, i) => reading(i)));
      receipts.push(...(await Promise.all(Array.from({ length: 11 }, (_, i) => ledger.append(reading(12 + i))))));
      assert.equal(ledger.height, 4);
      assert.equal(ledger.pending, 3);
      assert.deepEqual(
        receipts.map((r) => r.block),
        receipts.map((r) => Math.floor(r.index / 5)),
      );
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(
        blocks.map((b) => [b.height, b.header.first, b.header.size]),
        [
          [0, 0, 5],
          [1, 5, 10],
          [2, 10, 15],
          [3, 15, 20],
        ],
      );
      assert.equal((await ledger.blockOf(0))?.height, 0);
      assert.equal((await ledger.blockOf(14))?.height, 2);
      assert.equal((await ledger.blockOf(19))?.height, 3);
      assert.equal(await ledger.blockOf(20), null);
      const latest = await ledger.latestBlock();
      assert.equal(latest?.height, 3);
      await ledger.close();
      const again = await Ledger.open(ledger.dir, { readOnly: true });
      assert.equal(again.height, 5, 'close sealed the 3 pending records');
      assert.equal(again.pending, 0);
      await checkChain(again);
      await again.close();
    });

    it('seals after blockSeconds, from the first pending record, and never an empty block', async () => {
      // The block timer runs on a mocked clock: a tick fires every timer due at once, and a
      // seal it starts is queued before the next append, so that append's result shows it.
      mock.timers.enable({ apis: ['setTimeout'] });
      const ledger = await Ledger.open(fresh(), { name: NAME, gatewayKey, blockRecords: 1000, blockSeconds: 0.15 });
      try {
        await ledger.appendMany([reading(0), reading(1)]);
        await ledger.append(reading(2));
        mock.timers.tick(149);
        await ledger.append(reading(3));
        assert.equal(ledger.height, 0, 'not before blockSeconds');
        assert.equal(ledger.pending, 4);
        const sealed = new Promise<BlockInfo>((resolve) => ledger.once('block', resolve));
        mock.timers.tick(1);
        const block = await sealed;
        assert.equal(block.header.size, 4);
        assert.equal(ledger.height, 1);
        assert.equal(ledger.pending, 0);
        // Nothing pending: however long it waits, no timer seals an (empty) block.
        mock.timers.tick(3_600_000);
        await ledger.append(reading(4));
        assert.equal(ledger.height, 1);
        assert.equal(ledger.pending, 1);
        const next = new Promise<BlockInfo>((resolve) => ledger.once('block', resolve));
        mock.timers.tick(150);
        assert.equal((await next).header.size, 5);
        assert.equal(ledger.height, 2);
      } finally {
        mock.timers.reset();
        await ledger.close();
      }
    });

    it('seal() seals now and returns null when nothing is pending; close seals and is idempotent', async () => {
      const ledger = await Ledger.open(fresh(), { name: NAME, gatewayKey, blockSeconds: 0 });
      assert.equal(await ledger.seal(), null);
      await ledger.append(reading(0));
      const b = await ledger.seal();
      assert.equal(b?.header.size, 1);
      assert.equal(await ledger.seal(), null);
      await ledger.append(reading(1));
      const closing = ledger.close();
      assert.equal(ledger.close(), closing);
      await closing;
      await ledger.close();
      await rejects(ledger.append(reading(2)), 'ERR_LEDGER_CLOSED');
      await rejects(ledger.get(0), 'ERR_LEDGER_CLOSED');
      const again = await Ledger.open(ledger.dir, { readOnly: true });
      assert.equal(again.height, 2);
      await again.close();
    });

    it(`blockRecords is a whole number from 1 to MAX_BLOCK_RECORDS (${MAX_BLOCK_RECORDS}, what a replica takes by default)`, async () => {
      for (const blockRecords of [0, -1, 1.5, MAX_BLOCK_RECORDS + 1, Number.MAX_SAFE_INTEGER]) {
        const dir = fresh();
        await rejects(Ledger.open(dir, { name: NAME, gatewayKey, blockRecords }), 'ERR_INVALID_ARGUMENT', new RegExp(`blockRecords .* from 1 to ${MAX_BLOCK_RECORDS}`));
        assert.equal(fs.existsSync(dir), false);
      }
      await (await Ledger.open(fresh(), { name: NAME, gatewayKey, blockRecords: MAX_BLOCK_RECORDS })).close();
    });

    it('a ledger name with a control character is refused before anything is created: its checkpoints could never be signed', async () => {
      for (const name of ['cold\u001b[2Jroom', 'cold\u0000room', 'tab\u0009name', 'bell\u0007']) {
        const dir = fresh();
        await rejects(Ledger.open(dir, { name, gatewayKey }), 'ERR_INVALID_ARGUMENT', /control character/);
        assert.equal(fs.existsSync(dir), false);
      }
      // What a signed note allows in a key name stays allowed: DEL and characters past ASCII.
      const ledger = await Ledger.open(fresh(), { name: 'kühlraum.example/\u007f-1', gatewayKey, blockRecords: 1 });
      await ledger.append({ type: 'note', body: { i: 0 } });
      assert.equal(ledger.height, 1);
      await ledger.close();
    });

    it('seals the open block before a record that would take its records past MAX_BLOCK_BYTES, also after a restart', async () => {
      const dir = fresh();
      const keyFile = path.join(tmp.dir, `key-${n++}.json`);
      writeKeyFile(keyFile, gatewayKey);
      const T = 1765000000000;
      // The record's map without its body text, plus the 5-byte head of a text of 64 KiB or more.
      const fixed = encodeCbor({ v: 1, type: 'note', time: T, body: '' }).length - 1 + 5;
      const note = (bytes: number): RecordInput => ({ type: 'note', time: T, body: 'x'.repeat(bytes - fixed) });
      const opts = { name: NAME, blockRecords: 1000, blockSeconds: 0, maxRecordBytes: MAX_BLOCK_BYTES };
      const first = 40 * 1024 * 1024;
      // Another process appends the first record and exits without closing (no seal): the
      // open block's bytes must be rebuilt from its records when the ledger opens again.
      const script = `
        const { Ledger } = require(${JSON.stringify(path.join(projectRoot, 'dist', 'lib', 'ledger'))});
        const { readPrivateKeyFile } = require(${JSON.stringify(path.join(projectRoot, 'dist', 'lib', 'crypto', 'keyfile'))});
        Ledger.open(${JSON.stringify(dir)}, { ...${JSON.stringify(opts)}, gatewayKey: readPrivateKeyFile(${JSON.stringify(keyFile)}) })
          .then((l) => l.append({ type: 'note', time: ${T}, body: 'x'.repeat(${first - fixed}) }))
          .then((r) => { console.log('APPENDED ' + r.block); process.exit(0); }, (e) => { console.log(e.code + ' ' + e.message); process.exit(1); });`;
      const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60000 });
      assert.equal(child.stdout.trim(), 'APPENDED 0', child.stderr);
      const ledger = await Ledger.open(dir, { ...opts, gatewayKey });
      try {
        assert.deepEqual([ledger.size, ledger.height, ledger.pending], [1, 0, 1]);
        // Exactly MAX_BLOCK_BYTES: still one block.
        const [fill] = await ledger.appendMany([note(MAX_BLOCK_BYTES - first)]);
        assert.equal(fill?.block, 0);
        assert.equal(ledger.height, 0);
        // One byte more would pass it: the block is sealed first, the record opens the next one.
        const small = await ledger.append(note(fixed + 1));
        assert.deepEqual([small.index, small.block, ledger.height, ledger.pending], [2, 1, 1, 1]);
        const block = await ledger.block(0);
        assert.deepEqual([block.header.first, block.header.size], [0, 2]);
        let bytes = 0;
        for await (const r of ledger.range(0, 2)) bytes += r.bytes.length;
        assert.equal(bytes, MAX_BLOCK_BYTES);
      } finally {
        await ledger.close();
      }
    });

    it('appends issued before close() are written and sealed', async () => {
      const ledger = await Ledger.open(fresh(), { name: NAME, gatewayKey, blockSeconds: 0 });
      const pending = Array.from({ length: 10 }, (_, i) => ledger.append(reading(i)));
      await ledger.close();
      assert.equal((await Promise.all(pending)).length, 10);
      const again = await Ledger.open(ledger.dir, { readOnly: true });
      assert.equal(again.size, 10);
      assert.equal((await again.latestBlock())?.header.size, 10);
      await again.close();
    });
  });

  /** Checks the header chain, header hashes, roots and checkpoint signatures of every block. */
  async function checkChain(ledger: Ledger): Promise<BlockInfo[]> {
    const blocks: BlockInfo[] = [];
    for (let h = 0; h < ledger.height; h++) {
      const b = await ledger.block(h);
      const prev = h === 0 ? new Uint8Array(32) : blocks[h - 1].hash;
      assert.ok(bytesEqual(b.header.prev, prev), `block ${h} chains to ${h - 1}`);
      assert.equal(b.header.first, h === 0 ? 0 : blocks[h - 1].header.size);
      const bytes = encodeCbor({ ...b.header });
      assert.ok(bytesEqual(sha256(bytes), b.hash), `header hash of block ${h}`);
      assert.ok(bytesEqual(await ledger.rootAt(b.header.size), b.header.root));
      const cp = openCheckpoint(b.checkpoint, ledger.verifierKey);
      assert.equal(cp.origin, ledger.name);
      assert.equal(cp.size, b.header.size);
      assert.ok(bytesEqual(cp.root, b.header.root));
      blocks.push(b);
    }
    return blocks;
  }

  describe('proofs', () => {
    let ledger: Ledger;
    let leaves: Uint8Array[];
    const SIZE = 37;
    before(async () => {
      ledger = await Ledger.open(fresh(), { name: NAME, gatewayKey, blockRecords: 4, blockSeconds: 0 });
      for (let i = 0; i < SIZE; i += 3) await ledger.appendMany([reading(i), reading(i + 1), reading(i + 2)].slice(0, Math.min(3, SIZE - i)));
      leaves = (await collect(ledger.range(0))).map((r) => r.leafHash);
      assert.equal(leaves.length, SIZE);
    });
    after(() => ledger.close());

    it('roots at every size equal the recomputed MTH', async () => {
      for (let size = 0; size <= SIZE; size++) {
        assert.ok(bytesEqual(await ledger.rootAt(size), merkle.rootFromLeafHashes(leaves.slice(0, size))), `root at ${size}`);
      }
      await rejects(ledger.rootAt(SIZE + 1), 'ERR_INVALID_ARGUMENT');
    });

    it('inclusion proofs for every index at several sizes verify and match the reference', async () => {
      for (const size of [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 32, 33, SIZE]) {
        const root = merkle.rootFromLeafHashes(leaves.slice(0, size));
        for (let index = 0; index < size; index++) {
          const proof = await ledger.inclusionProof(index, size);
          assert.ok(merkle.verifyInclusion(leaves[index], index, size, proof, root), `inclusion ${index} in ${size}`);
          assert.deepEqual(proof, merkle.inclusionProof(leaves, index, size));
        }
      }
      await rejects(ledger.inclusionProof(5, 5), 'ERR_INVALID_ARGUMENT');
      await rejects(ledger.inclusionProof(0, SIZE + 1), 'ERR_INVALID_ARGUMENT');
    });

    it('consistency proofs between every pair of checkpoints verify', async () => {
      const blocks = await checkChain(ledger);
      assert.equal(blocks.length, 9);
      const cps = blocks.map((b) => openCheckpoint(b.checkpoint, ledger.verifierKey));
      for (let i = 0; i < cps.length; i++) {
        for (let j = i; j < cps.length; j++) {
          const proof = await ledger.consistencyProof(cps[i].size, cps[j].size);
          assert.ok(merkle.verifyConsistency(cps[i].size, cps[j].size, proof, cps[i].root, cps[j].root), `consistency ${i} -> ${j}`);
          assert.deepEqual(proof, merkle.consistencyProof(leaves, cps[i].size, cps[j].size));
        }
      }
      for (let s1 = 0; s1 <= SIZE; s1++) {
        const proof = await ledger.consistencyProof(s1, SIZE);
        if (s1 === 0) assert.deepEqual(proof, [], 'every tree extends the empty one: no proof hashes');
        assert.ok(merkle.verifyConsistency(s1, SIZE, proof, merkle.rootFromLeafHashes(leaves.slice(0, s1)), await ledger.rootAt(SIZE)));
      }
    });

    it('a consistency bundle from a checkpoint of the empty tree to the latest is built with the ledger\'s empty proof and verifies', async () => {
      const latest = await ledger.latestBlock();
      assert.ok(latest, 'a sealed block');
      const size = latest.header.size;
      const empty = signCheckpoint({ origin: NAME, size: 0, root: merkle.EMPTY_ROOT, extensions: [] }, NAME, gatewayKey);
      const proof = await ledger.consistencyProof(0, size);
      assert.deepEqual(proof, []);
      const bundle = { format: 'iot-ledger-consistency/1', checkpoint1: empty, checkpoint2: latest.checkpoint, proof: proof.map((h) => Buffer.from(h).toString('base64')), verifier: ledger.verifierKey };
      assert.deepEqual(verifyConsistencyBundle(bundle, ledger.gatewayDid), { origin: NAME, size1: 0, size2: size });
      // The gateway signs no checkpoint of the empty tree (every block holds a record): the ledger has none to put in a bundle.
      await rejects(ledger.consistencyBundle(0), 'ERR_NOT_FOUND', /no checkpoint at tree size 0/);
    });

    it('proof bundles verify with the verifier key and the did:key; tampering is caught', async () => {
      for (const index of [36, 0, 5, 31]) {
        // 36 is not in a block yet: the first bundle seals it
        const bundle = await ledger.proofBundle(index);
        assert.equal(bundle.format, 'iot-ledger-proof/1');
        assert.equal(bundle.verifier, ledger.verifierKey);
        for (const key of [ledger.verifierKey, ledger.gatewayDid]) {
          const v = verifyProofBundle(JSON.parse(JSON.stringify(bundle)), key);
          assert.equal(v.index, index);
          assert.deepEqual(v.record, (await ledger.get(index)).record);
          assert.deepEqual(v.checkpoint, { origin: NAME, size: SIZE });
        }
      }
      const bundle = await ledger.proofBundle(2, 1);
      assert.equal(verifyProofBundle(bundle, ledger.gatewayDid).checkpoint.size, 8);
      await rejects(ledger.proofBundle(9, 1), 'ERR_INVALID_ARGUMENT');
      const bad = (patch: Record<string, unknown>, key = ledger.gatewayDid) => () => verifyProofBundle({ ...bundle, ...patch }, key);
      assert.throws(bad({ index: 3 }), { code: 'ERR_MALFORMED_PROOF' });
      assert.throws(bad({ proof: [...bundle.proof].reverse() }), { code: 'ERR_MALFORMED_PROOF' });
      assert.throws(bad({ proof: bundle.proof.slice(1) }), { code: 'ERR_MALFORMED_PROOF' });
      const otherRecord = Buffer.from((await ledger.get(3)).bytes).toString('base64');
      assert.throws(bad({ record: otherRecord }), { code: 'ERR_MALFORMED_PROOF' });
      assert.throws(bad({ checkpoint: bundle.checkpoint.replace('\n8\n', '\n9\n') }), { code: 'ERR_BAD_SIGNATURE' });
      // A verified checkpoint is remembered by key and exact text: a changed signature is checked again.
      const sigAt = bundle.checkpoint.lastIndexOf(' ') + 12;
      const flipped = bundle.checkpoint.slice(0, sigAt) + (bundle.checkpoint[sigAt] === 'A' ? 'B' : 'A') + bundle.checkpoint.slice(sigAt + 1);
      assert.throws(bad({ checkpoint: flipped }), { code: 'ERR_BAD_SIGNATURE' });
      assert.throws(bad({ format: 'other' }), { code: 'ERR_MALFORMED_PROOF' });
      assert.throws(bad({ record: '***' }), { code: 'ERR_MALFORMED_PROOF' });
      const stranger = generateKey('Ed25519');
      assert.throws(bad({}, keyToDid(stranger)), { code: 'ERR_BAD_SIGNATURE' });
      assert.throws(() => verifyProofBundle(null, ledger.gatewayDid), { code: 'ERR_MALFORMED_PROOF' });
      assert.throws(bad({}, 'not a key'), { code: 'ERR_INVALID_ARGUMENT' });
    });

    it("a proof bundle's checkpoint must carry a well-formed block header line its size can reach, even when the gateway signed it", async () => {
      const bundle = await ledger.proofBundle(2, 1);
      const cp = openCheckpoint(bundle.checkpoint);
      const [line = ''] = cp.extensions;
      const hash = line.split(' ')[3] ?? '';
      const resigned = (extensions: string[]) => ({ ...bundle, checkpoint: signCheckpoint({ ...cp, extensions }, NAME, gatewayKey) });
      const refused = (e: unknown): boolean => isLedgerError(e, 'ERR_MALFORMED_PROOF') && /block header line/.test((e as Error).message);
      for (const extensions of [
        ['iot-ledger header one ' + hash], // not a height
        ['iot-ledger header 1 AAAA'], // not a 32-byte hash
        [line, 'iot-ledger header 2 ' + hash], // two headers for one checkpoint
        [`iot-ledger header ${cp.size} ${hash}`], // block 8 cannot end at tree size 8: each block holds a record
      ])
        assert.throws(() => verifyProofBundle(resigned(extensions), ledger.verifierKey), refused, extensions.join(' | '));
      // The line as the gateway writes it, or none (checkpoints written before format 2), or beside other extension lines.
      for (const extensions of [[line], [], ['other/extension 1', line]]) assert.equal(verifyProofBundle(resigned(extensions), ledger.verifierKey).index, 2);
    });

    it('proofBundle seals first when the record is not in a block yet', async () => {
      const l = await Ledger.open(fresh(), { name: NAME, gatewayKey, blockSeconds: 0 });
      await l.appendMany([reading(0), reading(1), reading(2)]);
      assert.equal(l.height, 0);
      const bundle = await l.proofBundle(1);
      assert.equal(l.height, 1);
      assert.equal(verifyProofBundle(bundle, l.gatewayDid).checkpoint.size, 3);
      await l.close();
      const ro = await Ledger.open(l.dir, { readOnly: true });
      assert.equal(verifyProofBundle(await ro.proofBundle(2), l.verifierKey).index, 2);
      await ro.close();
    });
  });

  describe('reopening', () => {
    it('resumes with the same roots, blocks and a continuing index', async () => {
      const dir = fresh();
      let ledger = await Ledger.open(dir, { name: NAME, gatewayKey, blockRecords: 10, blockSeconds: 0 });
      await ledger.appendMany(Array.from({ length: 25 }, (_, i) => reading(i)));
      const roots = await Promise.all([1, 10, 17, 25].map((s) => ledger.rootAt(s)));
      const blocks = [await ledger.block(0), await ledger.block(1)];
      await ledger.close();
      ledger = await Ledger.open(dir, { gatewayKey, blockRecords: 10, blockSeconds: 0 });
      assert.equal(ledger.size, 25);
      assert.equal(ledger.height, 3);
      assert.deepEqual(await Promise.all([1, 10, 17, 25].map((s) => ledger.rootAt(s))), roots);
      assert.deepEqual([await ledger.block(0), await ledger.block(1)], blocks);
      const r = await ledger.append(reading(25));
      assert.equal(r.index, 25);
      assert.equal(r.block, 3);
      const again = await recomputeRoot(ledger);
      assert.ok(bytesEqual(again.root, await ledger.rootAt(26)));
      await checkChain(ledger);
      await ledger.close();
    });

    it('refuses another gateway key or name, and a missing key when appending', async () => {
      const dir = fresh();
      await (await Ledger.open(dir, { name: NAME, gatewayKey })).close();
      await rejects(Ledger.open(dir, { gatewayKey: generateKey('Ed25519') }), 'ERR_INVALID_ARGUMENT', /gateway key/);
      await rejects(Ledger.open(dir, { name: 'other', gatewayKey }), 'ERR_INVALID_ARGUMENT', /named/);
      await rejects(Ledger.open(dir, {}), 'ERR_INVALID_ARGUMENT', /gatewayKey/);
      await rejects(Ledger.open(fresh(), { gatewayKey }), 'ERR_INVALID_ARGUMENT', /name/);
      await rejects(Ledger.open(fresh(), { name: 'has space', gatewayKey }), 'ERR_INVALID_ARGUMENT');
      await rejects(Ledger.open(fresh(), { name: NAME, gatewayKey: generateKey('ES256') }), 'ERR_INVALID_ARGUMENT', /Ed25519/);
      // still usable afterwards
      await (await Ledger.open(dir, { gatewayKey })).close();
    });

    it('read-only: no key needed, appends refused, missing ledger not created', async () => {
      const dir = fresh();
      const w = await Ledger.open(dir, { name: NAME, gatewayKey });
      await w.append(reading(0));
      await w.close();
      const ro = await Ledger.open(dir, { readOnly: true });
      assert.equal(ro.size, 1);
      assert.equal((await ro.get(0)).record.type, 'note');
      await rejects(ro.append(reading(1)), 'ERR_LEDGER_READ_ONLY');
      await rejects(ro.seal(), 'ERR_LEDGER_READ_ONLY');
      await ro.close();
      const missing = fresh();
      await rejects(Ledger.open(missing, { readOnly: true }), 'ERR_NOT_FOUND');
      assert.equal(fs.existsSync(missing), false);
    });
  });

  describe('locking', () => {
    const childOpen = (dir: string): string => {
      const script = `
        const { Ledger } = require(${JSON.stringify(path.join(projectRoot, 'dist', 'lib', 'ledger'))});
        Ledger.open(${JSON.stringify(dir)}, { readOnly: true }).then(
          (l) => l.close().then(() => console.log('OPENED')),
          (e) => console.log(e.code + ' ' + e.message));`;
      return spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20000 }).stdout.trim();
    };

    it('a second open in this process gets ERR_LEDGER_LOCKED, and the lock still holds for other processes', async () => {
      const dir = fresh();
      const ledger = await Ledger.open(dir, { name: NAME, gatewayKey });
      await rejects(Ledger.open(dir, { gatewayKey }), 'ERR_LEDGER_LOCKED', /already open in this process/);
      await rejects(Ledger.open(dir, { readOnly: true }), 'ERR_LEDGER_LOCKED');
      await rejects(Ledger.open(path.join(dir, '.', '..', path.basename(dir)), { readOnly: true }), 'ERR_LEDGER_LOCKED');
      assert.match(childOpen(dir), /^ERR_LEDGER_LOCKED .*another process/);
      await ledger.close();
      assert.equal(childOpen(dir), 'OPENED');
      await (await Ledger.open(dir, { gatewayKey })).close();
    });
  });

  describe('bad input', () => {
    let ledger: Ledger;
    before(async () => {
      ledger = await Ledger.open(fresh(), { name: NAME, gatewayKey, maxRecordBytes: 1024 });
      await ledger.append(reading(0));
    });
    after(() => ledger.close());

    class Celsius {
      constructor(readonly value: number) {}
    }
    const sparse: unknown[] = [1];
    sparse[2] = 3;
    const cases: [string, unknown, ErrorCode][] = [
      ['no type', { body: 1 }, 'ERR_MALFORMED_RECORD'],
      ['type with capitals', { type: 'Reading' }, 'ERR_MALFORMED_RECORD'],
      ['type with spaces', { type: 'a reading' }, 'ERR_MALFORMED_RECORD'],
      ['type too long', { type: `a${'b'.repeat(64)}` }, 'ERR_MALFORMED_RECORD'],
      ['type not text', { type: 5 }, 'ERR_MALFORMED_RECORD'],
      ['unknown field', { type: 'note', extra: 1 }, 'ERR_MALFORMED_RECORD'],
      ['v given', { type: 'note', v: 1 }, 'ERR_MALFORMED_RECORD'],
      ['device not a did', { type: 'reading', device: 'sensor-1' }, 'ERR_MALFORMED_RECORD'],
      ['device did:web', { type: 'reading', device: 'did:web:example.com' }, 'ERR_MALFORMED_RECORD'],
      ['undefined body', { type: 'note', body: undefined }, 'ERR_MALFORMED_RECORD'],
      ['undefined inside body', { type: 'note', body: { a: undefined } }, 'ERR_MALFORMED_RECORD'],
      ['undefined in array', { type: 'note', body: [1, undefined] }, 'ERR_MALFORMED_RECORD'],
      ['sparse array', { type: 'note', body: sparse }, 'ERR_MALFORMED_RECORD'],
      ['NaN', { type: 'reading', body: { celsius: NaN } }, 'ERR_MALFORMED_RECORD'],
      ['Infinity', { type: 'reading', body: { celsius: Infinity } }, 'ERR_MALFORMED_RECORD'],
      ['Date', { type: 'reading', body: { at: new Date() } }, 'ERR_MALFORMED_RECORD'],
      ['Map', { type: 'reading', body: new Map([[1, 2]]) }, 'ERR_MALFORMED_RECORD'],
      ['class instance', { type: 'reading', body: new Celsius(3) }, 'ERR_MALFORMED_RECORD'],
      ['function', { type: 'reading', body: { f: () => 1 } }, 'ERR_MALFORMED_RECORD'],
      ['symbol', { type: 'reading', body: Symbol('x') }, 'ERR_MALFORMED_RECORD'],
      ['huge bigint', { type: 'reading', body: 2n ** 64n }, 'ERR_MALFORMED_RECORD'],
      ['lone surrogate', { type: 'note', body: '\uD800' }, 'ERR_MALFORMED_RECORD'],
      ['envelope number', { type: 'note', envelope: 5 }, 'ERR_MALFORMED_RECORD'],
      ['negative time', { type: 'note', time: -1 }, 'ERR_MALFORMED_RECORD'],
      ['fractional time', { type: 'note', time: 1.5 }, 'ERR_MALFORMED_RECORD'],
      ['oversize body', { type: 'note', body: 'x'.repeat(2000) }, 'ERR_RECORD_TOO_LARGE'],
      ['not an object', 'reading', 'ERR_MALFORMED_RECORD'],
      ['null', null, 'ERR_MALFORMED_RECORD'],
    ];
    for (const [what, input, code] of cases) {
      it(`refuses ${what} with ${code}, appending nothing`, async () => {
        await rejects(ledger.append(input as RecordInput), code);
        assert.equal(ledger.size, 1);
      });
    }

    it('takes a record of exactly maxRecordBytes canonical bytes and refuses one byte more; stores the bytes after their leaf hash', async () => {
      const own = await Ledger.open(fresh(), { name: NAME, gatewayKey, maxRecordBytes: 1024 });
      try {
        const input = (n: number): RecordInput => ({ type: 'note', time: 1765000000000, body: 'x'.repeat(n) });
        // The record's map without its body text, plus the 3-byte head a text of 256 bytes or more has.
        const fixed = encodeCbor({ v: 1, type: 'note', time: 1765000000000, body: '' }).length - 1 + 3;
        const fits = input(1024 - fixed);
        assert.equal(encodeCbor({ v: 1, type: 'note', time: 1765000000000, body: fits.body }).length, 1024);
        const [receipt] = await own.appendMany([fits]);
        await rejects(own.append(input(1024 - fixed + 1)), 'ERR_RECORD_TOO_LARGE');
        assert.ok(receipt);
        const stored = await own.get(receipt.index);
        assert.equal(stored.bytes.length, 1024);
        assert.equal(toHex(sha256(Uint8Array.of(0), stored.bytes)), receipt.leafHash);
      } finally {
        await own.close();
      }
    });

    it('appendMany is all or nothing and names the bad item', async () => {
      await assert.rejects(ledger.appendMany([reading(1), reading(2), { type: 'note', body: NaN }, reading(3)]), (err: unknown) => {
        assert.ok(isLedgerError(err, 'ERR_MALFORMED_RECORD'));
        assert.equal(err.details?.item, 2);
        assert.match(err.message, /^record 2: /);
        return true;
      });
      assert.equal(ledger.size, 1);
      assert.equal((await collect(ledger.range(0))).length, 1);
      assert.equal((await ledger.appendMany([reading(1), reading(2)])).length, 2);
      assert.equal(ledger.size, 3);
      assert.deepEqual(await ledger.appendMany([]), []);
    });

    it('keeps envelopes and bodies exactly: text, bytes, unicode, -0, big integers', async () => {
      const jws = 'eyJhbGciOiJFZERTQSJ9.eyJ0IjotMjJ9.c2ln'; // not verified here: stored as received
      const cose = Uint8Array.from([0xd2, 0x84, 0x43, 0xa1, 0x01, 0x27, 0xa0, 0x41, 0x00, 0x40]);
      const body = { text: 'café ❄ \u0000', bytes: Buffer.from([0, 255]), neg: -0, big: 2n ** 63n, nested: [[{}], null, true] };
      const [a, b] = await ledger.appendMany([
        { type: 'reading', envelope: jws, body, device: deviceB },
        { type: 'reading', envelope: cose },
      ]);
      const ra = (await ledger.get(a.index)).record;
      const rb = (await ledger.get(b.index)).record;
      assert.equal(ra.envelope, jws);
      assert.ok(rb.envelope instanceof Uint8Array && bytesEqual(rb.envelope, cose));
      const got = ra.body as Record<string, unknown>;
      assert.equal(got.text, body.text);
      assert.ok(bytesEqual(got.bytes as Uint8Array, body.bytes));
      assert.ok(Object.is(got.neg, -0));
      assert.equal(got.big, 2n ** 63n);
      assert.deepEqual(got.nested, body.nested);
    });

    it('refuses a gateway clock that is not ms since the epoch', async () => {
      const l = await Ledger.open(fresh(), { name: NAME, gatewayKey, now: () => NaN });
      await rejects(l.append({ type: 'note' }), 'ERR_MALFORMED_RECORD', /now\(\)/);
      assert.equal(l.size, 0);
      await l.close();
    });
  });

  describe('corruption', () => {
    async function tamper(dir: string, key: Buffer, edit: (v: Buffer) => Buffer | undefined): Promise<void> {
      const db = await openRawDb(dir);
      const v = await db.get(key);
      assert.ok(v, 'value to tamper with exists');
      const next = edit(Buffer.from(v));
      if (next === undefined) await db.del(key);
      else await db.put(key, next);
      await db.close();
    }
    const rkey = (i: number): Buffer => {
      const k = Buffer.alloc(9);
      k[0] = 0x72;
      k.writeUInt32BE(i, 5);
      return k;
    };
    const nkey = (level: number, i: number): Buffer => {
      const k = Buffer.alloc(10);
      k[0] = 0x6e;
      k[1] = level;
      k.writeUInt32BE(i, 6);
      return k;
    };

    async function made(count: number): Promise<string> {
      const dir = fresh();
      const l = await Ledger.open(dir, { name: NAME, gatewayKey, blockRecords: 8 });
      await l.appendMany(Array.from({ length: count }, (_, i) => reading(i)));
      await l.close();
      return dir;
    }

    it('a flipped byte in a stored record makes get() and range() fail naming the index', async () => {
      const dir = await made(20);
      await tamper(dir, rkey(7), (v) => {
        v[v.length - 2] ^= 1;
        return v;
      });
      const l = await Ledger.open(dir, { gatewayKey });
      await rejects(l.get(7), 'ERR_LEDGER_CORRUPT', /record 7 /);
      await assert.rejects(l.get(7), (e: unknown) => isLedgerError(e) && e.details?.index === 7);
      assert.equal((await l.get(6)).index, 6);
      await rejects(collect(l.range(0)), 'ERR_LEDGER_CORRUPT', /record 7 /);
      await rejects(collect(l.byDevice(deviceA)), 'ERR_LEDGER_CORRUPT', /record 7 /);
      await l.close();
    });

    it('a stored hash that no longer matches, or a missing record, is reported too', async () => {
      const dir = await made(20);
      await tamper(dir, rkey(3), (v) => {
        v[0] ^= 0x80;
        return v;
      });
      await tamper(dir, rkey(4), () => undefined);
      const l = await Ledger.open(dir, { readOnly: true });
      await rejects(l.get(3), 'ERR_LEDGER_CORRUPT', /record 3 does not match/);
      await rejects(l.get(4), 'ERR_LEDGER_CORRUPT', /record 4 is missing/);
      await rejects(collect(l.range(4, 10)), 'ERR_LEDGER_CORRUPT', /record 4 is missing/);
      await l.close();
    });

    it('a damaged Merkle node fails its checksum in proofs', async () => {
      const dir = await made(20);
      await tamper(dir, nkey(2, 1), (v) => {
        v[3] ^= 4;
        return v;
      });
      const l = await Ledger.open(dir, { readOnly: true });
      await rejects(l.inclusionProof(0, 16), 'ERR_LEDGER_CORRUPT', /level 2 index 1/);
      await l.close();
    });

    it('a damaged tail is found when opening', async () => {
      // The last record's stored leaf hash (format 4 keeps no level-0 node: the record holds the only copy).
      const dir = await made(20);
      await tamper(dir, rkey(19), (v) => {
        v[0] ^= 1;
        return v;
      });
      await rejects(Ledger.open(dir, { readOnly: true }), 'ERR_LEDGER_CORRUPT', /record 19/);
      // The lowest stored node over the last record, its checksum recomputed: it no longer matches the records.
      const dir1 = await made(20);
      await tamper(dir1, nkey(1, 9), (v) => {
        v[0] ^= 1;
        v.writeUInt32BE(referenceCrc32(Buffer.concat([nkey(1, 9), v.subarray(0, 32)])), 32);
        return v;
      });
      await rejects(Ledger.open(dir1, { readOnly: true }), 'ERR_LEDGER_CORRUPT', /record 19 does not match its Merkle node/);
      const dir2 = await made(20);
      await tamper(dir2, Buffer.from('h'), (v) => {
        v[2] ^= 1;
        return v;
      });
      await rejects(Ledger.open(dir2, { gatewayKey }), 'ERR_LEDGER_CORRUPT', /head/);
      const dir3 = await made(16);
      await tamper(dir3, nkey(4, 0), (v) => {
        // a node with a valid checksum but a wrong hash: the last block's root no longer matches
        const k = nkey(4, 0);
        v[0] ^= 1;
        v.writeUInt32BE(referenceCrc32(Buffer.concat([k, v.subarray(0, 32)])), 32);
        return v;
      });
      await rejects(Ledger.open(dir3, { readOnly: true }), 'ERR_LEDGER_CORRUPT', /root/);
    });
  });
});
