import { openRawDb } from './support/raw-db';
import { resigned } from './support/resigned-checkpoint';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { auditLedger, formatReport, type AuditReport, type DeviceStatus } from '../lib/audit';
import { headerLine, signCheckpoint } from '../lib/note/checkpoint';
import { EMPTY_ROOT } from '../lib/merkle';
import { envelopePayload, signEnvelope } from '../lib/envelope/envelope';
import { bodyFromPayload } from '../lib/envelope/payload';
import { decodeCbor, encodeCbor, type CborValue } from '../lib/encoding/codec';
import { sha256 } from '../lib/crypto/hash';
import { generateKey, keyToDid } from '../lib/crypto';
import { isLedgerError } from '../lib/errors';
import type { Ledger, RecordInput } from '../lib/ledger';
import { parseVerifierKey, verifierKeyString } from '../lib/note/note';
import { loadTrustedStart, readTrustedPrefix } from '../lib/audit/incremental';
import { RawStore } from '../lib/audit/store';
import { Findings } from '../lib/audit/findings';
import {
  appendAll,
  buildSampleLedger,
  checkpointsOf,
  copyDir,
  createLedger,
  forgeLedger,
  headValue,
  keys,
  makeDevice,
  mutate,
  readingRecord,
  resealAfter,
  signedReading,
  tempDir,
  unsealLastBlock,
  type SampleLedger,
} from './support/audit-fixtures';

const kinds = (r: AuditReport): string[] => r.findings.map((f) => f.kind);

/** One stored value of a (closed) ledger. */
async function readValue(dir: string, key: Buffer): Promise<Buffer | undefined> {
  let value: Buffer | undefined;
  await mutate(dir, async (db) => {
    value = await db.get(key);
  });
  return value;
}


/**
 * Audits `dir` in full and from the trusted checkpoint `cp`: each must find exactly `full` and
 * `incremental` (kind and record index), the latter starting at `from`. Returns the incremental report.
 */
async function assertFullAndFrom(dir: string, cp: string, full: [string, number][], from: number, incremental: [string, number][]): Promise<AuditReport> {
  const whole = await auditLedger(dir);
  assert.deepEqual(whole.findings.map((f) => [f.kind, f.index]), full, formatReport(whole));
  const r = await auditLedger(dir, { from: cp });
  assert.equal(r.from, from);
  assert.deepEqual(r.findings.map((f) => [f.kind, f.index]), incremental, formatReport(r));
  return r;
}

describe('audit: a clean ledger', function () {
  this.timeout(30000);
  let sample: SampleLedger;
  before(async () => {
    sample = await buildSampleLedger();
  });
  after(() => fs.rmSync(sample.dir, { recursive: true, force: true }));

  it('passes with the key from its own meta and says so', async () => {
    const r = await auditLedger(sample.dir);
    assert.equal(r.clean, true, formatReport(r));
    assert.equal(r.trust, 'meta');
    assert.equal(r.verifier, sample.verifierKey);
    assert.equal(r.name, sample.name);
    assert.equal(r.size, 40);
    assert.equal(r.blocks, 4);
    assert.equal(r.from, 0);
    assert.equal(r.unsealed, 0);
    assert.deepEqual(r.findings, []);
    // 40 records; every perfect node of a 40-leaf tree (40+20+10+5+2+1); 4 blocks;
    // 30 device envelopes and 4 checkpoints.
    assert.deepEqual(r.checked, { records: 40, nodes: 38, blocks: 4, signatures: 34 }); // format 4: the 38 nodes above level 0
    assert.match(formatReport(r), /^CLEAN: ledger "test\.ledger", 40 records in 4 blocks/);
  });

  it('passes with a given verifier key or did:key', async () => {
    for (const trustedKey of [sample.verifierKey, sample.gatewayDid]) {
      const r = await auditLedger(sample.dir, { trustedKey });
      assert.equal(r.clean, true, formatReport(r));
      assert.equal(r.trust, 'given');
      assert.equal(r.verifier, sample.verifierKey);
    }
  });

  it('fails every checkpoint against another gateway key', async () => {
    const other = generateKey('Ed25519');
    const r = await auditLedger(sample.dir, { trustedKey: verifierKeyString(sample.name, other) });
    assert.equal(r.clean, false);
    assert.equal(r.findings[0].kind, 'meta');
    const sigs = r.findings.filter((f) => f.kind === 'checkpoint-signature');
    assert.deepEqual(sigs.map((f) => f.height), [0, 1, 2, 3]);
  });

  it('rejects a trusted key that is no key, and a P-256 did:key', async () => {
    await assert.rejects(auditLedger(sample.dir, { trustedKey: 'nonsense' }), (e: unknown) => isLedgerError(e, 'ERR_INVALID_ARGUMENT'));
    await assert.rejects(auditLedger(sample.dir, { trustedKey: keyToDid(generateKey('ES256')) }), (e: unknown) =>
      isLedgerError(e, 'ERR_INVALID_ARGUMENT'),
    );
  });

  it('gives the same result in worker threads, chunk by chunk, with progress', async () => {
    const seen: [number, number][] = [];
    const r = await auditLedger(sample.dir, { workers: 2, parallelThreshold: 0, chunkLevel: 2, onProgress: (d, t) => seen.push([d, t]) });
    assert.equal(r.clean, true, formatReport(r));
    assert.deepEqual(r.checked, { records: 40, nodes: 38, blocks: 4, signatures: 34 }); // format 4: the 38 nodes above level 0
    assert.deepEqual(seen[0], [0, 40]);
    assert.deepEqual(seen[seen.length - 1], [40, 40]);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i][0] >= seen[i - 1][0]);
  });

  it('refuses a ledger that another process holds, and a directory that is no ledger', async () => {
    const db = await openRawDb(sample.dir);
    try {
      await assert.rejects(auditLedger(sample.dir), (e: unknown) => isLedgerError(e, 'ERR_LEDGER_LOCKED'));
    } finally {
      await db.close();
    }
    const empty = tempDir();
    await assert.rejects(auditLedger(empty), (e: unknown) => isLedgerError(e, 'ERR_NOT_FOUND'));
    fs.rmSync(empty, { recursive: true });
  });

  it('reads a database another part of this process holds open, through a snapshot', async () => {
    const dir = copyDir(sample.dir);
    const db = await openRawDb(dir);
    try {
      await assert.rejects(auditLedger(dir), (e: unknown) => isLedgerError(e, 'ERR_LEDGER_LOCKED'));
      const audit = auditLedger(dir, { db });
      // Written after the audit began: not in its snapshot.
      await db.put(keys.record(40), Buffer.from('garbage'));
      const r = await audit;
      assert.equal(r.clean, true, formatReport(r));
      assert.equal(db.status, 'open');
      const after = await auditLedger(dir, { db });
      assert.deepEqual(after.findings.map((f) => [f.kind, f.index]), [['record-hash', 40], ['head', undefined]]);
    } finally {
      await db.close();
      fs.rmSync(dir, { recursive: true });
    }
  });

  it('never writes to the ledger directory', async () => {
    const dir = copyDir(sample.dir);
    const before = fs.readdirSync(dir).filter((f) => !/^(LOG|LOG\.old|LOCK)$/.test(f)).sort();
    const sizes = before.map((f) => [f, fs.readFileSync(`${dir}/${f}`).length]);
    await auditLedger(dir);
    const after = fs.readdirSync(dir).filter((f) => !/^(LOG|LOG\.old|LOCK)$/.test(f)).sort();
    // LevelDB itself may rotate its manifest and log on open; the tables stay as they were.
    const tables = (l: string[]): string[] => l.filter((f) => f.endsWith('.ldb'));
    assert.deepEqual(tables(after), tables(before));
    for (const [f, n] of sizes) if (String(f).endsWith('.ldb')) assert.equal(fs.readFileSync(`${dir}/${f}`).length, n);
    fs.rmSync(dir, { recursive: true });
  });
});

describe('audit: devices', function () {
  this.timeout(30000);
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  async function ledger(build: (w: Ledger) => Promise<void>): Promise<string> {
    const dir = tempDir();
    dirs.push(dir);
    const w = await createLedger(dir, { blockRecords: 4 });
    await build(w);
    await w.close();
    return dir;
  }

  it('finds unknown and revoked devices, bad signatures and replays, each at its record', async () => {
    const a = makeDevice('Ed25519', 'jws');
    const b = makeDevice('ES256', 'cose');
    const stranger = makeDevice('Ed25519', 'cose');
    const dir = await ledger(async (w) => {
      await w.append({ type: 'device.enrol', body: { did: a.did, name: 'a' } }); // 0
      await w.append(readingRecord(a)); // 1 ok (counter 1)
      await w.append(readingRecord(b)); // 2 unknown: not yet enrolled
      await w.append({ ...readingRecord(b), type: 'device.tofu' }); // 3 ok
      await w.append(readingRecord(a, {}, 1)); // 4 replay (counter 1 again)
      await w.append({ ...readingRecord(stranger), device: a.did }); // 5 bad signature
      await w.append(readingRecord(stranger)); // 6 unknown
      await w.append({ type: 'device.revoke', body: { did: b.did } }); // 7
      await w.append(readingRecord(b)); // 8 revoked
      await w.append(readingRecord(a)); // 9 ok (counter 2)
      await w.append({ type: 'security', device: stranger.did, envelope: signedReading(stranger), body: { rejected: 'unknown device' } }); // 10 evidence
      await w.append({ type: 'reading', device: a.did, body: { manual: true } }); // 11 no envelope
    });
    const r = await auditLedger(dir);
    assert.deepEqual(
      r.findings.map((f) => [f.kind, f.index]),
      [
        ['unknown-device', 2],
        ['replay', 4],
        ['envelope-signature', 5],
        ['unknown-device', 6],
        ['revoked-device', 8],
      ],
      formatReport(r),
    );
    assert.equal(r.findings[0].device, b.did);
    assert.equal(typeof r.findings[0].time, 'number');
    // The same in worker threads.
    const w = await auditLedger(dir, { workers: 2, parallelThreshold: 0, chunkLevel: 1 });
    assert.deepEqual(w.findings, r.findings);
  });

  it('orders payloads by timestamp when they carry no counter; re-enrolment revives a device', async () => {
    const a = makeDevice('ES256', 'jws');
    const sign = (ts: number | string): RecordInput => readingRecord(a, { ts, counter: undefined });
    const dir = await ledger(async (w) => {
      await w.append({ type: 'device.enrol', body: { did: a.did } });
      await w.append(sign(1000)); // 1
      await w.append(sign('1970-01-01T00:00:02Z')); // 2 newer
      await w.append(sign(1500)); // 3 replay
      await w.append({ type: 'device.revoke', body: { did: a.did } }); // 4
      await w.append(sign(3000)); // 5 revoked
      await w.append({ type: 'device.enrol', body: { did: a.did } }); // 6
      await w.append(sign(4000)); // 7 ok
    });
    const r = await auditLedger(dir);
    assert.deepEqual(
      r.findings.map((f) => [f.kind, f.index]),
      [
        ['replay', 3],
        ['revoked-device', 5],
      ],
      formatReport(r),
    );
  });

  it('lets a caller-supplied registry decide enrolment and keys', async () => {
    const a = makeDevice('Ed25519', 'jws');
    const other = makeDevice('Ed25519', 'jws');
    const dir = await ledger(async (w) => {
      await w.append(readingRecord(a)); // not enrolled on the ledger
      await w.append(readingRecord(a));
      await w.append(readingRecord(other));
    });
    assert.deepEqual(kinds(await auditLedger(dir)), ['unknown-device', 'unknown-device', 'unknown-device']);
    const r = await auditLedger(dir, {
      deviceKeys: (did, index) => {
        if (did === a.did && index === 0) return { status: 'enrolled' };
        if (did === a.did) return { status: 'enrolled', key: other.did }; // wrong key: signature fails
        return { status: 'revoked' };
      },
    });
    assert.deepEqual(
      r.findings.map((f) => [f.kind, f.index]),
      [
        ['envelope-signature', 1],
        ['revoked-device', 2],
      ],
    );
  });
});


describe('audit: damaged and incomplete ledgers', function () {
  this.timeout(30000);
  let sample: SampleLedger;
  const dirs: string[] = [];
  before(async () => {
    sample = await buildSampleLedger();
  });
  after(() => [sample.dir, ...dirs].forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  const copy = (): string => {
    const d = copyDir(sample.dir);
    dirs.push(d);
    return d;
  };

  it('names a deleted record, a deleted node and a deleted block', async () => {
    const dir = copy();
    await mutate(dir, async (db) => {
      await db.del(keys.record(13));
      await db.del(keys.node(2, 6)); // leaves 24..27
      await db.del(keys.block(2));
    });
    const r = await auditLedger(dir);
    assert.deepEqual(
      r.findings.map((f) => [f.kind, f.index ?? `block ${f.height}`]),
      [
        ['missing', 13],
        ['missing', 24],
        ['missing', 'block 2'],
        ['block-chain', 'block 3'],
        ['block-chain', 'block 3'],
      ],
      formatReport(r),
    );
  });

  it('names the last block when it is gone, through the head', async () => {
    const dir = copy();
    await mutate(dir, (db) => db.del(keys.block(3)));
    const r = await auditLedger(dir);
    // Its summary, left behind, is for no sealed block.
    assert.deepEqual(kinds(r), ['index', 'head', 'head'], formatReport(r));
    assert.match(r.findings[0].detail, /summary is stored for block 3, but the ledger has sealed only 3 block/);
    assert.equal(r.unsealed, 10);
  });

  it('finds a head that disagrees with the records', async () => {
    const dir = copy();
    await mutate(dir, (db) => db.put(keys.head(), headValue(41, 4, 40)));
    const r = await auditLedger(dir);
    assert.equal(r.findings[0].kind, 'missing');
    assert.equal(r.findings[0].index, 40);
    assert.ok(kinds(r).includes('head'));
    const dir2 = copy();
    await mutate(dir2, (db) => db.put(keys.head(), headValue(40, 5, 40)));
    assert.deepEqual(kinds(await auditLedger(dir2)), ['head']);
  });

  it('reports records after the last block as unsealed, not as findings', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const w = await createLedger(dir, { blockRecords: 10 });
    for (let i = 0; i < 14; i++) await w.append({ type: 'note', body: { i } });
    await w.close(); // seals records 10..13 into block 1
    await unsealLastBlock(dir); // as a power cut before that seal would have left it
    const r = await auditLedger(dir);
    assert.equal(r.clean, true, formatReport(r));
    assert.equal(r.unsealed, 4);
    assert.match(formatReport(r), /4 records after the last block/);
  });

  it('takes no key of another shape for the last record or block, nor for the first node past the tree', async () => {
    const dir = copy();
    const stray = (key: Buffer, tail: number[]): Buffer => Buffer.concat([key, Buffer.from(tail)]);
    await mutate(dir, async (db) => {
      // Past every record and block key: a u64 beyond 2^53, and keys one byte too long.
      await db.put(stray(Buffer.from('r'), Array(8).fill(0xff)), Buffer.alloc(40));
      await db.put(stray(keys.record(39), [0]), Buffer.alloc(40));
      await db.put(stray(Buffer.from('b'), Array(8).fill(0xff)), Buffer.alloc(40));
    });
    let r = await auditLedger(dir);
    assert.equal(r.clean, true, formatReport(r));
    assert.deepEqual([r.size, r.blocks], [40, 4]);
    // A head claiming no records does not make the stored ones vanish.
    await mutate(dir, (db) => db.put(keys.head(), headValue(0, 0, 0)));
    r = await auditLedger(dir);
    assert.deepEqual([r.size, r.blocks], [40, 4]);
    assert.deepEqual([...new Set(kinds(r))], ['head'], formatReport(r));
    // A node past the tree behind a key one byte too long is still found.
    await mutate(dir, async (db) => {
      await db.put(keys.head(), headValue(40, 4, 40));
      await db.put(stray(keys.node(1, 20), [0]), Buffer.alloc(36));
      await db.put(keys.node(1, 21), Buffer.alloc(36));
    });
    r = await auditLedger(dir);
    assert.deepEqual(r.findings.map((f) => [f.kind, f.index]), [['merkle-node', 42]], formatReport(r));
  });

  it('keeps at most maxFindings, first failures first', async () => {
    const other = generateKey('Ed25519');
    const r = await auditLedger(sample.dir, { trustedKey: verifierKeyString(sample.name, other), maxFindings: 2 });
    assert.equal(r.findings.length, 2);
    assert.equal(r.omitted, 3);
    assert.equal(r.findings[0].kind, 'meta');
    assert.equal(r.findings[1].height, 0);
  });
});

describe('audit: the report for people', function () {
  this.timeout(30000);
  it('shows the control characters of what the ledger says (a device id, its name, a security code) escaped, so that none can move the cursor or start a line', async () => {
    const sample = await buildSampleLedger();
    try {
      // What a terminal would show: the cursor up three lines, the line erased, a verdict of its own.
      const forged = '\u001b[3A\u001b[2K\rCLEAN: ledger "test.ledger"\n\u202e';
      await mutate(sample.dir, async (db) => {
        const v = (await db.get(keys.record(17))) as Buffer;
        const record = decodeCbor(v.subarray(32)) as Record<string, CborValue>;
        record.device = `did:key:z${forged}`;
        await db.put(keys.record(17), Buffer.concat([v.subarray(0, 32), Buffer.from(encodeCbor(record))])); // the old leaf hash: a finding
      });
      const r = await auditLedger(sample.dir);
      assert.equal(r.findings[0]?.device, `did:key:z${forged}`, 'the report itself keeps the value');
      const text = formatReport({ ...r, name: `x${forged}`, security: { records: 1, rejections: 1, byCode: { [`E${forged}`]: 1 } } });
      const unprintable = [...text].filter((ch) => {
        const c = ch.charCodeAt(0);
        return (c < 0x20 && c !== 0x0a) || (c >= 0x7f && c <= 0x9f) || c === 0x202e;
      });
      assert.deepEqual(unprintable, [], text);
      assert.equal(text.split('\n').filter((l) => /^\s*$/.test(l) === false && !/^(\d+ FINDINGS?|checked|gateway key|\d+ rejected|first failure|\s{15}\S)/.test(l)).length, 0, text);
      assert.ok(text.includes('did:key:z\\u001b[3A\\u001b[2K\\u000dCLEAN: ledger "test.ledger"\\u000a\\u202e'), text);
    } finally {
      fs.rmSync(sample.dir, { recursive: true, force: true });
    }
  });
});

describe('audit: incremental, from a trusted checkpoint', function () {
  this.timeout(30000);
  let sample: SampleLedger;
  const dirs: string[] = [];
  before(async () => {
    sample = await buildSampleLedger();
  });
  after(() => [sample.dir, ...dirs].forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  const copy = (): string => {
    const d = copyDir(sample.dir);
    dirs.push(d);
    return d;
  };

  it('checks only what follows the checkpoint, devices enrolled before it included', async () => {
    for (const h of [0, 1, 2, 3]) {
      const r = await auditLedger(sample.dir, { from: sample.checkpoints[h], trustedKey: sample.verifierKey, chunkLevel: 2 });
      assert.equal(r.clean, true, formatReport(r));
      assert.equal(r.from, (h + 1) * 10);
      assert.equal(r.checked.records, 40 - r.from);
      assert.equal(r.checked.blocks, 4 - h);
    }
  });

  it('does not re-check the trusted prefix, but names a record there that no longer matches its leaf hash, and checks what follows', async () => {
    const dir = copy();
    await mutate(dir, async (db) => {
      // In block 1, which holds no enrolment.
      const r15 = (await db.get(keys.record(15))) as Buffer;
      r15[40] ^= 1;
      await db.put(keys.record(15), r15);
      const r25 = (await db.get(keys.record(25))) as Buffer;
      r25[40] ^= 1;
      await db.put(keys.record(25), r25);
    });
    const r = await auditLedger(dir, { from: sample.checkpoints[1] });
    // Record 15 could have been an enrolment or a revocation: what it was is unknown.
    assert.deepEqual(r.findings.map((f) => [f.kind, f.index]), [['consistency', 15], ['record-hash', 25]]);
    const full = await auditLedger(dir);
    assert.deepEqual(full.findings.map((f) => [f.kind, f.index]), [['record-hash', 15], ['record-hash', 25]]);
  });

  it('carries device enrolment and the last counter across the checkpoint', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const a = makeDevice('ES256', 'cose');
    const w = await createLedger(dir, { blockRecords: 4 });
    await w.append({ type: 'device.enrol', body: { did: a.did } });
    for (let i = 0; i < 3; i++) await w.append(readingRecord(a)); // counters 1..3
    const [cp] = await checkpointsOf(w);
    await w.append(readingRecord(a, {}, 3)); // 4: replay of counter 3
    await w.append(readingRecord(a, {}, 4)); // 5: ok
    await w.close();
    const r = await auditLedger(dir, { from: cp });
    assert.equal(r.from, 4);
    assert.deepEqual(r.findings.map((f) => [f.kind, f.index]), [['replay', 4]], formatReport(r));
  });

  it('a replay just before the checkpoint does not lower the counter the device reached', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const a = makeDevice('Ed25519', 'jws');
    const w = await createLedger(dir, { blockRecords: 4 });
    await w.append({ type: 'device.enrol', body: { did: a.did } });
    for (let i = 0; i < 6; i++) await w.append(readingRecord(a)); // 1..6: counters 1..6
    await w.append(readingRecord(a, {}, 2)); // 7: replay of counter 2, not accepted
    await w.seal();
    const cps = await checkpointsOf(w);
    await w.append(readingRecord(a, {}, 4)); // 8: replay of counter 4 (below 6)
    await w.append(readingRecord(a, {}, 7)); // 9: ok
    await w.close();
    const r = await assertFullAndFrom(dir, cps[cps.length - 1], [['replay', 7], ['replay', 8]], 8, [['replay', 8]]);
    assert.match(r.findings[0].detail, /counter 4 is not above the last accepted 6/);
  });

  it('keeps one standing per device from the records before the checkpoint, and the replay state of enrolled devices only', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const gatewayKey = generateKey('Ed25519');
    const a = makeDevice('Ed25519', 'jws');
    const w = await createLedger(dir, { blockRecords: 100, gatewayKey });
    const inputs: RecordInput[] = [];
    for (let i = 0; i < 40; i++) inputs.push({ type: 'device.enrol', body: { did: a.did } }); // the same device, again and again
    for (let i = 0; i < 3; i++) inputs.push(readingRecord(a));
    for (let i = 0; i < 20; i++) inputs.push(readingRecord(makeDevice('Ed25519', 'jws'))); // devices never enrolled
    await appendAll(w, inputs);
    await w.seal();
    const [cp] = await checkpointsOf(w);
    await w.append(readingRecord(a, {}, 2)); // 63: a replay of a's counter 2
    await w.close();
    const store = await RawStore.open(dir);
    try {
      const findings = new Findings();
      const trust = { name: 'test.ledger', verifier: parseVerifierKey(verifierKeyString('test.ledger', gatewayKey)) };
      const from = await loadTrustedStart(store, cp, trust, 64, findings);
      assert.ok(from);
      const prefix = await readTrustedPrefix(store, from, findings);
      assert.ok(prefix);
      assert.deepEqual(prefix.enrolments.map((e) => [e.index, e.subject]), [[39, a.did]]);
      assert.deepEqual([...prefix.reached], [[a.did, { counter: 3, ts: undefined }]]);
    } finally {
      await store.close();
    }
    const r = await auditLedger(dir, { from: cp });
    assert.deepEqual(r.findings.map((f) => [f.kind, f.index]), [['replay', 63]], formatReport(r));
  });

  it('any number of replays, or of envelopes that do not verify, just before the checkpoint hide no counter the device reached', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const a = makeDevice('Ed25519', 'jws');
    const forger = makeDevice('Ed25519', 'jws');
    const w = await createLedger(dir, { blockRecords: 1000 });
    const inputs: RecordInput[] = [{ type: 'device.enrol', body: { did: a.did } }]; // 0
    for (let i = 0; i < 6; i++) inputs.push(readingRecord(a)); // 1..6: counters 1..6
    for (let i = 0; i < 70; i++) inputs.push(readingRecord(a, {}, 2)); // 7..76: replays of counter 2
    // 77..146: counters 100.. signed by another key in a's name: none verifies.
    for (let i = 0; i < 70; i++) inputs.push({ ...readingRecord({ ...forger, did: a.did }, {}, 100 + i), device: a.did });
    await appendAll(w, inputs);
    await w.seal();
    const cps = await checkpointsOf(w);
    await w.append(readingRecord(a, {}, 4)); // 147: a replay of counter 4 (below 6)
    await w.append(readingRecord(a, {}, 7)); // 148
    await w.close();
    const whole = await auditLedger(dir);
    const replays = Array.from({ length: 70 }, (_, i): [string, number] => ['replay', 7 + i]);
    const forged = Array.from({ length: 70 }, (_, i): [string, number] => ['envelope-signature', 77 + i]);
    assert.deepEqual(whole.findings.map((f) => [f.kind, f.index]), [...replays, ...forged, ['replay', 147]], formatReport(whole));
    const r = await auditLedger(dir, { from: cps[cps.length - 1] });
    assert.equal(r.from, 147);
    assert.deepEqual(r.findings, whole.findings.slice(-1), formatReport(r));
    assert.match(r.findings[0].detail, /counter 4 is not above the last accepted 6/);
  });

  it('a record without a counter just before the checkpoint does not drop the counter the device reached', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const a = makeDevice('Ed25519', 'jws');
    const signed = (payload: Record<string, unknown>): RecordInput => {
      const envelope = signEnvelope(JSON.stringify(payload), a.key, { format: a.format, kid: a.did });
      return { type: 'reading', device: a.did, body: bodyFromPayload(envelopePayload(envelope)), envelope };
    };
    const w = await createLedger(dir, { blockRecords: 4 });
    await w.append({ type: 'device.enrol', body: { did: a.did } });
    for (let i = 1; i <= 6; i++) await w.append(signed({ counter: i, ts: 1000 * i })); // 1..6
    await w.append(signed({ ts: 100_000 })); // 7: no counter after counters: not accepted
    await w.seal();
    const cps = await checkpointsOf(w);
    await w.append(signed({ counter: 3, ts: 200_000 })); // 8: counter 3, below 6
    await w.append(signed({ counter: 7, ts: 300_000 })); // 9: ok
    await w.close();
    const r = await assertFullAndFrom(dir, cps[cps.length - 1], [['replay', 7], ['replay', 8]], 8, [['replay', 8]]);
    assert.match(r.findings[0].detail, /counter 3 is not above the last accepted 6/);
  });

  it('a record that does not verify does not bring the device a counter before the checkpoint', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const a = makeDevice('Ed25519', 'jws');
    const other = generateKey('Ed25519');
    const signed = (payload: Record<string, unknown>, key = a.key): RecordInput => {
      const envelope = signEnvelope(JSON.stringify(payload), key, { format: a.format, kid: a.did });
      return { type: 'reading', device: a.did, body: bodyFromPayload(envelopePayload(envelope)), envelope };
    };
    const w = await createLedger(dir, { blockRecords: 4 });
    await w.append({ type: 'device.enrol', body: { did: a.did } });
    await w.append(signed({ ts: 3000 })); // 1: time only
    await w.append(signed({ counter: 3, ts: 4000 }, other)); // 2: does not verify
    await w.append(signed({ counter: 4, ts: 1000 })); // 3: no counter accepted yet, and an earlier time: a replay
    await w.seal();
    const cps = await checkpointsOf(w);
    await w.append(signed({ ts: 5000 })); // 4: later than 3000, no counter: accepted
    await w.close();
    await assertFullAndFrom(dir, cps[cps.length - 1], [['envelope-signature', 2], ['replay', 3]], 4, []);
  });

  it('with a caller-supplied registry, takes the device counters before the checkpoint as the full audit does', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const a = makeDevice('Ed25519', 'jws');
    // c is never enrolled on the ledger; the registry says it signs with another key, cKey.
    const cKey = makeDevice('Ed25519', 'jws');
    const c = makeDevice('Ed25519', 'jws').did;
    const byC = (counter: number): RecordInput => {
      const envelope = signEnvelope(JSON.stringify({ temperature: -20, counter }), cKey.key, { format: 'jws', kid: cKey.did });
      return { type: 'reading', device: c, body: bodyFromPayload(envelopePayload(envelope)), envelope };
    };
    const deviceKeys = (did: string): DeviceStatus | undefined => {
      if (did === a.did) return { status: 'enrolled' };
      if (did === c) return { status: 'enrolled', key: cKey.did };
      return undefined;
    };
    const w = await createLedger(dir, { blockRecords: 100 });
    await w.append({ type: 'device.enrol', body: { did: a.did } }); // 0
    for (let i = 0; i < 3; i++) await w.append(readingRecord(a)); // 1..3: a's counters 1..3
    await w.append({ type: 'device.revoke', body: { did: a.did } }); // 4: revoked on the ledger, not in the registry
    for (let i = 0; i < 2; i++) await w.append(readingRecord(a)); // 5, 6: a's counters 4, 5
    for (let i = 1; i <= 3; i++) await w.append(byC(i)); // 7..9: c's counters 1..3
    await w.seal();
    const cps = await checkpointsOf(w);
    await w.append(readingRecord(a, {}, 4)); // 10: a replay of a's counter 4
    await w.append(byC(2)); // 11: a replay of c's counter 2
    await w.append(readingRecord(a, {}, 6)); // 12
    await w.append(byC(4)); // 13
    await w.close();
    const whole = await auditLedger(dir, { deviceKeys });
    assert.deepEqual(whole.findings.map((f) => [f.kind, f.index]), [['replay', 10], ['replay', 11]], formatReport(whole));
    const r = await auditLedger(dir, { from: cps[cps.length - 1], deviceKeys });
    assert.equal(r.from, 10);
    assert.deepEqual(r.findings, whole.findings, formatReport(r));
  });

  it('asks a caller-supplied registry about each record before the checkpoint: an answer that changes with the record counts where it is given', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const a = makeDevice('Ed25519', 'jws');
    // The registry revokes a for records 2 and 3 only (its own history); the ledger has it enrolled throughout.
    const asked: number[] = [];
    const deviceKeys = (did: string, index: number): DeviceStatus | undefined => {
      asked.push(index);
      return did === a.did && (index === 2 || index === 3) ? { status: 'revoked' } : undefined;
    };
    const w = await createLedger(dir, { blockRecords: 100 });
    await w.append({ type: 'device.enrol', body: { did: a.did } }); // 0
    await w.append(readingRecord(a, {}, 1)); // 1
    await w.append(readingRecord(a, {}, 5)); // 2: revoked by the registry, not accepted
    await w.append(readingRecord(a, {}, 6)); // 3: the same
    await w.append(readingRecord(a, {}, 2)); // 4: newer than 1, the last accepted
    await w.seal();
    const cps = await checkpointsOf(w);
    await w.append(readingRecord(a, {}, 3)); // 5: newer than 2; a replay had 5 or 6 been accepted
    await w.close();
    const whole = await auditLedger(dir, { deviceKeys });
    assert.deepEqual(whole.findings.map((f) => [f.kind, f.index]), [['revoked-device', 2], ['revoked-device', 3]], formatReport(whole));
    asked.length = 0;
    const r = await auditLedger(dir, { from: cps[cps.length - 1], deviceKeys });
    assert.equal(r.from, 5);
    assert.deepEqual(r.findings, [], formatReport(r));
    for (const index of [1, 2, 3, 4, 5]) assert.ok(asked.includes(index), `the registry was not asked about record ${index}`);
  });

  it('a revocation the device signs itself counts in its order before the checkpoint, as in the full audit', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const a = makeDevice('Ed25519', 'jws');
    const w = await createLedger(dir, { blockRecords: 100 });
    await w.append({ type: 'device.enrol', body: { did: a.did } }); // 0
    for (let i = 0; i < 3; i++) await w.append(readingRecord(a)); // 1..3: counters 1..3
    // 4: a revokes itself with a message it signs (counter 10): checked while a is still enrolled.
    await w.append({ ...readingRecord(a, { did: a.did }, 10), type: 'device.revoke' });
    await w.append({ type: 'device.enrol', body: { did: a.did } }); // 5: enrolled again
    await w.seal();
    const cps = await checkpointsOf(w);
    await w.append(readingRecord(a, {}, 5)); // 6: not above the 10 accepted at 4
    await w.append(readingRecord(a, {}, 11)); // 7
    await w.close();
    await assertFullAndFrom(dir, cps[cps.length - 1], [['replay', 6]], 6, [['replay', 6]]);
  });

  it('an enrolment whose envelope is not in a stored form enrols no device before the checkpoint, as in the full audit', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const a = makeDevice('Ed25519', 'jws');
    const gatewayKey = generateKey('Ed25519');
    const w = await createLedger(dir, { gatewayKey });
    await w.append({ type: 'device.enrol', body: { did: a.did } }); // 0
    await w.append(readingRecord(a)); // 1
    await w.close();
    // The gateway key holder gives the enrolment an envelope the writer refuses: the full audit
    // reads no device event from it (a record-decode finding), so a is never enrolled.
    const forged = await forgeLedger({ dir, name: 'test.ledger', gatewayKey }, (records) => {
      records[0].envelope = 'not an envelope';
    }, 1);
    dirs.push(forged);
    const block0 = decodeCbor((await readValue(forged, keys.block(0))) as Buffer) as { checkpoint: string };
    await assertFullAndFrom(forged, block0.checkpoint, [['record-decode', 0], ['unknown-device', 1]], 1, [['unknown-device', 1]]);
  });

  it('from the gateway checkpoint of the empty tree: a full audit, clean; with another root, refused as no prefix', async () => {
    const empty = signCheckpoint({ origin: sample.name, size: 0, root: EMPTY_ROOT, extensions: [] }, sample.name, sample.gatewayKey);
    const r = await auditLedger(sample.dir, { from: empty, trustedKey: sample.verifierKey });
    assert.equal(r.clean, true, formatReport(r));
    assert.equal(r.from, 0);
    assert.equal(r.checked.records, 40);
    const notEmpty = signCheckpoint({ origin: sample.name, size: 0, root: new Uint8Array(32), extensions: [] }, sample.name, sample.gatewayKey);
    const n = await auditLedger(sample.dir, { from: notEmpty, trustedKey: sample.verifierKey });
    assert.deepEqual(kinds(n), ['consistency']);
  });

  it('refuses a starting checkpoint that the trusted key did not sign', async () => {
    const forged = signCheckpoint({ origin: sample.name, size: 20, root: new Uint8Array(32), extensions: [] }, sample.name, generateKey());
    await assert.rejects(auditLedger(sample.dir, { from: forged }), (e: unknown) => isLedgerError(e, 'ERR_BAD_SIGNATURE'));
    await assert.rejects(auditLedger(sample.dir, { from: 'not a note' }), (e: unknown) => isLedgerError(e, 'ERR_INVALID_ARGUMENT'));
  });

  it('finds a ledger rewritten after the trusted checkpoint (a fork) and audits it from the start', async () => {
    // Same gateway key, same name, different history.
    const dir = tempDir();
    dirs.push(dir);
    const w = await createLedger(dir, { blockRecords: 10, gatewayKey: sample.gatewayKey, name: sample.name });
    for (let i = 0; i < 40; i++) await w.append({ type: 'note', body: { i } });
    await w.close();
    const r = await auditLedger(dir, { from: sample.checkpoints[1] });
    assert.equal(r.findings[0].kind, 'consistency');
    assert.equal(r.from, 0);
  });

  it('finds the same records re-sealed and re-signed by the gateway key holder into blocks the trusted checkpoint does not commit to', async () => {
    // Every record and root as before, every block header (its sealing time) different, every checkpoint re-signed.
    const dir = await forgeLedger(sample, () => undefined);
    dirs.push(dir);
    assert.equal((await auditLedger(dir, { trustedKey: sample.verifierKey })).clean, true, 'the forger is honest about everything else');
    for (const h of [1, 2]) {
      const r = await auditLedger(dir, { from: sample.checkpoints[h], trustedKey: sample.verifierKey });
      assert.equal(r.from, (h + 1) * 10);
      assert.deepEqual(r.findings.map((f) => [f.kind, f.index, f.height]), [['consistency', (h + 1) * 10, h]], formatReport(r));
      assert.match(r.findings[0].detail, new RegExp(`block ${h}'s header is not the one the trusted checkpoint`));
    }
  });

  it('walks the chain from the trusted header: a later block the gateway key signed at a smaller or the same size is found as in the full audit', async () => {
    // The trusted checkpoint is block 1's (size 20). The key holder replaces blocks 2 and 3 with
    // blocks ending at `ends`, the first of them starting at record 10, each chained to the one before.
    for (const ends of [
      [15, 25, 40],
      [20, 15, 30, 40],
    ]) {
      const dir = copy();
      await resealAfter(dir, sample.name, sample.gatewayKey, 1, ends, 10);
      const whole = await auditLedger(dir, { trustedKey: sample.verifierKey });
      assert.ok(whole.findings.some((f) => f.height === 2 && f.kind === 'block-chain' && /first is 10, but block 1 ends at 20/.test(f.detail)), formatReport(whole));
      const r = await auditLedger(dir, { from: sample.checkpoints[1], trustedKey: sample.verifierKey });
      assert.equal(r.from, 20);
      // Every record after the checkpoint is as it was: the blocks alone differ, and the same findings say so.
      assert.deepEqual(r.findings, whole.findings, formatReport(r));
    }
  });

  it('a trusted checkpoint whose header line names a block that ends elsewhere is a consistency finding', async () => {
    // Signed by the gateway key: size 20 and its root, but the header of block 2 (which ends at 30).
    const block2 = decodeCbor((await readValue(sample.dir, keys.block(2))) as Buffer) as { hash: Uint8Array };
    const cp = resigned(sample.checkpoints[1], [headerLine(2, block2.hash)], sample.name, sample.gatewayKey);
    const r = await auditLedger(sample.dir, { from: cp, trustedKey: sample.verifierKey });
    assert.deepEqual(r.findings.map((f) => [f.kind, f.height]), [['consistency', 2]], formatReport(r));
    assert.match(r.findings[0].detail, /block 2's header ends at tree size 30, not at the trusted checkpoint's 20/);
  });

  describe('from a checkpoint written before the header line (it names no block)', () => {
    /** Block `h`'s checkpoint as a gateway before format 2 signed it: the same size and root, no header line. */
    const legacy = (h: number): string => resigned(sample.checkpoints[h], [], sample.name, sample.gatewayKey);
    /** Stores blocks 0..`last`'s checkpoints as written before format 2 (an upgraded ledger). */
    const storeLegacy = (dir: string, last: number): Promise<void> =>
      mutate(dir, async (db) => {
        for (let h = 0; h <= last; h++) {
          const block = decodeCbor((await db.get(keys.block(h))) as Buffer) as { header: Uint8Array; hash: Uint8Array; checkpoint: string };
          await db.put(keys.block(h), Buffer.from(encodeCbor({ ...block, checkpoint: legacy(h) })));
        }
      });

    it('walks the chain from the block signed at its size: a later block the gateway key signed at a smaller or the same size is found as in the full audit', async () => {
      // The trusted checkpoint is block 1's (size 20), without the header line; the ledger's blocks
      // 0 and 1 carry it so or with the line. The key holder replaces blocks 2.. as above.
      for (const upgraded of [false, true]) {
        for (const ends of [
          [15, 25, 40],
          [20, 15, 30, 40],
        ]) {
          const dir = copy();
          if (upgraded) await storeLegacy(dir, 1);
          await resealAfter(dir, sample.name, sample.gatewayKey, 1, ends, 10);
          const whole = await auditLedger(dir, { trustedKey: sample.verifierKey });
          assert.ok(whole.findings.some((f) => f.height === 2 && f.kind === 'block-chain' && /first is 10, but block 1 ends at 20/.test(f.detail)), formatReport(whole));
          const r = await auditLedger(dir, { from: legacy(1), trustedKey: sample.verifierKey });
          assert.equal(r.from, 20);
          assert.deepEqual(r.findings, whole.findings, `${upgraded ? 'upgraded ' : ''}${ends.join(', ')}: ${formatReport(r)}`);
        }
      }
    });

    it('checks only what follows it on a clean ledger, from the block signed at its size', async () => {
      const dir = copy();
      await storeLegacy(dir, 2);
      for (const h of [0, 1, 2, 3]) {
        for (const d of [sample.dir, dir]) {
          const r = await auditLedger(d, { from: legacy(h), trustedKey: sample.verifierKey });
          assert.equal(r.from, (h + 1) * 10);
          assert.equal(r.checked.blocks, 4 - h, formatReport(r));
          assert.equal(r.clean, true, formatReport(r));
        }
      }
    });

    it('is a consistency finding when no stored block is signed at its size and root (the blocks were re-sealed)', async () => {
      // Blocks 1.. re-sealed by the key holder to end at 15, 25, 30, 40: a chain a full audit cannot fault.
      const dir = copy();
      await resealAfter(dir, sample.name, sample.gatewayKey, 0, [15, 25, 30, 40]);
      const whole = await auditLedger(dir, { trustedKey: sample.verifierKey });
      assert.equal(whole.clean, true, formatReport(whole));
      const r = await auditLedger(dir, { from: legacy(1), trustedKey: sample.verifierKey });
      assert.equal(r.from, 20);
      assert.deepEqual(r.findings.map((f) => [f.kind, f.index]), [['consistency', 20]], formatReport(r));
      assert.match(r.findings[0].detail, /no stored block carries the trusted checkpoint \(size 20\)/);
      assert.equal(r.checked.blocks, 5, 'every block is walked');
    });
  });

  it('finds a ledger truncated below the trusted checkpoint (rollback)', async () => {
    const dir = copy();
    await mutate(dir, async (db) => {
      for (let i = 30; i < 40; i++) await db.del(keys.record(i));
      for (let l = 0; l < 6; l++) for (let j = Math.floor(30 / 2 ** l); j < 40; j++) await db.del(keys.node(l, j));
      await db.del(keys.block(3));
      await db.put(keys.head(), headValue(30, 3, 30));
    });
    const r = await auditLedger(dir, { from: sample.checkpoints[3] });
    assert.equal(r.findings[0].kind, 'consistency');
    assert.match(r.findings[0].detail, /truncated or rolled back/);
  });

  it('reads every block after the checkpoint, whatever their headers say of where they end', async () => {
    const dir = copy();
    await mutate(dir, async (db) => {
      // Blocks 2 and 3 (records 20..39) claim to end at 0, and the head agrees: no longer after the checkpoint's size 20.
      for (const h of [2, 3]) {
        const b = decodeCbor((await db.get(keys.block(h))) as Buffer) as Record<string, CborValue>;
        b.header = encodeCbor({ ...(decodeCbor(b.header as Uint8Array) as Record<string, CborValue>), first: 0, size: 0 });
        await db.put(keys.block(h), Buffer.from(encodeCbor(b)));
      }
      await db.put(keys.head(), headValue(40, 4, 0));
    });
    const r = await auditLedger(dir, { from: sample.checkpoints[1] });
    assert.equal(r.from, 20);
    assert.deepEqual([r.findings[0]?.kind, r.findings[0]?.height], ['block-header', 2], formatReport(r));
    assert.ok(r.findings.some((f) => f.kind === 'block-header' && f.height === 3), formatReport(r));
  });

  describe('device state before the checkpoint comes from the records, not the unsigned summaries', () => {
    type Db = Parameters<Parameters<typeof mutate>[1]>[0];
    /** Block 0: a enrolled, its counters 1..3; block 1: a revoked (or a note); block 2: notes. Then record 12 from a: counter 4 after a revocation, else a replay of counter 2. */
    const build = async (revoke: boolean): Promise<{ dir: string; cp: string }> => {
      const dir = tempDir();
      dirs.push(dir);
      const a = makeDevice('Ed25519', 'jws');
      const w = await createLedger(dir, { blockRecords: 4 });
      await w.append({ type: 'device.enrol', body: { did: a.did } });
      for (let i = 0; i < 3; i++) await w.append(readingRecord(a));
      await w.append(revoke ? { type: 'device.revoke', body: { did: a.did } } : { type: 'note', body: {} });
      for (let i = 0; i < 7; i++) await w.append({ type: 'note', body: { i } });
      const cp = (await checkpointsOf(w))[2];
      await w.append(readingRecord(a, {}, revoke ? 4 : 2));
      await w.close();
      return { dir, cp };
    };
    const tampered = async (l: { dir: string; cp: string }, edit: (db: Db) => Promise<void>): Promise<AuditReport> => {
      const d = copyDir(l.dir);
      dirs.push(d);
      await mutate(d, edit);
      return auditLedger(d, { from: l.cp });
    };
    const editSummary = async (db: Db, height: number, edit: (s: Record<string, CborValue>) => void): Promise<void> => {
      const s = decodeCbor((await db.get(keys.summary(height))) as Buffer) as Record<string, CborValue>;
      edit(s);
      await db.put(keys.summary(height), Buffer.from(encodeCbor(s)));
    };
    const found = (r: AuditReport): [string, number | undefined][] => r.findings.map((f) => [f.kind, f.index]);

    it('a type removed from a summary hides no revocation', async () => {
      const l = await build(true);
      assert.deepEqual(found(await auditLedger(l.dir, { from: l.cp })), [['revoked-device', 12]]);
      const r = await tampered(l, (db) => editSummary(db, 1, (s) => (s.types = (s.types as string[]).filter((t) => t !== 'device.revoke'))));
      assert.deepEqual(found(r), [['revoked-device', 12]], formatReport(r));
    });

    it('a device removed from a summary hides no last counter', async () => {
      const l = await build(false);
      assert.deepEqual(found(await auditLedger(l.dir, { from: l.cp })), [['replay', 12]]);
      const r = await tampered(l, (db) => editSummary(db, 0, (s) => (s.devices = [])));
      assert.deepEqual(found(r), [['replay', 12]], formatReport(r));
    });

    it('a revocation rewritten as a note with its leaf hash recomputed is found at that record', async () => {
      const l = await build(true);
      const r = await tampered(l, async (db) => {
        const note = encodeCbor({ v: 1, type: 'note', time: 1, body: {} });
        await db.put(keys.record(4), Buffer.concat([Buffer.from(sha256(Buffer.concat([Buffer.from([0]), note]))), Buffer.from(note)]));
        await editSummary(db, 1, (s) => (s.types = ['note']));
      });
      assert.equal(r.findings[0]?.kind, 'consistency', formatReport(r));
      assert.equal(r.from, 0, 'audited from the start');
      assert.deepEqual(found(r)[1], ['merkle-node', 4], formatReport(r));
    });
  });

  it('finds an enrolment record before the checkpoint that no longer matches it', async () => {
    const dir = copy();
    await mutate(dir, async (db) => {
      const r0 = (await db.get(keys.record(0))) as Buffer;
      r0[r0.length - 3] ^= 1;
      await db.put(keys.record(0), r0);
    });
    const r = await auditLedger(dir, { from: sample.checkpoints[1] });
    assert.equal(r.findings[0].kind, 'consistency');
    assert.equal(r.findings[0].index, 0);
    // Its device is then unknown in what follows.
    assert.ok(r.findings.slice(1).every((f) => f.kind === 'unknown-device' && (f.index as number) >= 20), formatReport(r));
  });
});


describe('audit: a ledger of several chunks, in worker threads', function () {
  this.timeout(60000);
  let dir: string;
  before(async () => {
    dir = tempDir();
    const w = await createLedger(dir, { blockRecords: 300 });
    const devs = [makeDevice('Ed25519', 'jws'), makeDevice('ES256', 'cose')];
    const inputs = [
      ...devs.map((d) => ({ type: 'device.enrol', body: { did: d.did } })),
      ...Array.from({ length: 4998 }, (_, i) => {
        const d = devs[i % 2];
        return i % 3 === 0
          ? { type: 'note', body: { i } }
          : readingRecord(d, { t: -20 - i / 100 });
      }),
    ];
    await appendAll(w, inputs);
    await w.close();
    await unsealLastBlock(dir); // the last 200 records are not under a checkpoint
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('is clean, and finds the same damage as the in-thread audit', async () => {
    const clean = await auditLedger(dir, { workers: 2, parallelThreshold: 0 });
    assert.equal(clean.clean, true, formatReport(clean));
    assert.equal(clean.size, 5000);
    assert.equal(clean.unsealed, 200);
    assert.equal(clean.checked.records, 5000);
    const damaged = copyDir(dir);
    try {
      await mutate(damaged, async (db) => {
        for (const i of [1500, 3333]) {
          const v = (await db.get(keys.record(i))) as Buffer;
          v[v.length - 5] ^= 0x40;
          await db.put(keys.record(i), v);
        }
        const n = (await db.get(keys.node(11, 1))) as Buffer; // above the 1024-record chunks: records 2048..4095
        n[3] ^= 1;
        await db.put(keys.node(11, 1), n);
      });
      const inWorkers = await auditLedger(damaged, { workers: 2, parallelThreshold: 0 });
      const inThread = await auditLedger(damaged, { workers: 0 });
      assert.deepEqual(inWorkers.findings, inThread.findings);
      assert.deepEqual(
        inWorkers.findings.map((f) => [f.kind, f.index]),
        // A node sits after the records it covers (2048..4095), so after record 3333.
        [
          ['record-hash', 1500],
          ['record-hash', 3333],
          ['merkle-node', 2048],
        ],
      );
    } finally {
      fs.rmSync(damaged, { recursive: true, force: true });
    }
  });
});
