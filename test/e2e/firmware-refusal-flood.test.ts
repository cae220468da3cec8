import * as assert from 'node:assert/strict';
import * as mqtt from 'mqtt';
import { generateKey, keyToDid, sha256 } from '../../lib/crypto';
import { readPrivateKeyFile } from '../../lib/crypto/keyfile';
import { toHex, utf8 } from '../../lib/encoding/bytes';
import {
  FIRMWARE_OFFER_FORMAT,
  createManifest,
  createReport,
  firmwareTopic,
  isFirmwareRejection,
  parseFirmwareOffer,
  verifyFirmwareOffer,
  type Envelope,
  type RejectionReason,
  type ReportInput,
} from '../../lib/firmware';
import { Ledger } from '../../lib/ledger';
import { enrol, LedgerRuntime, Mailbox, Sensor, TOPIC, waitSubscribed, type Received } from '../support/ledger-runtime';

// Anyone who can publish on a device's offer topic (iot-ledger/firmware/<did>) can send it
// forged offers without end. A device whose firmware ignores docs/DEVICE-SIGNING.md answers
// each with a refusal report it signs itself, so every report passes the gateway's checks. In a
// real Node-RED with a real broker: an attacker publishes 200 forged offers with distinct
// digests, the enrolled device signs a refusal report for each and publishes it on its report
// topic, and the flow's Firmware node (mode report) records them. The refusal limit
// (lib/gateway/refusal-limit.ts) lets at most 10 of them onto the ledger; the rest are counted in
// aggregated security records (ERR_FIRMWARE_REFUSAL_LIMIT), and Catch nodes see a bounded number.

const FLOOD = 200;
const PER_WINDOW = 10; // DEFAULT_REFUSALS_PER_WINDOW
const LEDGER = 'refusal-flood';
const OUT = { recorded: 'fw/recorded' } as const;
const reportTopic = (device: string): string => `iot-ledger/firmware/${device}/report`;
const digestOf = (s: string): string => toHex(sha256(utf8(s)));

/**
 * The gateway side, as the firmware example wires it: MQTT in (iot-ledger/firmware/+/report,
 * text) -> deviceId from the topic -> Firmware (mode report) -> fw/recorded; enrolment on
 * admin/enrol; every caught error -> `rejected` with its code, source and topic.
 */
function firmwareReportFlow(brokerPort: number): Record<string, unknown>[] {
  const z = 'fwr-tab';
  const broker = 'fwr-broker';
  const ledger = 'fwr-ledger';
  const mqttIn = (id: string, topic: string, datatype: string, wires: string[], y: number) => ({
    id, type: 'mqtt in', z, name: '', topic, qos: '1', datatype, broker, nl: false, rap: true, rh: 0, inputs: 0, x: 140, y, wires: [wires],
  });
  const mqttOut = (id: string, topic: string, y: number) => ({
    id, type: 'mqtt out', z, name: '', topic, qos: '1', retain: 'false', respTopic: '', contentType: '', userProps: '', correl: '',
    expiry: '', broker, x: 900, y, wires: [],
  });
  return [
    { id: z, type: 'tab', label: 'firmware refusal flood e2e', disabled: false, info: '' },
    {
      id: broker, type: 'mqtt-broker', name: 'test broker', broker: '127.0.0.1', port: String(brokerPort), clientid: '', autoConnect: true,
      usetls: false, protocolVersion: '4', keepalive: '60', cleansession: true, autoUnsubscribe: true, birthTopic: '', birthQos: '0',
      birthPayload: '', birthMsg: {}, closeTopic: '', closeQos: '0', closePayload: '', closeMsg: {}, willTopic: '', willQos: '0',
      willPayload: '', willMsg: {}, userProps: '', sessionExpiry: '',
    },
    { id: ledger, type: 'iot-ledger-config', ledgerName: LEDGER, dir: '', blockRecords: 1000, blockSeconds: 1 },
    mqttIn('fwr-in-enrol', TOPIC.enrol, 'json', ['fwr-enrol'], 60),
    { id: 'fwr-enrol', type: 'iot-ledger-enrol', z, name: 'Enrol', ledger, action: 'msg', x: 360, y: 60, wires: [['fwr-out-enrolled']] },
    mqttOut('fwr-out-enrolled', TOPIC.enrolled, 60),
    mqttIn('fwr-in-reports', reportTopic('+'), 'utf8', ['fwr-device'], 140),
    {
      id: 'fwr-device', type: 'change', z, name: 'deviceId from topic',
      rules: [{ t: 'set', p: 'deviceId', pt: 'msg', to: '$split(topic, "/")[2]', tot: 'jsonata' }],
      action: '', property: '', from: '', to: '', reg: false, x: 360, y: 140, wires: [['fwr-report']],
    },
    { id: 'fwr-report', type: 'iot-ledger-firmware', z, name: 'record report', ledger, mode: 'report', x: 560, y: 140, wires: [['fwr-recorded']] },
    {
      id: 'fwr-recorded', type: 'function', z, name: 'fw/recorded', outputs: 1, noerr: 0, initialize: '', finalize: '', libs: [],
      func: [
        `msg.topic = '${OUT.recorded}';`,
        'const b = msg.firmware.body;',
        'msg.payload = { index: msg.ledger.index, device: b.device, counter: b.counter, sequence: b.sequence, refused: b.refused || null, decision: msg.firmware.decision };',
        'return msg;',
      ].join('\n'),
      x: 740, y: 140, wires: [['fwr-out-recorded']],
    },
    mqttOut('fwr-out-recorded', '', 140),
    { id: 'fwr-catch', type: 'catch', z, name: '', scope: null, uncaught: false, x: 140, y: 240, wires: [['fwr-err']] },
    {
      id: 'fwr-err', type: 'change', z, name: 'code, message, source',
      rules: [
        { t: 'set', p: 'payload', pt: 'msg', tot: 'jsonata', to: '{"code": error.code, "message": error.message, "source": error.source.type, "topic": topic}' },
      ],
      action: '', property: '', from: '', to: '', reg: false, x: 360, y: 240, wires: [['fwr-out-rejected']],
    },
    mqttOut('fwr-out-rejected', TOPIC.rejected, 240),
  ];
}

interface Recorded {
  index: number;
  device: string;
  counter: number;
  sequence: number;
  refused: { sequence: number; digest: string; reason: string } | null;
  decision: string;
}
interface Caught {
  code: string;
  message: string;
  source: string;
  topic: string;
}
const json = <T>(m: Received): T => JSON.parse(m.text) as T;

describe('e2e: a device that reports every forged firmware offer it refuses', function () {
  this.timeout(120_000);
  const sensor = new Sensor('sensor-fw', generateKey('Ed25519'));
  const attackerKey = generateKey('Ed25519');
  const installed = { vendor: 'acme', class: 'sensor-v1', version: '1.0.0', sequence: 1, digest: digestOf('acme image 1') };
  const updated = { vendor: 'acme', class: 'sensor-v1', version: '1.1.0', sequence: 2, digest: digestOf('acme image 2') };
  let rt: LedgerRuntime;
  let box: Mailbox;
  let device: mqtt.MqttClient | undefined;
  let attacker: mqtt.MqttClient | undefined;
  let counter = 0;
  let lastTs = 0;
  /** Signed as the device: a strictly increasing counter and ts, as checkReport wants. */
  const signed = (fields: Omit<ReportInput, 'counter' | 'ts'>): { counter: number; report: Envelope } => {
    counter++;
    lastTs = Math.max(Date.now(), lastTs + 1);
    return { counter, report: createReport({ ...fields, counter, ts: lastTs }, sensor.key) };
  };
  const recordedFor = (n: number): Promise<Received> =>
    box.waitFor(OUT.recorded, (m) => json<Recorded>(m).device === sensor.did && json<Recorded>(m).counter === n, 20_000, `${OUT.recorded} for counter ${n}`);
  let floodSince = 0;
  let limitedCaught: Caught[] = [];
  let recordedRefusals: Recorded[] = [];

  before(async () => {
    rt = await LedgerRuntime.create({ ledgerName: LEDGER, prefix: 'refusal-flood' });
    box = await Mailbox.connect(rt.broker.url, [TOPIC.rejected, TOPIC.enrolled, OUT.recorded]);
    await rt.nr.deployFlows(firmwareReportFlow(rt.broker.port));
    await waitSubscribed(box, TOPIC.enrol, JSON.stringify({ did: 'not-a-did' }));
    await waitSubscribed(box, reportTopic('probe'), 'not a report');
    await enrol(box, sensor);
  });
  after(async () => {
    await device?.endAsync(true).catch(() => undefined);
    await attacker?.endAsync(true).catch(() => undefined);
    await box?.close();
    await rt?.dispose();
  });

  it(`records at most ${PER_WINDOW} of ${FLOOD} signed refusal reports of forged offers, catches ERR_FIRMWARE_REFUSAL_LIMIT, and still records a new version`, async () => {
    // The device: reports what it runs once at start, then answers every offer it refuses with a
    // signed refusal report (what docs/DEVICE-SIGNING.md says not to do for offers nobody trusted signed).
    const gatewayKey = keyToDid(readPrivateKeyFile(rt.keyFile));
    device = await mqtt.connectAsync(rt.broker.url, { reconnectPeriod: 0, clean: true });
    const first = signed(installed);
    await device.publishAsync(reportTopic(sensor.did), first.report as string, { qos: 1 });
    assert.equal(json<Recorded>(await recordedFor(first.counter)).refused, null);

    const reasons = new Map<string, number>();
    let answered = 0;
    let allAnswered!: () => void;
    const answeredAll = new Promise<void>((resolve) => (allAnswered = resolve));
    const refusalCounters: number[] = [];
    const dev = device;
    dev.on('message', (_topic, payload) => {
      const offer = parseFirmwareOffer(payload) as { manifest: string };
      let reason: RejectionReason = 'malformed';
      try {
        verifyFirmwareOffer(offer, { gatewayKey, device: sensor.did, vendorKeys: [], installedSequence: installed.sequence });
      } catch (err) {
        if (isFirmwareRejection(err)) reason = err.details.reason;
      }
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
      const m = JSON.parse(Buffer.from(offer.manifest.split('.')[1], 'base64url').toString('utf8')) as { sequence: number; digest: string };
      const r = signed({ ...installed, refused: { sequence: m.sequence, digest: m.digest, reason } });
      refusalCounters.push(r.counter);
      void dev.publishAsync(reportTopic(sensor.did), r.report as string, { qos: 1 }).then(() => {
        if (++answered === FLOOD) allAnswered();
      });
    });
    await dev.subscribeAsync(firmwareTopic(sensor.did), { qos: 1 });

    // The attacker: 200 offers of manifests it signed itself, each with another image digest.
    floodSince = Date.now();
    attacker = await mqtt.connectAsync(rt.broker.url, { reconnectPeriod: 0, clean: true });
    const sent: Promise<unknown>[] = [];
    for (let i = 0; i < FLOOD; i++) {
      const manifest = createManifest(
        { vendor: installed.vendor, class: installed.class, version: `9.0.${i}`, sequence: 100 + i, digest: digestOf(`forged image ${i}`), size: 1024 },
        attackerKey,
      ) as string;
      const offer = { format: FIRMWARE_OFFER_FORMAT, device: sensor.did, manifest, manifestFormat: 'jws', decision: {} };
      sent.push(attacker.publishAsync(firmwareTopic(sensor.did), JSON.stringify(offer), { qos: 1 }));
    }
    await Promise.all(sent);
    await answeredAll;
    assert.equal(refusalCounters.length, FLOOD, 'the device answered every forged offer');
    assert.deepEqual([...reasons.keys()], ['unknown-signer']);

    // A normal report after the flood: the device installed a new version, nothing refused.
    const last = signed(updated);
    await dev.publishAsync(reportTopic(sensor.did), last.report as string, { qos: 1 });
    const news = json<Recorded>(await recordedFor(last.counter));
    assert.equal(news.refused, null);
    assert.equal(news.sequence, updated.sequence);
    assert.equal(news.decision, 'recorded');

    // Settled: reports go through the Firmware node one at a time, so every refusal report was
    // decided before the new version's; one more probe through the same Catch path drains the rest.
    await waitSubscribed(box, reportTopic('probe'), 'not a report (drain)');

    recordedRefusals = box
      .on(OUT.recorded)
      .map((m) => json<Recorded>(m))
      .filter((r) => r.device === sensor.did && r.refused !== null);
    assert.ok(recordedRefusals.length >= 1, 'no refusal report was recorded at all');
    assert.ok(recordedRefusals.length <= PER_WINDOW, `${recordedRefusals.length} refusal reports recorded, at most ${PER_WINDOW} allowed`);

    const fromFlood = box.received.filter((m) => m.at >= floodSince && m.topic === TOPIC.rejected).map((m) => json<Caught>(m));
    const onDeviceTopic = fromFlood.filter((c) => c.topic === reportTopic(sensor.did));
    limitedCaught = onDeviceTopic.filter((c) => c.code === 'ERR_FIRMWARE_REFUSAL_LIMIT');
    assert.deepEqual(
      onDeviceTopic.filter((c) => c.code !== 'ERR_FIRMWARE_REFUSAL_LIMIT'),
      [],
      'the device reports were refused for nothing but the refusal limit',
    );
    assert.ok(limitedCaught.length >= 1, 'Catch got no ERR_FIRMWARE_REFUSAL_LIMIT');
    // Bounded: at most one per report kept off the ledger (the Firmware node hands Catch at most
    // 100 a second and finishes the rest without an error).
    assert.ok(limitedCaught.length <= FLOOD - recordedRefusals.length, `Catch got ${limitedCaught.length} ERR_FIRMWARE_REFUSAL_LIMIT`);
    for (const c of limitedCaught) assert.equal(c.source, 'iot-ledger-firmware');

    // Node-RED is up and answers.
    assert.ok(rt.nr.running, `Node-RED exited:\n${rt.nr.output().slice(-3000)}`);
    await rt.nr.getSettings();
    assert.doesNotMatch(rt.output(), /uncaughtException|UnhandledPromiseRejection|Unhandled rejection|Maximum call stack/);
    console.log(`      ${recordedRefusals.length} refusal reports recorded, ${limitedCaught.length} ERR_FIRMWARE_REFUSAL_LIMIT caught`);
  });

  it('holds the recorded refusals and aggregated security records that count the rest', async () => {
    await rt.stop(); // SIGINT: the gateway writes its pending aggregates and closes the ledger
    assert.doesNotMatch(rt.output(), /uncaughtException|UnhandledPromiseRejection|Unhandled rejection|Maximum call stack/);
    const ledger = await Ledger.open(rt.ledgerDir, { readOnly: true });
    try {
      const refusals: { refused: { digest: string } }[] = [];
      const plain: { sequence: number }[] = [];
      const limited: { count: number; source?: string }[] = [];
      const decisions: unknown[] = [];
      for await (const r of ledger.range(0)) {
        if (r.record.device !== sensor.did) continue;
        const body = r.record.body as Record<string, unknown>;
        if (r.record.type === 'firmware.report') {
          if (body.refused !== undefined) refusals.push(body as { refused: { digest: string } });
          else plain.push(body as { sequence: number });
        } else if (r.record.type === 'security' && body.code === 'ERR_FIRMWARE_REFUSAL_LIMIT') {
          limited.push(body as { count: number; source?: string });
        } else if (r.record.type === 'firmware.decision') decisions.push(body);
      }
      console.log(`      ledger: ${refusals.length} refusal reports, security counts ${JSON.stringify(limited.map((b) => b.count))}`);
      assert.ok(refusals.length <= PER_WINDOW, `${refusals.length} refusal reports of ${FLOOD} on the ledger`);
      assert.equal(refusals.length, recordedRefusals.length, 'the ledger holds the refusal reports the flow said it recorded');
      assert.equal(new Set(refusals.map((b) => b.refused.digest)).size, refusals.length, 'each refused digest once');
      // The rest, counted: the first limited report at once, the others in one aggregate written on close.
      assert.ok(limited.length >= 1 && limited.length <= 2, `${limited.length} ERR_FIRMWARE_REFUSAL_LIMIT security records`);
      assert.equal(
        limited.reduce((n, b) => n + b.count, 0),
        FLOOD - refusals.length,
        'the security records count every refusal report not recorded',
      );
      for (const b of limited) assert.equal(b.source, 'firmware');
      assert.ok(limitedCaught.length <= FLOOD - refusals.length);
      // The first report and the new version after the flood, recorded as any other.
      assert.deepEqual(
        plain.map((b) => b.sequence),
        [installed.sequence, updated.sequence],
      );
      assert.deepEqual(decisions, [], 'no report of the device was recorded as a rejected decision');
    } finally {
      await ledger.close();
    }
  });
});

