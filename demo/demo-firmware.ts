/**
 * The `npm start` demo's firmware loop, where the simulated sensors pull what the ledger approved.
 *
 * Before Node-RED opens the ledger (first start): a demo vendor key is trusted, release 1.0.0
 * (the sensors' factory firmware) is registered and approved for every sensor. A third tab,
 * "Firmware (demo)", then lets the ledger drive the rest: "release 1.1.0 + approve" registers
 * the vendor-signed 1.1.0 manifest and approves it for the first sensor, and the Firmware node
 * publishes the offer (manifest + the decision's inclusion proof, retained) on
 * iot-ledger/firmware/<did>. The sensor verifies it, installs it and reports, signed; the
 * reports come back on iot-ledger/firmware/<did>/report and are recorded. Two attacker
 * injects replay an old approval (to another sensor, and as a rollback): the sensors refuse
 * them and report the refusal. Only public data (manifests, proofs, did:keys) goes into the flow.
 */
import * as path from 'node:path';
import { toHex, utf8 } from '../lib/encoding/bytes';
import { createManifest, type Envelope, type FirmwareOffer } from '../lib/firmware';
import { firmwareTopic } from '../lib/firmware/offer';
import { firmwareOffer, Gateway } from '../lib/gateway';
import { sha256 } from '../lib/crypto/hash';
import { keyToDid } from '../lib/crypto/didkey';
import { loadOrCreateKeyFile, readPrivateKeyFile } from '../lib/crypto/keyfile';
import { generateKey, type PrivateKey } from '../lib/crypto/keys';
import type { FlowNode } from './flow';
import { firmwareReportTopic, type InstalledFirmware } from './sensor-pull';

export const DEMO_VENDOR = 'demo-cold';
export const DEMO_CLASS = 'cold-sensor-v1';
export const FACTORY = { version: '1.0.0', sequence: 10 } as const;
export const UPDATE = { version: '1.1.0', sequence: 11 } as const;

/** The image bytes of a demo version: what the sensors "download" and check against the manifest digest. */
export const demoImage = (version: string): Uint8Array => utf8(`iot-ledger demo firmware ${DEMO_CLASS} ${version}\n`);

export const demoImages = (): Map<string, Uint8Array> =>
  new Map([FACTORY.version, UPDATE.version].map((v) => [toHex(sha256(demoImage(v))), demoImage(v)]));

export const factoryFirmware = (): InstalledFirmware => ({
  vendor: DEMO_VENDOR,
  class: DEMO_CLASS,
  version: FACTORY.version,
  sequence: FACTORY.sequence,
  digest: toHex(sha256(demoImage(FACTORY.version))),
});

export const vendorKeyFile = (userDir: string): string => path.join(userDir, 'iot-ledger', 'vendors', `${DEMO_VENDOR}.jwk`);

/** The demo vendor's key: made on first use, read back later (private JWK, 0600). */
export const loadOrCreateVendorKey = (userDir: string): PrivateKey => loadOrCreateKeyFile(vendorKeyFile(userDir), () => generateKey('Ed25519'));

export function demoManifest(key: PrivateKey, release: { version: string; sequence: number }): Envelope {
  const image = demoImage(release.version);
  return createManifest(
    { vendor: DEMO_VENDOR, class: DEMO_CLASS, version: release.version, sequence: release.sequence, digest: toHex(sha256(image)), size: image.length },
    key,
  );
}

export interface DemoSensor {
  name: string;
  did: string;
}

/**
 * Trusts the vendor, registers the factory release and approves it for each sensor, unless the
 * ledger holds that already; returns each sensor's factory offer (public: manifest and proof).
 */
export async function prepareDemoFirmware(
  ledger: { dir: string; keyFile: string; name: string },
  vendorKey: PrivateKey,
  sensors: readonly DemoSensor[],
): Promise<Map<string, FirmwareOffer>> {
  const gw = await Gateway.open(ledger.dir, { name: ledger.name, gatewayKey: readPrivateKeyFile(ledger.keyFile) });
  try {
    const fw = await gw.firmware();
    const vendorDid = keyToDid(vendorKey);
    if (!fw.state.isTrusted(DEMO_VENDOR, vendorDid)) await fw.trustVendor(DEMO_VENDOR, vendorDid);
    const factory = factoryFirmware();
    if (!fw.state.release(DEMO_VENDOR, DEMO_CLASS, FACTORY.sequence)) {
      const o = await fw.registerRelease(demoManifest(vendorKey, FACTORY));
      if (o.decision === 'rejected') throw new Error(`the demo's factory release was refused: ${o.message}`);
    }
    const offers = new Map<string, FirmwareOffer>();
    for (const s of sensors) {
      let index = fw.state.approvalOf(s.did, DEMO_CLASS, FACTORY.sequence, factory.digest)?.index;
      if (index === undefined) {
        if (fw.state.device(s.did)?.current) continue; // runs something else already: leave it
        const o = await fw.checkUpdate({ device: s.did, vendor: DEMO_VENDOR, class: DEMO_CLASS, sequence: FACTORY.sequence });
        if (o.decision !== 'approved') throw new Error(`the demo's factory install on ${s.name} was refused: ${o.message}`);
        index = o.receipt.index;
      }
      const offer = await firmwareOffer(gw.ledger, index);
      if (offer) offers.set(s.name, offer);
    }
    return offers;
  } finally {
    await gw.close();
  }
}

export const DEMO_FIRMWARE_TAB = 'demo-fw-tab';
/** The inject that releases 1.1.0 and approves it for the first sensor (start presses it once, on a first start). */
export const DEMO_RELEASE_INJECT = 'demo-fw-release';
export const DEMO_ATTACK_OTHER_INJECT = 'demo-fw-attack-other';
export const DEMO_ATTACK_ROLLBACK_INJECT = 'demo-fw-attack-rollback';

export interface DemoFirmwareTab {
  ledgerConfig: string;
  broker: string;
  sensors: readonly DemoSensor[];
  /** The vendor-signed 1.1.0 manifest. */
  update: Envelope;
  /** Factory offers by sensor name (from prepareDemoFirmware). */
  factoryOffers: ReadonlyMap<string, FirmwareOffer>;
}

/** A copy of `flows` with the "Firmware (demo)" tab added. */
export function addDemoFirmwareTab(flows: FlowNode[], t: DemoFirmwareTab): FlowNode[] {
  const [first, second] = t.sensors;
  const z = DEMO_FIRMWARE_TAB;
  const at = (x: number, y: number) => ({ z, x, y });
  const debug = (id: string, name: string, expr: string, x: number, y: number): FlowNode => ({
    id,
    type: 'debug',
    ...at(x, y),
    name,
    active: true,
    tosidebar: true,
    console: true,
    tostatus: false,
    complete: expr,
    targetType: 'jsonata',
    wires: [],
  });
  const outcome = '$join([firmware.mode, firmware.decision, $string(firmware.body)], " ")';
  const nodes: FlowNode[] = [
    {
      id: z,
      type: 'tab',
      label: 'Firmware (demo)',
      info: 'Firmware updates the sensors pull from the ledger: release, approval, offer, install, signed report. See the README, "What devices pull".',
    },
    {
      id: 'demo-fw-comment',
      type: 'comment',
      ...at(300, 40),
      name: `① release ${UPDATE.version} and approve it for ${first.name}: ${first.name} verifies the offer, installs, reports`,
      info: `The Firmware nodes record the release (vendor ${DEMO_VENDOR}, signed manifest) and an approved update decision for ${first.name}. The approving node publishes the offer (manifest + inclusion proof of the decision, retained) on iot-ledger/firmware/<did>. The simulated sensor checks the vendor signature, the proof under the gateway's key and the image digest, installs it and sends a signed report on iot-ledger/firmware/<did>/report, recorded below. npm start presses ① once, about 10 s after a first start.`,
      wires: [],
    },
    {
      id: DEMO_RELEASE_INJECT,
      type: 'inject',
      ...at(170, 100),
      name: `① release ${UPDATE.version} + approve for ${first.name}`,
      props: [{ p: 'payload' }],
      repeat: '',
      crontab: '',
      once: false,
      onceDelay: 0.1,
      topic: '',
      payload: String(t.update),
      payloadType: 'str',
      wires: [['demo-fw-register']],
    },
    { id: 'demo-fw-register', type: 'iot-ledger-firmware', ...at(420, 100), name: 'register release', ledger: t.ledgerConfig, mode: 'release', wires: [['demo-fw-plan']] },
    {
      id: 'demo-fw-plan',
      type: 'change',
      ...at(630, 100),
      name: `update ${first.name} to ${UPDATE.version}`,
      rules: [
        {
          t: 'set',
          p: 'payload',
          pt: 'msg',
          to: JSON.stringify({ device: first.did, vendor: DEMO_VENDOR, class: DEMO_CLASS, sequence: UPDATE.sequence }),
          tot: 'json',
        },
      ],
      wires: [['demo-fw-approve']],
    },
    {
      id: 'demo-fw-approve',
      type: 'iot-ledger-firmware',
      ...at(850, 100),
      name: 'approve update, publish offer',
      ledger: t.ledgerConfig,
      mode: 'check',
      publishOffer: true,
      wires: [['demo-fw-offers']],
    },
    {
      id: 'demo-fw-offers',
      type: 'switch',
      ...at(1060, 100),
      name: 'offer or decision',
      property: 'topic',
      propertyType: 'msg',
      rules: [{ t: 'regex', v: '^iot-ledger/firmware/', vt: 'str', case: false }, { t: 'else' }],
      checkall: 'false',
      repair: false,
      outputs: 2,
      wires: [['demo-fw-out'], ['demo-fw-decision-debug']],
    },
    {
      id: 'demo-fw-out',
      type: 'mqtt out',
      ...at(1300, 180),
      name: 'iot-ledger/firmware/<did>',
      topic: '',
      qos: '1',
      retain: '',
      broker: t.broker,
      wires: [],
    },
    debug('demo-fw-decision-debug', 'firmware decision', outcome, 1290, 100),
    {
      id: 'demo-fw-reports',
      type: 'mqtt in',
      ...at(190, 300),
      name: 'device reports',
      topic: firmwareReportTopic('+'),
      qos: '1',
      datatype: 'utf8',
      broker: t.broker,
      nl: false,
      rap: true,
      rh: 0,
      inputs: 0,
      wires: [['demo-fw-device']],
    },
    {
      id: 'demo-fw-device',
      type: 'change',
      ...at(420, 300),
      name: 'deviceId from topic',
      rules: [{ t: 'set', p: 'deviceId', pt: 'msg', to: '$split(topic, "/")[2]', tot: 'jsonata' }],
      wires: [['demo-fw-report']],
    },
    { id: 'demo-fw-report', type: 'iot-ledger-firmware', ...at(640, 300), name: 'record report', ledger: t.ledgerConfig, mode: 'report', wires: [['demo-fw-report-debug']] },
    debug('demo-fw-report-debug', 'firmware report', outcome, 870, 300),
  ];
  const attack = (id: string, name: string, offer: FirmwareOffer | undefined, target: DemoSensor | undefined, y: number): FlowNode[] =>
    offer && target
      ? [
          {
            id,
            type: 'inject',
            ...at(230, y),
            name,
            props: [{ p: 'payload' }, { p: 'topic', vt: 'str' }],
            repeat: '',
            crontab: '',
            once: false,
            onceDelay: 0.1,
            topic: firmwareTopic(target.did),
            payload: JSON.stringify(offer),
            payloadType: 'json',
            wires: [['demo-fw-out']],
          },
        ]
      : [];
  nodes.push(
    {
      id: 'demo-fw-attack-comment',
      type: 'comment',
      ...at(300, 400),
      name: 'An attacker on the broker replays old approvals: the sensors refuse them and report the refusal',
      info: `② sends ${first.name}'s factory offer (a real approval, for another device) to ${second?.name ?? 'a second sensor'}: refused, "unknown-release". ③ sends it to ${first.name} again after ① installed ${UPDATE.version}: refused, "rollback". Each refusal is a signed firmware.report with "refused" {sequence, digest, reason}.`,
      wires: [],
    },
    ...attack(DEMO_ATTACK_OTHER_INJECT, `② ${first.name}'s approval to ${second?.name ?? ''}`, t.factoryOffers.get(first.name), second, 460),
    ...attack(DEMO_ATTACK_ROLLBACK_INJECT, `③ roll ${first.name} back to ${FACTORY.version}`, t.factoryOffers.get(first.name), first, 520),
  );
  return [...flows, ...nodes];
}
