import * as assert from 'node:assert/strict';
import { auditLedger } from '../lib/audit';
import { generateKey, keyToDid } from '../lib/crypto';
import { signEnvelope } from '../lib/envelope/envelope';
import { isLedgerError } from '../lib/errors';
import { Gateway } from '../lib/gateway';
import { tempDir } from './support/ledger';

// The audit must read a device message's counter and time exactly as the gateway did when it
// accepted it: a counter the gateway ignored (not a safe integer) must not make the audit
// flag the device's later messages as replays (found by the node fuzz test: a payload with
// counter 1.797e308 and a valid ts was accepted by its time).

describe('audit: replay checks agree with the gateway on what counts as a counter or a time', () => {
  const device = generateKey('Ed25519');
  const did = keyToDid(device);
  const gatewayKey = generateKey('Ed25519');
  let tmp: ReturnType<typeof tempDir>;
  let gw: Gateway;

  /** Verifies and records `payload` as the Verify -> Record flow does; false when the gateway refuses it. */
  const send = async (payload: Record<string, unknown>): Promise<boolean> => {
    const env = signEnvelope(payload, device, { kid: did }) as string;
    try {
      const v = await gw.verify(env);
      await gw.record({ type: 'reading', device: did, body: v.payload as never, envelope: env });
      return true;
    } catch (err) {
      if (isLedgerError(err, 'ERR_REPLAY')) return false;
      throw err;
    }
  };

  beforeEach(async () => {
    tmp = tempDir();
    gw = await Gateway.open(tmp.dir, { name: 'freshness', gatewayKey, blockSeconds: 0 });
    await gw.enrol({ did, name: 'sensor' });
  });
  afterEach(async () => {
    await gw.close();
    tmp.cleanup();
  });

  const cases: { name: string; messages: Record<string, unknown>[] }[] = [
    { name: 'a huge counter the gateway ignores, then ordinary counters', messages: [{ counter: 1.7976931348623157e308, ts: 1000 }, { counter: 5, ts: 2000 }, { counter: 6, ts: 3000 }] },
    { name: 'a fractional counter, then a whole one', messages: [{ counter: 7.5, ts: 1000 }, { counter: 3, ts: 2000 }] },
  ];
  for (const c of cases) {
    it(`${c.name}: what the gateway accepted audits clean`, async () => {
      const accepted: boolean[] = [];
      for (const m of c.messages) accepted.push(await send({ temperature: -21, ...m }));
      assert.ok(accepted.filter(Boolean).length >= 2, `the gateway accepted ${JSON.stringify(accepted)}`);
      await gw.ledger.seal();
      const full = await auditLedger(tmp.dir, { db: gw.ledger.database, workers: 0 });
      assert.deepEqual(full.findings, []);
    });
  }

  it('refuses a message without a counter once the device sent counters, at Verify, at Record and after a restart; the audit agrees', async () => {
    // Found by the node fuzz test: after {counter: 1, ts: 1000}, a message {ts: X} without a
    // counter was accepted by its time; then {counter: 2, ts < X} moved the Record stage's time
    // back, and {ts: X} sent to Record again with its Verify proof was recorded twice.
    const first = signEnvelope({ temperature: -21, ts: 9_000 }, device, { kid: did }) as string;
    const v = await gw.verify(first);
    // msg.verified as the Verify node sets it
    const v1 = { counter: v.freshness.counter, time: v.freshness.time, proof: v.proof };
    await gw.recordMessage({ type: 'reading', device: did, body: v.payload as never, envelope: first }, v1);
    assert.equal(await send({ temperature: -21, counter: 1, ts: 2_000 }), false, 'before counters, a message must be newer by its time');
    assert.ok(await send({ temperature: -21, counter: 1, ts: 9_500 }));
    await assert.rejects(gw.recordMessage({ type: 'reading', device: did, body: v.payload as never, envelope: first }, v1), { code: 'ERR_REPLAY' });
    assert.equal(await send({ temperature: -21, ts: 10_000 }), false, 'no counter after counters: refused even with a later time');
    assert.ok(await send({ temperature: -21, counter: 2, ts: 3_000 }), 'a newer counter with an earlier clock is newer');
    await gw.close();
    gw = await Gateway.open(tmp.dir, { name: 'freshness', gatewayKey, blockSeconds: 0 });
    assert.equal(await send({ temperature: -21, ts: 11_000 }), false, 'the same after a restart');
    assert.equal(await send({ temperature: -21, counter: 2, ts: 12_000 }), false, 'the same counter after a restart');
    assert.ok(await send({ temperature: -21, counter: 3, ts: 1_000 }));
    await gw.ledger.seal();
    const r = await auditLedger(tmp.dir, { db: gw.ledger.database, workers: 0 });
    assert.deepEqual(r.findings, []);
  });

  it('flags a recorded message without a counter after counters, as the gateway refuses it', async () => {
    assert.ok(await send({ temperature: -21, counter: 1, ts: 1_000 }));
    const env = signEnvelope({ temperature: -21, ts: 5_000 }, device, { kid: did }) as string;
    const forged = await gw.record({ type: 'reading', device: did, body: { temperature: -21, ts: 5_000 }, envelope: env });
    await gw.ledger.seal();
    const r = await auditLedger(tmp.dir, { db: gw.ledger.database, workers: 0 });
    assert.deepEqual(
      r.findings.map((f) => [f.kind, f.index, f.detail]),
      [['replay', forged.index, `record ${forged.index} replays an older device message: it carries no counter, and the last accepted message had counter 1`]],
    );
  });

  it('still flags a recorded message the gateway would have refused (same counter again)', async () => {
    assert.ok(await send({ temperature: -21, counter: 4, ts: 1000 }));
    const env = signEnvelope({ temperature: -21, counter: 4, ts: 5000 }, device, { kid: did }) as string;
    const forged = await gw.record({ type: 'reading', device: did, body: { temperature: -21, counter: 4, ts: 5000 }, envelope: env });
    await gw.ledger.seal();
    const r = await auditLedger(tmp.dir, { db: gw.ledger.database, workers: 0 });
    assert.deepEqual(
      r.findings.map((f) => [f.kind, f.index]),
      [['replay', forged.index]],
    );
  });
});

// Admission reads a device's time text strictly (RFC 3339 with an offset, fields that exist:
// contracts' parseTime); records admitted before that, leniently (Date.parse of any text of 10
// characters or more), are read as recorded by the audit and by a restarting gateway.
describe('device times: strict at admission, as recorded on the ledger', () => {
  const device = generateKey('Ed25519');
  const did = keyToDid(device);
  const gatewayKey = generateKey('Ed25519');
  let tmp: ReturnType<typeof tempDir>;
  let gw: Gateway;
  const open = async (): Promise<Gateway> => Gateway.open(tmp.dir, { name: 'device-times', gatewayKey, blockSeconds: 0 });
  const env = (payload: Record<string, unknown>): string => signEnvelope(payload, device, { kid: did }) as string;

  beforeEach(async () => {
    tmp = tempDir();
    gw = await open();
    await gw.enrol({ did, name: 'sensor' });
  });
  afterEach(async () => {
    await gw.close();
    tmp.cleanup();
  });

  const lenient = [
    'Dec 6 2026 10:00', // not ISO 8601
    '2026-02-30T00:00:00Z', // no such day (Date.parse: March 2nd)
    '2026-12-06T24:00:00Z', // no such hour
    '2026-12-06T10:00:00', // local time, no offset
    '2026-12-06', // a date without a time
    '2026-12-06 10:00:00Z', // no T
    'Sun, 06 Dec 2026 10:00:00 GMT', // RFC 7231, not RFC 3339
    'not a time at all',
    'short',
  ];
  for (const text of lenient) {
    it(`refuses ${JSON.stringify(text)} as ts, time or timestamp with ERR_REPLAY, with or without a counter and with freshness not required; nothing is recorded`, async () => {
      const before = gw.ledger.size;
      for (const field of ['ts', 'time', 'timestamp']) {
        for (const [payload, opts] of [
          [{ temperature: -21, [field]: text }, {}],
          [{ temperature: -21, counter: 1, [field]: text }, {}],
          [{ temperature: -21, [field]: text }, { requireFreshness: false }],
        ] as const) {
          await assert.rejects(gw.verify(env(payload), opts), (err: unknown) => {
            assert.ok(isLedgerError(err, 'ERR_REPLAY'), String(err));
            assert.equal(err.details?.field, field);
            assert.match(err.message, /RFC 3339/);
            return true;
          });
        }
      }
      assert.equal(gw.ledger.size, before);
      assert.equal(gw.devices.lastAccepted(did), undefined, 'a refused message leaves no freshness behind');
    });
  }

  it('admits RFC 3339 times with Z or an offset, fractions, and numbers as before, in order', async () => {
    const admitted: [unknown, number][] = [
      [1_764_000_000_000, 1_764_000_000_000],
      ['2026-12-06T10:00:00Z', Date.UTC(2026, 11, 6, 10)],
      ['2026-12-06T11:30:00.250+01:00', Date.UTC(2026, 11, 6, 10, 30, 0, 250)],
      ['2026-12-06T10:45z', Date.UTC(2026, 11, 6, 10, 45)],
      ['2024-02-29T23:59:59-05:00', NaN], // a leap day, but older than the last: a replay
      [Date.UTC(2026, 11, 7), Date.UTC(2026, 11, 7)],
    ];
    for (const [ts, ms] of admitted) {
      const e = env({ temperature: -21, ts });
      if (Number.isNaN(ms)) {
        await assert.rejects(gw.verify(e), /not newer/);
        continue;
      }
      const v = await gw.verify(e);
      assert.equal(v.freshness.time, ms);
      await gw.recordMessage({ type: 'reading', device: did, body: v.payload as never, envelope: e }, { counter: v.freshness.counter, time: v.freshness.time, proof: v.proof });
    }
    await gw.ledger.seal();
    const r = await auditLedger(tmp.dir, { db: gw.ledger.database, workers: 0 });
    assert.deepEqual(r.findings, []);
  });

  it('an older ledger holding times admitted leniently audits clean, and a restarted gateway reads them as recorded', async () => {
    // Written as gateways before the strict admission recorded what Verify accepted: a body that
    // is the signed payload, with the envelope. Local times are chosen so that their order does
    // not depend on the time zone the test runs in (offsets are within ±14 hours).
    const recorded: Record<string, unknown>[] = [
      { temperature: -21, ts: Date.UTC(2026, 0, 1) }, // a number first: a lenient text read as no time would then be a replay
      { temperature: -21, ts: '2026-02-30T00:00:00Z' }, // March 2nd, 00:00 UTC
      { temperature: -21, time: 'Mar 3 2026 10:00' }, // local time, March 3rd
      { temperature: -21, timestamp: '2026-03-05T10:00:00' }, // local time, March 5th
    ];
    for (const body of recorded) await gw.record({ type: 'reading', device: did, body: body as never, envelope: env(body) });
    await gw.close();
    gw = await open();
    // The restarted gateway holds March 5th (local) as the last time: March 4th is a replay, March 7th is newer.
    await assert.rejects(gw.verify(env({ temperature: -21, ts: '2026-03-04T00:00:00Z' })), { code: 'ERR_REPLAY', message: /not newer/ });
    const next = env({ temperature: -21, ts: '2026-03-07T00:00:00Z' });
    const v = await gw.verify(next);
    await gw.recordMessage({ type: 'reading', device: did, body: v.payload as never, envelope: next }, { counter: v.freshness.counter, time: v.freshness.time, proof: v.proof });
    await gw.ledger.seal();
    const full = await auditLedger(tmp.dir, { db: gw.ledger.database, workers: 0 });
    assert.deepEqual(full.findings, []);
    assert.equal(full.clean, true);
  });
});
