import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateKey, keyToDid } from '../lib/crypto';
import { signEnvelope } from '../lib/envelope/envelope';
import { isLedgerError } from '../lib/errors';
import { toRecordBody } from '../lib/envelope/payload';
import { FairQueue } from '../lib/gateway/fair-queue';
import { Gateway } from '../lib/gateway/gateway';
import { SecurityLog } from '../lib/gateway/security-log';
import { SignaturePool } from '../lib/gateway/signature-pool';
import { ReportBudget } from '../lib/guards/report-budget';
import { auditLedger, formatReport } from '../lib/audit';
import { sidebarData } from '../lib/gateway/sidebar-data';

describe('flood limits', () => {
  describe('FairQueue', () => {
    it('serves lanes in turn, each in its own order, and the low-priority lane last', () => {
      const q = new FairQueue<string>(100, 10, 10);
      for (let i = 0; i < 5; i++) assert.ok(q.push('flood', `f${i}`));
      assert.ok(q.push(undefined, 'tofu'));
      assert.ok(q.push('honest', 'h0'));
      assert.deepEqual(q.take(4), ['f0', 'h0', 'f1', 'f2']);
      assert.deepEqual(q.take(10), ['f3', 'f4', 'tofu']);
      assert.equal(q.size, 0);
    });

    it('refuses past the per-lane, low-priority and total bounds', () => {
      const q = new FairQueue<number>(5, 3, 1);
      assert.deepEqual([1, 2, 3, 4].map((i) => q.push('a', i)), [true, true, true, false]);
      assert.equal(q.push(undefined, 9), true);
      assert.equal(q.push(undefined, 10), false);
      assert.equal(q.push('b', 1), true);
      assert.equal(q.push('c', 1), false, 'total bound');
      assert.equal(q.drain().length, 5);
    });
  });

  describe('SecurityLog', () => {
    it('writes the first rejection of a key at once and aggregates the rest per interval, the counts adding up', () => {
      const log = new SecurityLog(1000, 64);
      const first = log.note('ERR_BAD_SIGNATURE', 'bad', { device: 'did:key:zA', topic: 't/1', source: 'verify' }, 100);
      assert.deepEqual(first, {
        device: 'did:key:zA',
        body: { code: 'ERR_BAD_SIGNATURE', count: 1, first: 100, last: 100, source: 'verify', sample: { detail: 'bad', topic: 't/1' } },
      });
      for (let t = 101; t < 600; t++) assert.equal(log.note('ERR_BAD_SIGNATURE', 'bad', { device: 'did:key:zA', topic: 't/2' }, t), undefined);
      const other = log.note('ERR_UNKNOWN_DEVICE', 'who', { topic: 't/9' }, 200);
      assert.equal(other?.body.topic, 't/9');
      const taken = log.take(1100);
      assert.equal(taken.length, 1);
      assert.deepEqual(taken[0].body, { code: 'ERR_BAD_SIGNATURE', count: 499, first: 101, last: 599, sample: { detail: 'bad', topic: 't/2' } });
      assert.deepEqual(log.take(1200), []);
      // Quiet for an interval: the next one is written at once again.
      log.take(2200);
      assert.ok(log.note('ERR_BAD_SIGNATURE', 'bad', { device: 'did:key:zA' }, 2300));
    });

    it('bounds the keys: past them, rejections go to one bucket per code (topic "*")', () => {
      const log = new SecurityLog(1000, 3);
      const now: unknown[] = [];
      for (let i = 0; i < 1000; i++) now.push(log.note('ERR_UNKNOWN_DEVICE', 'x', { topic: `t/${i}` }, 10));
      assert.equal(now.filter(Boolean).length, 4); // three topics and the bucket
      const taken = log.take(2000);
      assert.deepEqual(taken.map((e) => [e.body.topic, e.body.count]), [['*', 996]]);
    });
  });

  it('ReportBudget lets perSecond through, then refills with time', () => {
    const b = new ReportBudget(10, 0);
    assert.equal([...Array(20)].filter(() => b.take(0)).length, 10);
    assert.equal(b.take(50), false);
    assert.equal(b.take(100), true);
    assert.equal([...Array(20)].filter(() => b.take(5000)).length, 10);
  });

  describe('SignaturePool', () => {
    it("sheds with ERR_OVERLOADED past a device's lane, and still checks another device's message", async () => {
      const pool = new SignaturePool({ maxPerDevice: 4, maxWaiting: 100 });
      const flooder = generateKey('Ed25519');
      const honest = generateKey('Ed25519');
      try {
        const env = signEnvelope({ counter: 1 }, flooder, { kid: keyToDid(flooder) });
        const flood = Array.from({ length: 50 }, () => pool.verify(env, keyToDid(flooder)).then(() => 'ok', (e: unknown) => (isLedgerError(e) ? e.code : String(e))));
        const mine = pool.verify(signEnvelope({ counter: 1 }, honest, { kid: keyToDid(honest) }), keyToDid(honest));
        const results = await Promise.all(flood);
        assert.equal(results.filter((r) => r === 'ok').length, 4);
        assert.equal(results.filter((r) => r === 'ERR_OVERLOADED').length, 46);
        assert.equal((await mine).format, 'jws');
      } finally {
        await pool.close();
      }
    });
  });

  describe('Gateway', () => {
    let dir: string;
    let gw: Gateway | undefined;
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iot-ledger-flood-'));
    });
    afterEach(async () => {
      await gw?.close();
      gw = undefined;
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('10 000 rejections on one topic write 2 security records whose counts add up (the second on close)', async () => {
      const gatewayKey = generateKey('Ed25519');
      gw = await Gateway.open(dir, { name: 'flood', gatewayKey }, { securityIntervalMs: 60_000 });
      const before = gw.ledger.size;
      for (let i = 0; i < 10_000; i++) await gw.verify(`not an envelope ${i}`).catch((err: unknown) => gw!.securityEvent(err, { topic: 'x/reading', source: 'verify' }));
      assert.equal(gw.ledger.size, before + 1);
      assert.equal(gw.stats.security.ERR_MALFORMED_ENVELOPE, 10_000);
      await gw.close();
      gw = await Gateway.open(dir, { name: 'flood', gatewayKey, readOnly: true });
      const counts: number[] = [];
      for await (const r of gw.ledger.byType('security')) counts.push((r.record.body as { count: number }).count);
      assert.deepEqual(counts, [1, 9999]);
    });

    it('Record sheds with ERR_OVERLOADED past its bound of writes waiting, and records the rest', async () => {
      gw = await Gateway.open(dir, { name: 'writes', gatewayKey: generateKey('Ed25519') }, { maxPendingWrites: 2 });
      const device = generateKey('Ed25519');
      await gw.enrol({ did: keyToDid(device), name: 'd' });
      const inputs = [];
      for (let counter = 1; counter <= 5; counter++) {
        const v = await gw.verify(signEnvelope({ counter }, device, { kid: keyToDid(device) }));
        inputs.push({ input: { type: 'reading', device: v.device.did, body: toRecordBody(v.payload), envelope: v.envelope }, proof: { counter, proof: v.proof } });
      }
      const results = await Promise.all(inputs.map(({ input, proof }) => gw!.recordMessage(input, proof).then(() => 'ok', (e: unknown) => (isLedgerError(e) ? e.code : String(e)))));
      assert.deepEqual(results, ['ok', 'ok', 'ERR_OVERLOADED', 'ERR_OVERLOADED', 'ERR_OVERLOADED']);
      assert.equal(gw.stats.shed, 3);
      assert.equal(gw.backlog.writes, 0);
    });

    it('the audit and the sidebar show the rejections counted by security records', async () => {
      const gatewayKey = generateKey('Ed25519');
      gw = await Gateway.open(dir, { name: 'counts', gatewayKey }, { securityIntervalMs: 60_000 });
      const stranger = generateKey('Ed25519');
      const env = signEnvelope({ counter: 1 }, stranger, { kid: keyToDid(stranger) });
      const note = (input: unknown, topic: string) => gw!.verify(input).catch((err: unknown) => gw!.securityEvent(err, { topic, source: 'verify' }));
      for (let i = 0; i < 30; i++) await note(env, 'a/reading');
      for (let i = 0; i < 5; i++) await note('garbage', 'b/reading');
      // An older, unaggregated record counts as one.
      await gw.record({ type: 'security', body: { code: 'ERR_BAD_SIGNATURE', detail: 'old format', source: 'verify' } });
      await gw.flushSecurityEvents();
      const [side] = await sidebarData([gw]);
      assert.deepEqual(side.security.byCode, { ERR_UNKNOWN_DEVICE: 30, ERR_MALFORMED_ENVELOPE: 5 });
      assert.equal(side.security.total, 35);
      assert.deepEqual(side.security.recent.map((r) => [r.code, r.count]), [
        ['ERR_MALFORMED_ENVELOPE', 4],
        ['ERR_UNKNOWN_DEVICE', 29],
        ['ERR_BAD_SIGNATURE', 1],
        ['ERR_MALFORMED_ENVELOPE', 1],
        ['ERR_UNKNOWN_DEVICE', 1],
      ]);
      await gw.close();
      gw = undefined;
      const report = await auditLedger(dir, { workers: 0 });
      assert.equal(report.clean, true);
      assert.deepEqual(report.security, { records: 5, rejections: 36, byCode: { ERR_BAD_SIGNATURE: 1, ERR_MALFORMED_ENVELOPE: 5, ERR_UNKNOWN_DEVICE: 30 } });
      assert.match(formatReport(report), /36 rejected messages in 5 security records: ERR_BAD_SIGNATURE 1, ERR_MALFORMED_ENVELOPE 5, ERR_UNKNOWN_DEVICE 30/);
    });
  });
});
