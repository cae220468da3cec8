import * as assert from 'node:assert/strict';
import { signedBodyProblem } from '../../lib/audit/signed-body';
import { generateKey, keyToDid } from '../../lib/crypto';
import { signEnvelope } from '../../lib/envelope/envelope';
import { toRecordBody } from '../../lib/envelope/payload';
import { checkReport, createReport, isFirmwareRejection, openReport } from '../../lib/firmware';
import { FIRMWARE_REPORT } from '../../lib/gateway';
import { gatewayPerTest } from '../support/gateway';
import { imageDigest } from './fixtures';

// A device's report time is admitted strictly, as a reading's (0194101): a ts text must be an
// RFC 3339 date-time with an offset whose fields exist. A date alone ("2026-12-06"), which
// earlier gateways took as midnight UTC, is refused as malformed; a ledger that holds one still
// loads and audits clean, and reads it as recorded.

describe('firmware: a report ts is admitted strictly, read as recorded', () => {
  const gatewayKey = generateKey('Ed25519');
  const deviceKey = generateKey('Ed25519');
  const device = keyToDid(deviceKey);
  const fields = { class: 'thermo', version: '1.0', sequence: 1, digest: imageDigest('thermo/1') };
  const signed = (ts: unknown, extra: Record<string, unknown> = {}) => signEnvelope(JSON.stringify({ ...fields, ...extra, ts }), deviceKey, { kid: device });
  const malformedTs = (err: unknown) => {
    assert.ok(isFirmwareRejection(err, 'malformed'), String(err));
    assert.equal((err as { details?: { field?: string } }).details?.field, 'ts');
    return true;
  };
  const now = Date.UTC(2027, 0, 1);
  const g = gatewayPerTest({ name: 'report-time', gatewayKey, blockRecords: 3, blockSeconds: 0 });
  beforeEach(async () => {
    await g.gw.enrol({ did: device, name: 'thermo' });
  });

  it('a ts text that is not a date-time with an offset is refused as malformed (field ts), also by createReport; one that is is read as parseTime reads it', async () => {
    for (const ts of ['2026-12-06', '2028-02-29', '2026-12-06T10:00:00', '2026-02-30T00:00:00Z', '2026-12-06T10:00:00z']) {
      assert.throws(() => openReport(signed(ts), device), malformedTs, ts);
      assert.throws(() => createReport({ ...fields, ts }, deviceKey), malformedTs, ts);
    }
    for (const [ts, ms] of [
      ['2026-12-06T10:00:00Z', Date.UTC(2026, 11, 6, 10)],
      ['2026-12-06T11:00+01:00', Date.UTC(2026, 11, 6, 10)],
      ['2028-02-29T23:59:59.5-01:00', Date.UTC(2028, 2, 1, 0, 59, 59, 500)],
    ] as const)
      assert.equal(openReport(signed(ts), device).report.ts, ms, ts);
    assert.equal(openReport(signed(Date.UTC(2026, 11, 6)), device).report.ts, Date.UTC(2026, 11, 6), 'a number as before');
    // Through the gateway: refused (a security event, as any malformed report), no report recorded.
    const fw = await g.gw.firmware();
    await assert.rejects(fw.report(signed('2026-12-06'), device, now), malformedTs);
    assert.equal(fw.state.device(device)?.reports ?? 0, 0);
    const size = g.gw.ledger.size;
    assert.equal((await fw.report(signed('2026-12-06T00:00:00Z'), device, now)).decision, 'recorded');
    assert.deepEqual([fw.state.device(device)?.reports, fw.state.device(device)?.lastTs, g.gw.ledger.size], [1, Date.UTC(2026, 11, 6), size + 1]);
  });

  it('an older ledger holding a report whose ts is a date alone loads, audits clean, and orders later reports by the ts as recorded', async () => {
    const old = signed('2026-12-06', { counter: 1 });
    // As gateways before this change recorded it: the ts read as midnight UTC.
    const fw = await g.gw.firmware();
    const body = checkReport(fw.state, old, device, { now, isEnrolled: () => true, recorded: true });
    assert.equal(body.ts, Date.UTC(2026, 11, 6));
    const recorded = await g.gw.record({ type: FIRMWARE_REPORT, device, body: toRecordBody(body), envelope: old });
    assert.equal(
      signedBodyProblem({ type: FIRMWARE_REPORT, time: recorded.time, device, body: (await g.gw.ledger.get(recorded.index)).record.body, envelope: old }),
      undefined,
    );
    assert.deepEqual((await g.audit()).findings, []);
    await g.restart();
    const fw2 = await g.gw.firmware();
    assert.equal(fw2.state.device(device)?.lastTs, Date.UTC(2026, 11, 6));
    // Before the recorded midnight: a replay; after it: recorded.
    await assert.rejects(fw2.report(signed('2026-12-05T23:00:00Z', { counter: 2 }), device, now), (err: unknown) => isFirmwareRejection(err, 'replay'));
    assert.equal((await fw2.report(signed('2026-12-06T10:00:00Z', { counter: 3 }), device, now)).decision, 'recorded');
    assert.deepEqual((await g.audit()).findings, []);
  });
});
