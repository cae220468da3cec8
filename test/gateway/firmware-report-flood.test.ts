import * as assert from 'node:assert/strict';
import { generateKey, keyToDid, sha256 } from '../../lib/crypto';
import { toHex, utf8 } from '../../lib/encoding/bytes';
import { isLedgerError } from '../../lib/errors';
import { createReport, isFirmwareRejection, type RejectionReason } from '../../lib/firmware';
import { Gateway } from '../../lib/gateway';
import { tempDir } from '../support/ledger';

// Device reports arrive from MQTT (iot-ledger/firmware/<did>/report, the device id taken from
// the topic): anyone who can publish there can send garbage, claim any device, or send a
// device's report again. Such refusals are security events, aggregated like Verify's, and
// not one firmware.decision record each; the caller gets ERR_FIRMWARE_REJECTED with the reason.

describe('gateway: firmware reports a publisher without the device key sends', () => {
  const device = generateKey('Ed25519');
  const did = keyToDid(device);
  const stranger = generateKey('Ed25519');
  const digest = toHex(sha256(utf8('image 1')));
  const fields = { vendor: 'acme', class: 'sensor-v1', version: '1.1.0', sequence: 1, digest };
  let tmp: ReturnType<typeof tempDir>;
  let gw: Gateway;

  beforeEach(async () => {
    tmp = tempDir();
    gw = await Gateway.open(tmp.dir, { name: 'report-flood', gatewayKey: generateKey('Ed25519'), blockSeconds: 0 }, { securityIntervalMs: 60_000 });
    await gw.enrol({ did, name: 'sensor' });
  });
  afterEach(async () => {
    await gw.close();
    tmp.cleanup();
  });

  const refused = (reason: RejectionReason) => (err: unknown) => isLedgerError(err, 'ERR_FIRMWARE_REJECTED') && isFirmwareRejection(err, reason);

  it('are refused with their reason and add a few aggregated security records, not one record each', async () => {
    const fw = await gw.firmware();
    const genuine = createReport({ ...fields, counter: 1 }, device);
    assert.equal((await fw.report(genuine, did)).decision, 'recorded');
    const size = gw.ledger.size;
    const n = 50;
    const all: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) {
      all.push(assert.rejects(fw.report(`garbage ${i}`, 'not-a-did'), refused('malformed')));
      all.push(assert.rejects(fw.report(`x${i}.y.z`, did), refused('malformed')));
      all.push(assert.rejects(fw.report(createReport({ ...fields, counter: 2 + i }, stranger, 'cose'), did), refused('bad-signature')));
      all.push(assert.rejects(fw.report(createReport({ ...fields, counter: 2 + i }, stranger), keyToDid(stranger)), refused('unenrolled-device')));
      all.push(assert.rejects(fw.report(genuine, did), refused('replay')));
    }
    await Promise.all(all);
    await gw.flushSecurityEvents();
    const added = gw.ledger.size - size;
    // At most two records per (device or topic, code) key: the first at once, the rest in one aggregate.
    assert.ok(added <= 4, `${added} records for ${5 * n} refused reports`);
    let counted = 0;
    for await (const r of gw.ledger.byType('security')) counted += (r.record.body as { count: number }).count;
    assert.equal(counted, 5 * n);
    assert.equal(gw.stats.security.ERR_FIRMWARE_REJECTED, 5 * n);
  });
});
