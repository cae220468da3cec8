import * as assert from 'node:assert/strict';
import { generateKey, keyToDid, sha256 } from '../../lib/crypto';
import { toHex, utf8 } from '../../lib/encoding/bytes';
import { isLedgerError } from '../../lib/errors';
import { createReport, type ReportInput } from '../../lib/firmware';
import { Gateway, type GatewayLimits } from '../../lib/gateway';
import type { Ledger } from '../../lib/ledger';
import { tempDir } from '../support/ledger';

// Anyone who can publish on a device's offer topic can send it forged offers without end. A
// device that does not follow docs/DEVICE-SIGNING.md answers each with a refusal report it
// signs itself, so the report passes every check. The gateway records a refusal of a given
// digest once per device and at most 10 per device and hour; the rest are counted in one
// aggregated security record (ERR_FIRMWARE_REFUSAL_LIMIT) per device and window. Time is the
// `now` passed to report(), never the wall clock.

const HOUR = 3_600_000;
const digestOf = (s: string) => toHex(sha256(utf8(s)));

interface SecurityBody {
  code: string;
  count: number;
}

async function bodies<T>(ledger: Ledger, type: string): Promise<T[]> {
  const out: T[] = [];
  for await (const r of ledger.byType(type)) out.push(r.record.body as T);
  return out;
}

describe('gateway: refusal reports a forged-offer flood makes a device sign', () => {
  const device = generateKey('Ed25519');
  const did = keyToDid(device);
  const installed = { vendor: 'acme', class: 'sensor-v1', version: '1.0.0', sequence: 1, digest: digestOf('image 1') };
  const refusal = (i: number) => ({ sequence: 100 + i, digest: digestOf(`forged ${i}`), reason: 'unknown-release' as const });
  let tmp: ReturnType<typeof tempDir>;
  let gw: Gateway;
  let counter: number;
  const T0 = Date.now();
  const gatewayKey = generateKey('Ed25519');
  const signed = (fields: Omit<ReportInput, 'counter'>) => createReport({ ...fields, counter: counter++ }, device);
  const open = (limits: GatewayLimits = {}) => Gateway.open(tmp.dir, { name: 'refusal-limit', gatewayKey, blockSeconds: 0 }, limits);

  beforeEach(async () => {
    tmp = tempDir();
    gw = await open();
    await gw.enrol({ did, name: 'sensor' });
    counter = 1;
    const fw = await gw.firmware();
    assert.equal((await fw.report(signed(installed), did, T0)).decision, 'recorded');
  });
  afterEach(async () => {
    await gw.close();
    tmp.cleanup();
  });

  it('records at most 10 of 200 refusals of distinct forged digests, and counts the rest in aggregated security records', async () => {
    const fw = await gw.firmware();
    const size = gw.ledger.size;
    const n = 200;
    const results = await Promise.allSettled(Array.from({ length: n }, (_, i) => fw.report(signed({ ...installed, refused: refusal(i) }), did, T0 + 1 + i)));
    const recorded = results.filter((r) => r.status === 'fulfilled').length;
    const limited = results.filter((r) => r.status === 'rejected' && isLedgerError(r.reason, 'ERR_FIRMWARE_REFUSAL_LIMIT')).length;
    assert.equal(recorded, 10);
    assert.equal(limited, n - 10);
    assert.equal((await bodies<{ refused?: unknown }>(gw.ledger, 'firmware.report')).filter((b) => b.refused !== undefined).length, 10);

    // The aggregate is written at the end of the window, or when the gateway closes.
    await gw.close();
    gw = await open();
    const events = (await bodies<SecurityBody>(gw.ledger, 'security')).filter((b) => b.code === 'ERR_FIRMWARE_REFUSAL_LIMIT');
    // The first limited report at once (count 1), the other 189 in one aggregate.
    assert.deepEqual(
      events.map((b) => b.count),
      [1, n - 11],
    );
    // 10 refusal reports, the first security record at once and one aggregate: no more.
    assert.ok(gw.ledger.size - size <= 12, `${gw.ledger.size - size} records for ${n} refusal reports`);
  });

  it('records a refusal of a digest once, 10 a window, plain reports and a changed installed version always', async () => {
    const fw = await gw.firmware();
    const limit = (p: Promise<unknown>, limitKind: string) =>
      assert.rejects(p, (err: unknown) => isLedgerError(err, 'ERR_FIRMWARE_REFUSAL_LIMIT') && err.details?.limit === limitKind);

    assert.equal((await fw.report(signed({ ...installed, refused: refusal(0) }), did, T0 + 1)).decision, 'recorded');
    await limit(fw.report(signed({ ...installed, refused: refusal(0) }), did, T0 + 2), 'repeated');
    for (let i = 1; i < 10; i++) await fw.report(signed({ ...installed, refused: refusal(i) }), did, T0 + 2 + i);
    await limit(fw.report(signed({ ...installed, refused: refusal(10) }), did, T0 + 20), 'over-limit');
    await limit(fw.report(signed({ ...installed, refused: refusal(11) }), did, T0 + 21), 'over-limit');
    assert.equal(gw.stats.security.ERR_FIRMWARE_REFUSAL_LIMIT, 3);

    // A report without a refusal is recorded as before, however many refusals came.
    assert.equal((await fw.report(signed(installed), did, T0 + 22)).decision, 'recorded');
    // A refusal report that says the device now runs something else is recorded: it is news.
    const updated = { ...installed, version: '1.1.0', sequence: 2, digest: digestOf('image 2') };
    const news = await fw.report(signed({ ...updated, refused: refusal(12) }), did, T0 + 23);
    assert.equal(news.decision, 'recorded');
    assert.equal(fw.state.device(did)?.running?.sequence, 2);

    // Security records: the first limited report at once; the other two in one aggregate at the window's end.
    const security = async () => (await bodies<SecurityBody>(gw.ledger, 'security')).filter((b) => b.code === 'ERR_FIRMWARE_REFUSAL_LIMIT');
    assert.deepEqual(
      (await security()).map((b) => b.count),
      [1],
    );
    await fw.flushRefusalEvents(T0 + HOUR);
    assert.deepEqual(
      (await security()).map((b) => b.count),
      [1, 2],
    );

    // The next window: new digests are recorded again (10), a digest recorded before still is not.
    await limit(fw.report(signed({ ...updated, refused: refusal(0) }), did, T0 + HOUR + 1), 'repeated');
    for (let i = 20; i < 30; i++) assert.equal((await fw.report(signed({ ...updated, refused: refusal(i) }), did, T0 + HOUR + i)).decision, 'recorded');
    await limit(fw.report(signed({ ...updated, refused: refusal(30) }), did, T0 + HOUR + 40), 'over-limit');
    const refusals = (await bodies<{ refused?: unknown }>(gw.ledger, 'firmware.report')).filter((b) => b.refused !== undefined);
    assert.equal(refusals.length, 10 + 1 + 10);
  });

  it('keeps the recorded digests in a bounded list, and reads them back from the ledger on restart', async () => {
    await gw.close();
    gw = await open({ firmware: { refusalDigests: 8, refusalsPerWindow: 2 } });
    let fw = await gw.firmware();
    for (let w = 0; w < 20; w++) {
      for (let i = 0; i < 3; i++) {
        const at = T0 + w * HOUR + 1 + i;
        await fw.report(signed({ ...installed, refused: refusal(w * 3 + i) }), did, at).catch((err: unknown) => {
          if (!isLedgerError(err, 'ERR_FIRMWARE_REFUSAL_LIMIT')) throw err;
        });
      }
    }
    assert.deepEqual(fw.refusals.size.digests, 8);
    assert.ok(fw.refusals.size.devices <= 1);
    assert.equal((await bodies<{ refused?: unknown }>(gw.ledger, 'firmware.report')).filter((b) => b.refused !== undefined).length, 40);

    // After a restart, the newest recorded digest is still known; the device's window too.
    await gw.close();
    gw = await open({ firmware: { refusalDigests: 8 } });
    fw = await gw.firmware();
    assert.equal(fw.refusals.size.digests, 8);
    await assert.rejects(fw.report(signed({ ...installed, refused: refusal(19 * 3 + 1) }), did), (err: unknown) => isLedgerError(err, 'ERR_FIRMWARE_REFUSAL_LIMIT') && err.details?.limit === 'repeated');
  });

  it('refuses limits it cannot keep when the gateway opens, not at the first report', async () => {
    const other = tempDir();
    try {
      for (const firmware of [{ refusalsPerWindow: 0 }, { refusalWindowMs: 30 * 86_400_000 }, { refusalDigests: 1.5 }])
        await assert.rejects(
          Gateway.open(other.dir, { name: 'refusal-limit-bad', gatewayKey, blockSeconds: 0 }, { firmware }),
          (err: unknown) => (err as { code?: string }).code === 'ERR_INVALID_ARGUMENT',
          JSON.stringify(firmware),
        );
    } finally {
      other.cleanup();
    }
  });
});
