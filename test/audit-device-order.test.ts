import * as assert from 'node:assert/strict';
import { auditLedger } from '../lib/audit';
import { sha256 } from '../lib/crypto';
import { generateKey, keyToDid } from '../lib/crypto';
import { signEnvelope } from '../lib/envelope/envelope';
import { createManifest, createReport } from '../lib/firmware';
import { toHex, utf8 } from '../lib/encoding/bytes';
import { Gateway } from '../lib/gateway';
import { tempDir } from './support/ledger';

// A device's firmware reports carry a counter of their own, ordered against its earlier
// reports by the firmware rules (as the gateway's Firmware node does). The audit's replay
// check follows the device's other messages (readings); it must not compare the two.

describe('audit: firmware reports and readings of one device are ordered separately', () => {
  const device = generateKey('Ed25519');
  const did = keyToDid(device);
  const vendor = generateKey('Ed25519');
  const digest = toHex(sha256(utf8('image 1')));
  const fields = { vendor: 'acme', class: 'sensor-v1', version: '1.1.0', sequence: 1, digest };
  let tmp: ReturnType<typeof tempDir>;
  let gw: Gateway;

  const reading = async (counter: number): Promise<void> => {
    const env = signEnvelope({ temperature: -21, counter }, device, { kid: did }) as string;
    const v = await gw.verify(env);
    await gw.record({ type: 'reading', device: did, body: v.payload as never, envelope: env });
  };

  beforeEach(async () => {
    tmp = tempDir();
    gw = await Gateway.open(tmp.dir, { name: 'device-order', gatewayKey: generateKey('Ed25519'), blockSeconds: 0 });
    await gw.enrol({ did, name: 'sensor' });
    const fw = await gw.firmware();
    await fw.trustVendor('acme', keyToDid(vendor));
    await fw.registerRelease(createManifest({ ...fields, size: 10 }, vendor));
  });
  afterEach(async () => {
    await gw.close();
    tmp.cleanup();
  });

  it('audits clean: readings count to 100, reports from 1, then readings go on (full and incremental)', async () => {
    await reading(100);
    const fw = await gw.firmware();
    assert.equal((await fw.report(createReport({ ...fields, counter: 1 }, device), did)).decision, 'recorded');
    await gw.ledger.seal();
    const checkpoint = (await gw.ledger.latestBlock())!.checkpoint;
    await reading(101);
    assert.equal((await fw.report(createReport({ ...fields, counter: 2 }, device), did)).decision, 'recorded');
    await reading(102);
    await gw.ledger.seal();
    const db = gw.ledger.database;
    const full = await auditLedger(tmp.dir, { db, workers: 0 });
    assert.deepEqual(full.findings, []);
    const incremental = await auditLedger(tmp.dir, { db, workers: 0, from: checkpoint });
    assert.deepEqual(incremental.findings, []);
    assert.ok(incremental.from > 0);
  });

  it('still finds a replayed report (firmware rules) and a replayed reading (replay)', async () => {
    await reading(5);
    const fw = await gw.firmware();
    const report = createReport({ ...fields, counter: 1 }, device);
    const first = await fw.report(report, did);
    // Written around the rules, as a tampering gateway could:
    const again = await gw.record({ type: 'firmware.report', device: did, body: first.body as never, envelope: report });
    const env = signEnvelope({ temperature: -21, counter: 5 }, device, { kid: did }) as string;
    const replayed = await gw.record({ type: 'reading', device: did, body: { temperature: -21, counter: 5 }, envelope: env });
    const r = await auditLedger(tmp.dir, { db: gw.ledger.database, workers: 0 });
    assert.deepEqual(
      r.findings.map((f) => [f.kind, f.index]),
      [
        ['firmware-decision', again.index],
        ['replay', replayed.index],
      ],
    );
  });
});
