import { firmwareNotes } from '../../demo/firmware-notes';
import * as assert from 'node:assert/strict';
import { toHex, utf8 } from '../../lib/encoding/bytes';
import { signContract } from '../../lib/contracts';
import { contractDocument, contractTopic } from '../../lib/contracts/pull';
import { generateKey, keyToDid, sha256 } from '../../lib/crypto';
import { createManifest, createReport, isFirmwareRejection, parseReport, type FirmwareOffer } from '../../lib/firmware';
import { recheckReport } from '../../lib/firmware/recheck';
import { ContractRunner, firmwareOffer, Gateway } from '../../lib/gateway';
import { firmwareReportTopic, MAX_REFUSALS_REPORTED, pullContract, SensorContracts, SensorFirmware, type InstalledFirmware, type PulledContract } from '../../demo/sensor-pull';
import * as mqtt from 'mqtt';
import { startBroker } from '../../demo/broker';
import { startSimulator, type Simulator } from '../../demo/simulator';
import { firmwareTopic, MAX_FIRMWARE_OFFER_BYTES } from '../../lib/firmware/offer';
import { tempDir } from '../support/ledger';
import { until } from '../support/until';

describe('runtime/sensor-pull: what a simulated sensor does with contract documents and firmware offers', () => {
  const gatewayKey = generateKey('Ed25519');
  const vendor = generateKey('Ed25519');
  const sensorKey = generateKey('Ed25519');
  const sensor = keyToDid(sensorKey);
  const other = keyToDid(generateKey('ES256'));
  const party = generateKey('Ed25519');
  const images = new Map<string, Uint8Array>();
  const image = (v: string): Uint8Array => {
    const bytes = utf8(`image ${v}`);
    images.set(toHex(sha256(bytes)), bytes);
    return bytes;
  };
  const m = (sequence: number, img: Uint8Array) => ({ vendor: 'acme', class: 'cold', version: `1.${sequence}`, sequence, digest: toHex(sha256(img)), size: img.length });
  const factory: InstalledFirmware = { vendor: 'acme', class: 'cold', version: '1.1', sequence: 1, digest: toHex(sha256(image('1.1'))) };
  const tmp = tempDir();
  let gw: Gateway;
  let offers: Record<'v1' | 'v2' | 'v2other' | 'v3forged', FirmwareOffer>;
  let doc: unknown;
  let counter = 100;
  const next = () => ++counter;
  const json = (o: unknown) => Buffer.from(JSON.stringify(o));

  before(async () => {
    gw = await Gateway.open(tmp.dir, { name: 'sensor-pull.test', gatewayKey, blockRecords: 100, blockSeconds: 0 });
    await gw.enrol({ did: sensor, name: 's1' });
    await gw.enrol({ did: other, name: 's2' });
    const fw = await gw.firmware();
    await fw.trustVendor('acme', keyToDid(vendor));
    await fw.registerRelease(createManifest(m(1, image('1.1')), vendor));
    await fw.registerRelease(createManifest(m(2, image('1.2')), vendor));
    const offer = async (device: string, sequence: number) => {
      const d = await fw.checkUpdate({ device, vendor: 'acme', class: 'cold', sequence });
      assert.equal(d.decision, 'approved', d.message);
      return JSON.parse(JSON.stringify(await firmwareOffer(gw.ledger, d.receipt.index))) as FirmwareOffer;
    };
    const v1 = await offer(sensor, 1);
    const v2 = await offer(sensor, 2);
    const v2other = await offer(other, 2);
    // A vendor-signed 1.3 that the ledger never approved, sent with 1.2's decision proof.
    const v3forged = { ...v2, manifest: createManifest(m(3, image('1.3')), vendor) as string };
    offers = { v1, v2, v2other, v3forged };

    const terms = { id: 'room-1', version: 1, title: 'Room 1 below -20', subjects: [sensor], metric: 'temperature', rule: { op: '<', limit: -20 }, alarm: { mode: 'instant' }, parties: [keyToDid(party)] };
    const runner = await ContractRunner.load(gw, terms);
    await runner.sign(signContract(runner.terms, party, { kid: keyToDid(party) }));
    doc = await contractDocument(gw.ledger, runner.ref.termsHash);
  });
  after(async () => {
    await gw.close();
    tmp.cleanup();
  });

  it('verifies a contract document with the gateway key and tells whether the sensor is judged by it', () => {
    const c = pullContract(json(doc), keyToDid(gatewayKey), sensor);
    assert.deepEqual([c.id, c.version, c.active, c.signed, c.parties, c.subject], ['room-1', 1, true, 1, 1, true]);
    assert.equal(pullContract(JSON.stringify(doc), keyToDid(gatewayKey), other).subject, false);
    // Another gateway's key: the checkpoints do not verify.
    assert.throws(() => pullContract(json(doc), keyToDid(generateKey('Ed25519')), sensor), (e: Error & { code?: string }) => e.code === 'ERR_BAD_SIGNATURE');
    // Anyone can publish on the documents' topic: parsed only within bounds.
    assert.throws(() => pullContract(`[${'['.repeat(100)}${']'.repeat(100)}]`, keyToDid(gatewayKey), sensor), (e: Error & { code?: string }) => e.code === 'ERR_PAYLOAD_TOO_DEEP');
  });

  describe('older contract documents sent again', () => {
    // Documents the gateway signed of one contract id: version 1 (the one above), version 2 before
    // and after its second party signed, and other terms registered under version 2.
    const party2 = generateKey('Ed25519');
    let docs: Record<'v1' | 'v2partial' | 'v2' | 'v2other', Buffer>;
    let hashes: Record<'v1' | 'v2', string>;
    before(async () => {
      const base = { id: 'room-1', title: 'Room 1 below -20', subjects: [sensor], metric: 'temperature', rule: { op: '<', limit: -20 }, alarm: { mode: 'instant' } };
      const v2 = await ContractRunner.load(gw, { ...base, version: 2, rule: { op: '<', limit: -18 }, parties: [keyToDid(party), keyToDid(party2)] });
      await v2.sign(signContract(v2.terms, party));
      const v2partial = json(await contractDocument(gw.ledger, v2.ref.termsHash));
      await v2.sign(signContract(v2.terms, party2));
      const other = await ContractRunner.load(gw, { ...base, version: 2, title: 'other terms, same version', parties: [keyToDid(party)] });
      await other.sign(signContract(other.terms, party));
      docs = { v1: json(doc), v2partial, v2: json(await contractDocument(gw.ledger, v2.ref.termsHash)), v2other: json(await contractDocument(gw.ledger, other.ref.termsHash)) };
      hashes = { v1: (doc as { termsHash: string }).termsHash, v2: v2.ref.termsHash };
    });
    const code = (fn: () => unknown): string | undefined => {
      try {
        fn();
      } catch (e) {
        return (e as { code?: string }).code;
      }
      return undefined;
    };

    it('a sensor keeps the highest version it verified: an older one is refused (ERR_REPLAY), other terms under it too (ERR_CONTRACT_CONFLICT), a copy from before the last signature does not deactivate it', () => {
      const c = new SensorContracts(keyToDid(gatewayKey), sensor);
      assert.equal(c.pull(docs.v1).version, 1);
      assert.equal(c.contract(), hashes.v1);
      assert.deepEqual([c.pull(docs.v2partial).active, c.contract()], [false, undefined], 'version 2 not active yet: the sensor operates under no contract');
      assert.deepEqual([c.pull(docs.v2).active, c.contract()], [true, hashes.v2]);
      assert.equal(code(() => c.pull(docs.v1)), 'ERR_REPLAY');
      assert.equal(code(() => c.pull(docs.v2other)), 'ERR_CONTRACT_CONFLICT');
      const replayed = c.pull(docs.v2partial);
      assert.deepEqual([replayed.active, replayed.signed], [true, 2], 'signatures seen once count');
      assert.equal(c.contract(), hashes.v2, 'still operating under version 2');
    });

    it('over a real broker: the npm start sensor refuses version 1 retained over version 2 and its readings stay under version 2', async function () {
      this.timeout(30000);
      const broker = await startBroker({ port: 0 });
      const anyone = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 }, false);
      const state = tempDir();
      let sim: Simulator | undefined;
      const seen: (PulledContract | Error)[] = [];
      const readings: (string | undefined)[] = [];
      try {
        sim = await startSimulator({
          brokerUrl: broker.url,
          sensors: ['s1'],
          intervalMs: 50,
          stateFile: `${state.dir}/counters.json`,
          onReading: (_s, r) => void readings.push(r.contract),
          pull: {
            gatewayKey: keyToDid(gatewayKey),
            devices: new Map([['s1', { did: sensor, key: sensorKey }]]),
            vendorKeys: [keyToDid(vendor)],
            factory,
            images,
            stateFile: `${state.dir}/firmware.json`,
            onContract: (_s, r) => void seen.push(r),
          },
        });
        for (const d of [docs.v1, docs.v2, docs.v1]) {
          const n = seen.length;
          await anyone.publishAsync(contractTopic('room-1'), d, { qos: 1, retain: true });
          await until('the sensor to take the document', () => seen.length > n);
        }
        assert.deepEqual(
          seen.map((r) => (r instanceof Error ? (r as Error & { code?: string }).code : r.version)),
          [1, 2, 'ERR_REPLAY'],
        );
        const from = readings.length;
        await until('a reading after the replay', () => readings.length > from);
        assert.equal(readings[readings.length - 1], hashes.v2);
        await anyone.publishAsync(contractTopic('room-1'), '', { qos: 1, retain: true });
      } finally {
        await sim?.stop();
        await anyone.endAsync();
        await broker.close();
        state.cleanup();
      }
    });
  });

  it('installs an approved newer offer and signs a report of the new version', () => {
    const fw = new SensorFirmware({ did: sensor, key: sensorKey, gatewayKey: keyToDid(gatewayKey), vendorKeys: [keyToDid(vendor)], installed: factory, images });
    assert.deepEqual(fw.offer(json(offers.v1), next, Date.now()), { kind: 'current' }, 'what it runs already: nothing to do');
    const o = fw.offer(json(offers.v2), next, Date.now());
    assert.equal(o.kind, 'installed');
    if (o.kind !== 'installed') return;
    assert.equal(o.to.version, '1.2');
    assert.equal(fw.installed.sequence, 2);
    const signed = parseReport(JSON.parse(Buffer.from((o.report as string).split('.')[1], 'base64url').toString()) as Record<string, unknown>);
    assert.deepEqual([signed.version, signed.sequence, signed.counter, signed.refused], ['1.2', 2, counter, undefined]);
  });

  it('refuses another device’s approval, a rollback, an unapproved manifest, a wrong image and a decision not from the gateway, each with a signed report', () => {
    const make = (installed = factory, extra: Partial<ConstructorParameters<typeof SensorFirmware>[0]> = {}) =>
      new SensorFirmware({ did: sensor, key: sensorKey, gatewayKey: keyToDid(gatewayKey), vendorKeys: [keyToDid(vendor)], installed, images, ...extra });
    const reason = (fw: SensorFirmware, offer: unknown) => {
      const o = fw.offer(json(offer), next, Date.now());
      assert.equal(o.kind, 'refused', JSON.stringify(o));
      if (o.kind !== 'refused') return '';
      const r = parseReport(JSON.parse(Buffer.from((o.report as string).split('.')[1], 'base64url').toString()) as Record<string, unknown>);
      assert.deepEqual(r.refused, { sequence: o.offered.sequence, digest: o.offered.digest, reason: o.reason });
      assert.equal(r.sequence, fw.installed.sequence, 'the report says what still runs');
      return o.reason;
    };
    assert.equal(reason(make(), offers.v2other), 'unknown-release');
    const updated = { ...factory, version: '1.2', sequence: 2, digest: toHex(sha256(utf8('image 1.2'))) };
    assert.equal(reason(make(updated), offers.v1), 'rollback');
    assert.equal(reason(make(), offers.v3forged), 'unknown-release');
    assert.equal(reason(make(factory, { images: new Map() }), offers.v2), 'digest-mismatch');
    assert.equal(reason(make(factory, { gatewayKey: keyToDid(generateKey('Ed25519')) }), offers.v2), 'bad-signature');
    assert.equal(make().offer(Buffer.from('not json'), next, Date.now()).kind, 'unreadable');
    // Parsed only within bounds: well-formed JSON too large or too deep is unreadable for that, not parsed.
    const large = make().offer(Buffer.from(JSON.stringify({ ...offers.v2, pad: 'x'.repeat(MAX_FIRMWARE_OFFER_BYTES) })), next, Date.now());
    assert.deepEqual([large.kind, large.kind === 'unreadable' && /more than the limit of 262144/.test(large.message)], ['unreadable', true]);
    const deep = make().offer(`{"manifest":${JSON.stringify(offers.v2.manifest)},"pad":${'['.repeat(100_000)}${']'.repeat(100_000)}}`, next, Date.now());
    assert.deepEqual([deep.kind, deep.kind === 'unreadable' && /deeper than the limit of 64/.test(deep.message)], ['unreadable', true]);
    // A manifest no trusted vendor signed: refused, not reported (anyone can make one).
    const untrusted = make(factory, { vendorKeys: [keyToDid(generateKey('Ed25519'))] }).offer(json(offers.v2), next, Date.now());
    assert.deepEqual([untrusted.kind, untrusted.kind === 'ignored' && untrusted.why, untrusted.kind === 'ignored' && untrusted.reason], ['ignored', 'not-vendor-signed', 'unknown-signer']);
  });

  it('refuses an approval older than one it has seen, published again after it, even when it could not install the newer one yet', async () => {
    const fw = await gw.firmware();
    const offer = async (sequence: number) => {
      await fw.registerRelease(createManifest(m(sequence, image(`1.${sequence}`)), vendor));
      const d = await fw.checkUpdate({ device: sensor, vendor: 'acme', class: 'cold', sequence });
      assert.equal(d.decision, 'approved', d.message);
      return JSON.parse(JSON.stringify(await firmwareOffer(gw.ledger, d.receipt.index))) as FirmwareOffer;
    };
    const [v4, v5] = [await offer(4), await offer(5)];
    // The sensor cannot download 1.5 yet: it refuses it, and knows the ledger approved it after 1.4.
    const v5digest = toHex(sha256(utf8('image 1.5')));
    const withoutV5 = new Map([...images].filter(([digest]) => digest !== v5digest));
    const sensorFw = new SensorFirmware({ did: sensor, key: sensorKey, gatewayKey: keyToDid(gatewayKey), vendorKeys: [keyToDid(vendor)], installed: factory, images: withoutV5 });
    assert.equal(sensorFw.offer(json(v5), next, Date.now()).kind, 'refused');
    const replayed = sensorFw.offer(json(v4), next, Date.now());
    assert.deepEqual([replayed.kind, replayed.kind === 'refused' && replayed.reason], ['refused', 'replay']);
    assert.equal(sensorFw.installed.sequence, 1);
    // A sensor that has seen no newer decision installs 1.4; the factory offer after that is a rollback, as before.
    const fresh = new SensorFirmware({ did: sensor, key: sensorKey, gatewayKey: keyToDid(gatewayKey), vendorKeys: [keyToDid(vendor)], installed: factory, images });
    assert.equal(fresh.offer(json(v4), next, Date.now()).kind, 'installed');
    const back = fresh.offer(json(offers.v1), next, Date.now());
    assert.deepEqual([back.kind, back.kind === 'refused' && back.reason], ['refused', 'rollback']);
  });

  it('reports a refusal once per vendor-signed manifest: a flood of unsigned offers or of one replay adds no report', () => {
    let reports = 0;
    const count = (): number => {
      reports++;
      return next();
    };
    const fw = new SensorFirmware({ did: sensor, key: sensorKey, gatewayKey: keyToDid(gatewayKey), vendorKeys: [keyToDid(vendor)], installed: factory, images });
    const attacker = generateKey('Ed25519');
    const kinds = new Map<string, number>();
    const send = (offer: unknown): void => {
      const o = fw.offer(json(offer), count, Date.now());
      const k = o.kind === 'ignored' ? `ignored:${o.why}` : o.kind;
      kinds.set(k, (kinds.get(k) ?? 0) + 1);
    };
    // Anyone on the broker: manifests signed by their own key, each different, and a vendor's kid with a forged signature.
    for (let i = 0; i < 50; i++) send({ ...offers.v2, manifest: createManifest(m(100 + i, image(`9.${i}`)), attacker) });
    const [h, p] = offers.v2.manifest.split('.');
    for (let i = 0; i < 50; i++) send({ ...offers.v2, manifest: `${h}.${p}.${Buffer.alloc(64, i).toString('base64url')}` });
    // A real approval for another device, replayed 50 times.
    for (let i = 0; i < 50; i++) send(offers.v2other);
    assert.deepEqual(Object.fromEntries(kinds), { 'ignored:not-vendor-signed': 100, refused: 1, 'ignored:reported-already': 49 });
    assert.equal(reports, 1, 'one signed report for 150 offers');

    // Vendor-signed manifests the ledger never approved: at most MAX_REFUSALS_REPORTED reported until the next install.
    kinds.clear();
    for (let i = 0; i < MAX_REFUSALS_REPORTED + 10; i++) send({ ...offers.v2, manifest: createManifest(m(200 + i, image(`8.${i}`)), vendor) });
    assert.deepEqual(Object.fromEntries(kinds), { refused: MAX_REFUSALS_REPORTED - 1, 'ignored:report-limit': 11 });
    assert.equal(reports, MAX_REFUSALS_REPORTED);
    // An install starts afresh: the replay is reported once more.
    send(offers.v2);
    assert.equal(fw.installed.sequence, 2);
    send(offers.v2other);
    send(offers.v2other);
    assert.equal(reports, MAX_REFUSALS_REPORTED + 2, 'the install report, and the replay once');
  });

  it('over a real broker: 100 offers from anyone and 50 replays of one approval make the sensor publish one refusal report', async function () {
    this.timeout(30000);
    const broker = await startBroker({ port: 0 });
    const attacker = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 }, false);
    const state = tempDir();
    let sim: Simulator | undefined;
    try {
      const reportsSeen: Buffer[] = [];
      await attacker.subscribeAsync(firmwareReportTopic(sensor), { qos: 1 });
      attacker.on('message', (topic, payload) => {
        if (topic === firmwareReportTopic(sensor)) reportsSeen.push(payload);
      });
      let handled = 0;
      // What the demo prints about them, aggregated every NOTE_MS.
      const NOTE_MS = 2000;
      const notes: string[] = [];
      const note = firmwareNotes((line) => notes.push(line), NOTE_MS);
      const started = Date.now();
      sim = await startSimulator({
        brokerUrl: broker.url,
        sensors: ['s1'],
        intervalMs: 60_000,
        stateFile: `${state.dir}/counters.json`,
        pull: {
          gatewayKey: keyToDid(gatewayKey),
          devices: new Map([['s1', { did: sensor, key: sensorKey }]]),
          vendorKeys: [keyToDid(vendor)],
          factory,
          images,
          stateFile: `${state.dir}/firmware.json`,
          onFirmware: (name, outcome) => {
            handled++;
            note(name, outcome);
          },
        },
      });
      const mine = firmwareTopic(sensor);
      for (let i = 0; i < 100; i++) await attacker.publishAsync(mine, json({ ...offers.v2, manifest: createManifest(m(300 + i, image(`7.${i}`)), generateKey('Ed25519')) }), { qos: 1 });
      for (let i = 0; i < 50; i++) await attacker.publishAsync(mine, json(offers.v2other), { qos: 1 });
      await until(() => `150 offers handled (${handled} so far)`, () => handled >= 150, { timeoutMs: 20_000 });
      assert.equal(handled, 150);
      // What the sensor published arrives in order: a marker after it shows nothing more is in flight.
      await attacker.publishAsync(firmwareReportTopic(sensor), 'marker', { qos: 1 });
      await until('the marker after the reports', () => reportsSeen.some((r) => r.toString() === 'marker'), { timeoutMs: 20_000 });
      const reports = reportsSeen.filter((r) => r.toString() !== 'marker').map((r) => parseReport(JSON.parse(Buffer.from(r.toString().split('.')[1], 'base64url').toString()) as Record<string, unknown>));
      // The first-start report of what it runs, and one refusal.
      assert.deepEqual(reports.map((r) => r.refused?.reason), [undefined, 'unknown-release']);
      // Printed: the reported refusal, and the 149 others at most once per NOTE_MS (the first at once), each counted once.
      const counted = (line: string): number => Number(/\(the latest of (\d+) messages on its firmware topic/.exec(line)?.[1] ?? 1);
      const quiet = (): string[] => notes.filter((line) => !line.includes('signed report sent'));
      await until(() => `149 unreported outcomes printed (${quiet().map(counted).join('+')})`, () => quiet().map(counted).reduce((a, b) => a + b, 0) >= 149, { timeoutMs: 3 * NOTE_MS + 20_000 });
      const windows = Math.ceil((Date.now() - started) / NOTE_MS) + 1;
      assert.equal(quiet().map(counted).reduce((a, b) => a + b, 0), 149);
      assert.ok(quiet().length <= windows, `${quiet().length} lines printed in ${windows} intervals`);
      assert.equal(notes.filter((line) => line.includes('REFUSED firmware offer') && line.includes('signed report sent')).length, 1);
    } finally {
      await sim?.stop();
      await attacker.endAsync();
      await broker.close();
      state.cleanup();
    }
  });

  it('a refusal report is recorded with its "refused" field and rechecks clean; a malformed refusal is refused', async () => {
    const fw = await gw.firmware();
    const refused = { sequence: 1, digest: factory.digest, reason: 'rollback' as const };
    const report = createReport({ vendor: 'acme', class: 'cold', version: '1.2', sequence: 2, digest: toHex(sha256(utf8('image 1.2'))), counter: next(), refused }, sensorKey);
    const before = fw.state.clone();
    const out = await fw.report(report, sensor);
    assert.equal(out.decision, 'recorded', out.message);
    assert.deepEqual(out.body.refused, refused);
    const stored = await gw.ledger.get(out.receipt.index);
    assert.deepEqual(recheckReport(before, stored.record.body, stored.record.envelope, stored.record.time), { ok: true });
    assert.throws(
      () => createReport({ ...factory, counter: next(), refused: { ...refused, reason: 'because' as never } }, sensorKey),
      (e: unknown) => isFirmwareRejection(e, 'malformed'),
    );
    assert.throws(() => createReport({ ...factory, counter: next(), refused: { ...refused, extra: 1 } as never }, sensorKey), (e: unknown) => isFirmwareRejection(e, 'malformed'));
  });
});
