// The file store on its own: framing, what a crash at any byte of the last write leaves, damage
// refused, range reads against a reference map (and against LevelDB) under random operations,
// reopening, snapshots, segment rollover and the cross-process lock.
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as fc from 'fast-check';
import { isLedgerError } from '../../lib/errors';
import { FileDb } from '../../lib/storage/file-db';
import { checkFrame, decodeFrame, encodeFrame } from '../../lib/storage/frame';
import { openLevelDb } from '../../lib/storage/level';
import { LOCK_FILE } from '../../lib/storage/lock-file';
import { MARKER_FILE, MARKER_TEXT, segmentName, SEGMENT_HEADER } from '../../lib/storage/segments';
import type { Db, RangeOptions } from '../../lib/storage/types';
import { projectRoot } from '../support/paths';
import { tempDir } from '../support/ledger';
import { watchDurableWrites } from '../support/durable-writes';

const u64Key = (prefix: number[], n: number): Buffer => {
  const k = Buffer.alloc(prefix.length + 8);
  Buffer.from(prefix).copy(k);
  k.writeUInt32BE(Math.floor(n / 2 ** 32), prefix.length);
  k.writeUInt32BE(n % 2 ** 32, prefix.length + 4);
  return k;
};
const hex = (b: Buffer | undefined): string | undefined => b?.toString('hex');

async function dump(db: Db, opts: RangeOptions = {}): Promise<[string, string][]> {
  const out: [string, string][] = [];
  for await (const [k, v] of db.iterator(opts)) out.push([k.toString('hex'), v.toString('hex')]);
  return out;
}

function segFile(dir: string, id = 1): string {
  return path.join(dir, segmentName(id));
}

describe('file storage: frames', () => {
  it('round-trips puts and deletes, and finds a changed byte anywhere in a frame', () => {
    const ops = [
      { key: Buffer.from('a'), value: Buffer.from('one') },
      { key: Buffer.from('bb'), value: undefined },
      { key: Buffer.from('c'), value: Buffer.alloc(0) },
    ];
    const { frame, valueAt } = encodeFrame(ops);
    const check = checkFrame(frame, 0);
    assert.deepEqual(check, { kind: 'frame', end: frame.length });
    const decoded = decodeFrame(frame, 0, frame.length);
    assert.deepEqual(
      decoded.map((d) => [d.key.toString(), d.put, d.put ? frame.subarray(d.valueAt, d.valueAt + d.valueLength).toString() : null]),
      [['a', true, 'one'], ['bb', false, null], ['c', true, '']],
    );
    assert.deepEqual(decoded.map((d) => d.valueAt), valueAt);
    for (let i = 0; i < frame.length; i++) {
      const bad = Buffer.from(frame);
      bad[i] ^= 0x20;
      assert.notEqual(checkFrame(bad, 0).kind, 'frame', `byte ${i} changed`);
    }
    for (let cut = 0; cut < frame.length; cut++) assert.equal(checkFrame(frame.subarray(0, cut), 0).kind, 'torn', `cut at ${cut}`);
  });
});

describe('file storage: crashes and damage', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => (tmp = tempDir('file-db-')));
  afterEach(() => tmp.cleanup());

  /** Three synced batches; returns where the last frame starts and the segment's size. */
  async function threeBatches(dir: string): Promise<{ last: number; size: number }> {
    const db = await FileDb.open(dir, { create: true });
    await db.batch([{ type: 'put', key: Buffer.from('k1'), value: Buffer.from('v1') }], { sync: true });
    await db.batch([{ type: 'put', key: Buffer.from('k2'), value: Buffer.from('v2') }, { type: 'put', key: u64Key([0x72], 0), value: Buffer.from('r0') }], { sync: true });
    const last = fs.statSync(segFile(dir)).size;
    const b = db.batch();
    b.put(Buffer.from('k3'), Buffer.from('v3'));
    b.put(u64Key([0x72], 1), Buffer.from('r1'));
    b.del(Buffer.from('k1'));
    await b.write({ sync: true });
    await db.close();
    return { last, size: fs.statSync(segFile(dir)).size };
  }

  it('a write cut at any byte of the last frame loses only that batch, whole, and appends go on', async () => {
    const src = path.join(tmp.dir, 'src');
    const { last, size } = await threeBatches(src);
    const whole = fs.readFileSync(segFile(src));
    for (let cut = last; cut < size; cut++) {
      const dir = path.join(tmp.dir, `cut-${cut}`);
      fs.cpSync(src, dir, { recursive: true });
      fs.writeFileSync(segFile(dir), whole.subarray(0, cut));
      const db = await FileDb.open(dir);
      assert.equal(db.truncated, cut - last, `cut at ${cut}`);
      assert.equal(fs.statSync(segFile(dir)).size, last, 'the torn frame is cut away');
      assert.deepEqual(
        [hex(await db.get(Buffer.from('k1'))), hex(await db.get(Buffer.from('k3'))), hex(await db.get(u64Key([0x72], 1)))],
        [Buffer.from('v1').toString('hex'), undefined, undefined],
        `nothing of the torn batch after a cut at ${cut}`,
      );
      await db.put(Buffer.from('k4'), Buffer.from('v4'), { sync: true });
      await db.close();
      const again = await FileDb.open(dir);
      assert.equal(again.truncated, 0);
      assert.equal(hex(await again.get(Buffer.from('k4'))), Buffer.from('v4').toString('hex'));
      assert.equal(hex(await again.get(Buffer.from('k2'))), Buffer.from('v2').toString('hex'));
      await again.close();
      fs.rmSync(dir, { recursive: true });
    }
  });

  it('a last frame that fails its CRC, or zeros after the last frame, are a torn tail too', async () => {
    const dir = path.join(tmp.dir, 'crc');
    const { last, size } = await threeBatches(dir);
    const fd = fs.openSync(segFile(dir), 'r+');
    fs.writeSync(fd, Buffer.from([0xff]), 0, 1, size - 1);
    fs.closeSync(fd);
    let db = await FileDb.open(dir);
    assert.equal(db.truncated, size - last);
    assert.equal(await db.get(Buffer.from('k3')), undefined);
    await db.close();
    fs.appendFileSync(segFile(dir), Buffer.alloc(300));
    db = await FileDb.open(dir);
    assert.equal(db.truncated, 300);
    assert.equal(hex(await db.get(Buffer.from('k2'))), Buffer.from('v2').toString('hex'));
    await db.close();
  });

  it('refuses damage before the tail with ERR_LEDGER_CORRUPT naming segment and offset', async () => {
    const dir = path.join(tmp.dir, 'mid');
    await threeBatches(dir);
    const fd = fs.openSync(segFile(dir), 'r+');
    const at = SEGMENT_HEADER.length + 12; // inside the first frame's payload
    const b = Buffer.alloc(1);
    fs.readSync(fd, b, 0, 1, at);
    b[0] ^= 0x01;
    fs.writeSync(fd, b, 0, 1, at);
    fs.closeSync(fd);
    const before = fs.statSync(segFile(dir)).size;
    await assert.rejects(FileDb.open(dir), (e: unknown) => {
      assert.ok(isLedgerError(e, 'ERR_LEDGER_CORRUPT'), String(e));
      assert.equal(e.details?.offset, SEGMENT_HEADER.length);
      assert.equal(e.details?.segment, segmentName(1));
      assert.match(e.message, /CRC mismatch/);
      return true;
    });
    assert.equal(fs.statSync(segFile(dir)).size, before, 'nothing is cut away');
    assert.equal(fs.existsSync(path.join(dir, LOCK_FILE)), false, 'the lock is released');
  });

  it('rolls over to new segments, reads across them, and refuses damage at the end of a full one', async () => {
    const dir = path.join(tmp.dir, 'roll');
    const db = await FileDb.open(dir, { create: true, segmentBytes: 2048 });
    const want = new Map<string, string>();
    for (let i = 0; i < 200; i++) {
      const key = u64Key([0x72], i);
      const value = Buffer.alloc(40 + (i % 7), i);
      await db.put(key, value, { sync: i % 10 === 0 });
      want.set(key.toString('hex'), value.toString('hex'));
    }
    await db.close();
    const segs = fs.readdirSync(dir).filter((f) => f.endsWith('.seg'));
    assert.ok(segs.length > 3, `${segs.length} segments`);
    for (const s of segs) assert.ok(fs.statSync(path.join(dir, s)).size <= 2048);
    const again = await FileDb.open(dir, { segmentBytes: 2048 });
    assert.deepEqual(new Map(await dump(again)), want);
    await again.close();
    // the end of segment 1 is not the tail of the log: damage there is refused
    const first = segFile(dir, 1);
    fs.truncateSync(first, fs.statSync(first).size - 1);
    await assert.rejects(FileDb.open(dir), (e: unknown) => isLedgerError(e, 'ERR_LEDGER_CORRUPT') && /0000000001\.seg/.test(e.message));
    fs.rmSync(segFile(dir, 2));
    await assert.rejects(FileDb.open(dir), (e: unknown) => isLedgerError(e, 'ERR_LEDGER_CORRUPT') && /missing/.test(e.message));
  });

  it('a new store writes its marker durably: a crash while creating it leaves no torn marker', async () => {
    // The marker is what makes a directory a file store: written in place, a crash mid-write
    // would leave an empty or partial one.
    const dir = path.join(tmp.dir, 'new');
    const { result: db, durable } = await watchDurableWrites(() => FileDb.open(dir, { create: true }));
    await db.close();
    const marker = path.resolve(dir, MARKER_FILE);
    assert.ok(durable.has(marker), `the marker ${marker} was not renamed into place from a file fsynced before, then its directory fsynced`);
    assert.equal(fs.readFileSync(marker, 'utf8'), MARKER_TEXT);
    assert.deepEqual(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp')), []);
  });

  it('read-only: opens without the lock, leaves a torn tail on disk, refuses writes', async () => {
    const dir = path.join(tmp.dir, 'ro');
    const { last, size } = await threeBatches(dir);
    fs.truncateSync(segFile(dir), size - 2);
    const db = await FileDb.open(dir, { readOnly: true });
    assert.equal(db.truncated, size - 2 - last);
    assert.equal(fs.statSync(segFile(dir)).size, size - 2);
    assert.equal(fs.existsSync(path.join(dir, LOCK_FILE)), false);
    await assert.rejects(db.put(Buffer.from('x'), Buffer.from('y')), (e: unknown) => isLedgerError(e, 'ERR_LEDGER_READ_ONLY'));
    await db.close();
  });
});

// ------------------------------------------------------------------ random operations

type Op = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };

const keyArb = fc.oneof(
  fc.nat(40).map((n) => u64Key([0x72], n)),
  fc.nat(40).map((n) => u64Key([0x62], n)),
  fc.tuple(fc.nat(3), fc.nat(20)).map(([l, n]) => u64Key([0x6e, l], n)),
  fc.nat(5).map((n) => u64Key([0x72], 2 ** 32 + n)), // shaped like a record key, past the dense range
  fc.uint8Array({ minLength: 0, maxLength: 4 }).map((a) => Buffer.from(a.map((x) => [0x00, 0x61, 0x62, 0x6e, 0x72, 0x73, 0xff][x % 7]))),
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(keyArb, fc.uint8Array({ maxLength: 6 })).map(([key, v]) => ({ type: 'put' as const, key, value: Buffer.from(v) })) },
  { weight: 1, arbitrary: keyArb.map((key) => ({ type: 'del' as const, key })) },
);
const rangeArb = fc.record(
  {
    lower: fc.option(fc.tuple(fc.boolean(), keyArb)),
    upper: fc.option(fc.tuple(fc.boolean(), keyArb)),
    reverse: fc.boolean(),
    limit: fc.option(fc.nat(10)),
  },
  { requiredKeys: [] },
);

function apply(ref: Map<string, string>, batch: Op[]): void {
  for (const op of batch) {
    if (op.type === 'put') ref.set(op.key.toString('hex'), op.value.toString('hex'));
    else ref.delete(op.key.toString('hex'));
  }
}

interface Range {
  lower?: [boolean, Buffer] | null;
  upper?: [boolean, Buffer] | null;
  reverse?: boolean;
  limit?: number | null;
}

function expected(ref: Map<string, string>, r: Range): [string, string][] {
  let all = [...ref.entries()].sort(([a], [b]) => Buffer.compare(Buffer.from(a, 'hex'), Buffer.from(b, 'hex')));
  all = all.filter(([k]) => {
    const kb = Buffer.from(k, 'hex');
    if (r.lower) {
      const c = Buffer.compare(kb, r.lower[1]);
      if (r.lower[0] ? c <= 0 : c < 0) return false;
    }
    if (r.upper) {
      const c = Buffer.compare(kb, r.upper[1]);
      if (r.upper[0] ? c >= 0 : c > 0) return false;
    }
    return true;
  });
  if (r.reverse) all.reverse();
  return r.limit === null || r.limit === undefined ? all : all.slice(0, r.limit);
}

function rangeOptions(r: Range): RangeOptions {
  const o: RangeOptions = { reverse: r.reverse === true };
  if (r.lower) o[r.lower[0] ? 'gt' : 'gte'] = r.lower[1];
  if (r.upper) o[r.upper[0] ? 'lt' : 'lte'] = r.upper[1];
  if (r.limit !== null && r.limit !== undefined) o.limit = r.limit;
  return o;
}

describe('file storage: a directory whose files are not regular files', function () {
  this.timeout(60000);
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => (tmp = tempDir('file-db-fifo-')));
  afterEach(() => tmp.cleanup());

  /** Opens the store in another process (killed after 20 s: a FIFO used to block the open for good); prints the error code or "opened". */
  const openElsewhere = (dir: string, readOnly: boolean): string => {
    const mod = path.join(projectRoot, 'dist', 'lib', 'storage', 'file-db.js');
    const r = spawnSync(
      process.execPath,
      ['-e', `require(${JSON.stringify(mod)}).FileDb.open(${JSON.stringify(dir)}, { readOnly: ${readOnly} }).then((db) => db.close().then(() => console.log('opened')), (e) => console.log(e.code, e.message))`],
      { encoding: 'utf8', timeout: 20000 },
    );
    return r.stdout.trim();
  };
  const mkfifo = (file: string): void => assert.equal(spawnSync('mkfifo', [file]).status, 0, `mkfifo ${file}`);

  it('a segment that is a FIFO is ERR_LEDGER_CORRUPT naming it, read-only too, instead of a read that never returns', async () => {
    const dir = path.join(tmp.dir, 'db');
    const db = await FileDb.open(dir, { create: true });
    await db.batch([{ type: 'put', key: Buffer.from('k1'), value: Buffer.from('v1') }], { sync: true });
    await db.close();
    mkfifo(segFile(dir, 2));
    for (const readOnly of [false, true]) assert.match(openElsewhere(dir, readOnly), /^ERR_LEDGER_CORRUPT .*segment 0000000002\.seg .*not a regular file/);
  });

  it('a segment larger than any segment holds (a sparse file) is ERR_LEDGER_CORRUPT, not read', async () => {
    const dir = path.join(tmp.dir, 'db');
    const db = await FileDb.open(dir, { create: true });
    await db.batch([{ type: 'put', key: Buffer.from('k1'), value: Buffer.from('v1') }], { sync: true });
    await db.close();
    const most = SEGMENT_HEADER.length + 8 + 1024 * 1024 * 1024; // the header and one frame of the largest payload
    fs.writeFileSync(segFile(dir, 2), SEGMENT_HEADER);
    fs.truncateSync(segFile(dir, 2), most + 1);
    await assert.rejects(FileDb.open(dir, { readOnly: true }), (e: unknown) => {
      assert.ok(isLedgerError(e, 'ERR_LEDGER_CORRUPT'), String(e));
      assert.equal(e.details?.segment, segmentName(2));
      assert.match(e.message, /more than any segment holds/);
      return true;
    });
    assert.equal(fs.statSync(segFile(dir, 2)).size, most + 1, 'nothing is cut away');
  });

  it('a LOCK that is a FIFO holds no lock', async () => {
    const dir = path.join(tmp.dir, 'db');
    await (await FileDb.open(dir, { create: true })).close();
    mkfifo(path.join(dir, LOCK_FILE));
    assert.equal(openElsewhere(dir, false), 'opened');
    assert.equal(fs.existsSync(path.join(dir, LOCK_FILE)), false, 'taken over, then released');
  });

  it('a LOCK that is a symbolic link to nothing holds no lock, and nothing is created where it points', async () => {
    const dir = path.join(tmp.dir, 'db');
    await (await FileDb.open(dir, { create: true })).close();
    const target = path.join(tmp.dir, 'elsewhere-LOCK');
    fs.symlinkSync(target, path.join(dir, LOCK_FILE));
    const db = await FileDb.open(dir, { readOnly: true, lock: true });
    assert.match(db.tookOver ?? '', /unreadable/);
    await db.close();
    assert.equal(fs.existsSync(target), false);
    assert.throws(() => fs.lstatSync(path.join(dir, LOCK_FILE)), { code: 'ENOENT' }, 'taken over, then released');
  });

  it('a LOCK that is a directory: a reader reads without the lock (no process can hold it), a writer is refused', async () => {
    const dir = path.join(tmp.dir, 'db');
    const db = await FileDb.open(dir, { create: true });
    await db.put(Buffer.from('k'), Buffer.from('v'));
    await db.close();
    fs.mkdirSync(path.join(dir, LOCK_FILE));
    fs.writeFileSync(path.join(dir, LOCK_FILE, 'planted'), 'x');
    const reader = await FileDb.open(dir, { readOnly: true, lock: true });
    assert.equal((await reader.get(Buffer.from('k')))?.toString(), 'v');
    await reader.close();
    assert.equal(fs.readFileSync(path.join(dir, LOCK_FILE, 'planted'), 'latin1'), 'x', 'left as it was');
    await assert.rejects(FileDb.open(dir), { code: 'ERR_LEDGER_IO' });
  });
});

describe('file storage: random operations against a reference map', function () {
  this.timeout(120000);
  let tmp: ReturnType<typeof tempDir>;
  before(() => (tmp = tempDir('file-db-prop-')));
  after(() => tmp.cleanup());
  let run = 0;

  it('gets and range reads (gt/gte/lt/lte, reverse, limit) agree with the map, with LevelDB, after reopening and in snapshots', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(opArb, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 12 }), fc.array(rangeArb, { minLength: 1, maxLength: 6 }), async (batches, ranges) => {
        const dir = path.join(tmp.dir, `p${run++}`);
        const ref = new Map<string, string>();
        let db = await FileDb.open(dir, { create: true, segmentBytes: 512 });
        const level = await openLevelDb(`${dir}-level`, `${dir}-level`, true, 'locked');
        try {
          const half = Math.floor(batches.length / 2);
          for (const b of batches.slice(0, half)) {
            await db.batch(b, { sync: false });
            await level.batch(b);
            apply(ref, b);
          }
          const snap = db.snapshot();
          const atSnap = new Map(ref);
          for (const b of batches.slice(half)) {
            await db.batch(b, { sync: false });
            await level.batch(b);
            apply(ref, b);
          }
          for (const r of ranges) {
            const want = expected(ref, r);
            assert.deepEqual(await dump(db, rangeOptions(r)), want);
            assert.deepEqual(await dump(level, rangeOptions(r)), want, 'LevelDB agrees');
            assert.deepEqual(await dump(db, { ...rangeOptions(r), snapshot: snap }), expected(atSnap, r), 'the snapshot');
          }
          const keys = [...ref.keys()].map((k) => Buffer.from(k, 'hex'));
          assert.deepEqual((await db.getMany(keys)).map(hex), [...ref.values()]);
          await snap.close();
          await db.close();
          db = await FileDb.open(dir, { segmentBytes: 512 });
          assert.deepEqual(await dump(db), expected(ref, { lower: null, upper: null, reverse: false, limit: null }), 'after reopening');
          assert.deepEqual(await dump(db, { reverse: true }), await dump(level, { reverse: true }));
        } finally {
          await db.close();
          await level.close();
          fs.rmSync(dir, { recursive: true, force: true });
          fs.rmSync(`${dir}-level`, { recursive: true, force: true });
        }
      }),
      { numRuns: 25 },
    );
  });

  it('concurrent writes are all applied, in the order they were made', async () => {
    const dir = path.join(tmp.dir, 'concurrent');
    const db = await FileDb.open(dir, { create: true });
    const key = Buffer.from('same');
    await Promise.all(Array.from({ length: 200 }, (_, i) => db.put(key, Buffer.from(String(i)), { sync: true })));
    assert.equal((await db.get(key))?.toString(), '199', 'the last write wins');
    await Promise.all(Array.from({ length: 200 }, (_, i) => db.put(u64Key([0x62], i), Buffer.from([i]), { sync: true })));
    assert.equal((await dump(db, { gte: u64Key([0x62], 0), lt: u64Key([0x62], 2 ** 32) })).length, 200);
    await db.close();
  });

  it('a many-key scan reads neighbouring values together and gets them all right', async () => {
    const dir = path.join(tmp.dir, 'scan');
    const db = await FileDb.open(dir, { create: true });
    const b = db.batch();
    for (let i = 0; i < 3000; i++) {
      b.put(u64Key([0x72], i), Buffer.from(`record ${i}`));
      b.put(Buffer.concat([Buffer.from('t'), Buffer.from(`type${i % 3}`), Buffer.of(0), u64Key([], i)]), Buffer.of(0));
    }
    await b.write({ sync: true });
    const it = db.iterator({ gte: u64Key([0x72], 100), lt: u64Key([0x72], 2900) });
    let n = 100;
    for (let chunk = await it.nextv(1000); chunk.length > 0; chunk = await it.nextv(1000))
      for (const [k, v] of chunk) {
        assert.equal(k.readUInt32BE(5), n);
        assert.equal(v.toString(), `record ${n++}`);
      }
    await it.close();
    assert.equal(n, 2900);
    await db.close();
  });
});

// ------------------------------------------------------------------ lock

describe('file storage: the cross-process lock', function () {
  this.timeout(30000);
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => (tmp = tempDir('file-db-lock-')));
  afterEach(() => tmp.cleanup());

  const openElsewhere = (dir: string): string => {
    const mod = path.join(projectRoot, 'dist', 'lib', 'storage', 'file-db.js');
    const r = spawnSync(
      process.execPath,
      ['-e', `require(${JSON.stringify(mod)}).FileDb.open(${JSON.stringify(dir)}).then((db) => db.close().then(() => console.log('opened')), (e) => console.log(e.code))`],
      { encoding: 'utf8', timeout: 20000 },
    );
    return r.stdout.trim();
  };

  it('refuses a second process while the first holds the store, and lets it in after close', async () => {
    const dir = path.join(tmp.dir, 'db');
    const db = await FileDb.open(dir, { create: true });
    assert.match(fs.readFileSync(path.join(dir, LOCK_FILE), 'latin1'), new RegExp(`^${process.pid} \\d+\\n$`));
    assert.equal(openElsewhere(dir), 'ERR_LEDGER_LOCKED');
    await db.close();
    assert.equal(fs.existsSync(path.join(dir, LOCK_FILE)), false);
    assert.equal(openElsewhere(dir), 'opened');
  });

  it('takes over the lock of a process that is gone, or of a pid now used by another process', async () => {
    const dir = path.join(tmp.dir, 'db');
    await (await FileDb.open(dir, { create: true })).close();
    const gone = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    const deadPid = Number(gone.stdout.trim());
    fs.writeFileSync(path.join(dir, LOCK_FILE), `${deadPid} 12345\n`);
    let db = await FileDb.open(dir);
    assert.match(db.tookOver ?? '', new RegExp(`process ${deadPid} is gone`));
    await db.close();

    // A process holding a file of the directory open, as the owner of its lock does.
    const segment = path.join(dir, segmentName(1));
    const sleeper = spawn(process.execPath, ['-e', `require('fs').openSync(${JSON.stringify(segment)}, 'r'); console.log('ready'); setTimeout(() => {}, 20000)`], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    try {
      await new Promise((resolve) => sleeper.stdout.once('data', resolve));
      fs.writeFileSync(path.join(dir, LOCK_FILE), `${sleeper.pid} 1\n`);
      db = await FileDb.open(dir);
      assert.match(db.tookOver ?? '', /now belongs to another process/);
      await db.close();
      // the same live process with its real start time holds the lock
      const stat = fs.readFileSync(`/proc/${sleeper.pid}/stat`, 'latin1');
      const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
      fs.writeFileSync(path.join(dir, LOCK_FILE), `${sleeper.pid} ${start}\n`);
      await assert.rejects(FileDb.open(dir), (e: unknown) => isLedgerError(e, 'ERR_LEDGER_LOCKED') && e.message.includes(String(sleeper.pid)));
      // a live pid without a start time, where every process writes one: another machine's lock (pid 1 always lives)
      for (const pid of [sleeper.pid, 1]) {
        fs.writeFileSync(path.join(dir, LOCK_FILE), `${pid} -\n`);
        db = await FileDb.open(dir);
        assert.match(db.tookOver ?? '', /names no start time/);
        await db.close();
      }
    } finally {
      sleeper.kill();
    }
  });

  it('a copy (cp -r) of a store another process holds opens: the LOCK that came with it names a process that holds no file of the copy', async () => {
    const dir = path.join(tmp.dir, 'db');
    const mod = path.join(projectRoot, 'dist', 'lib', 'storage', 'file-db.js');
    const owner = spawn(
      process.execPath,
      ['-e', `require(${JSON.stringify(mod)}).FileDb.open(${JSON.stringify(dir)}, { create: true }).then(() => { console.log('ready'); setTimeout(() => {}, 20000); })`],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise((resolve) => owner.stdout.once('data', resolve));
      const copy = path.join(tmp.dir, 'copy');
      fs.cpSync(dir, copy, { recursive: true });
      assert.match(fs.readFileSync(path.join(copy, LOCK_FILE), 'latin1'), new RegExp(`^${owner.pid} \\d+\\n$`));
      // The original is still held by its owner, as a reader finds...
      await assert.rejects(FileDb.open(dir, { readOnly: true, lock: true }), (e: unknown) => isLedgerError(e, 'ERR_LEDGER_LOCKED'));
      // ...but its copy is not: read (as the audit does) and opened to write.
      let db = await FileDb.open(copy, { readOnly: true, lock: true });
      assert.match(db.tookOver ?? '', new RegExp(`process ${owner.pid} holds no file of this directory`));
      await db.close();
      db = await FileDb.open(copy);
      await db.close();
      await assert.rejects(FileDb.open(dir), (e: unknown) => isLedgerError(e, 'ERR_LEDGER_LOCKED'));
    } finally {
      owner.kill();
    }
  });
});
