import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { toHex } from '../../lib/encoding/bytes';
import { generateKey, keyToDid, type PrivateKey } from '../../lib/crypto';
import { Ledger, type StoredRecord } from '../../lib/ledger';
import { devicesBuild, makeDevices } from '../support/devices';
import { startMosquitto, type Mosquitto } from '../support/mosquitto';
import { scratchDir } from '../support/e2e';
import {
  cliAudit,
  coldRoomFlow,
  coldRoomTerms,
  LedgerRuntime,
  Mailbox,
  rejectionOn,
  TOPIC,
  waitFlowSubscribed,
} from '../support/ledger-runtime';

// The C library on a "device": devices/examples/linux/device.c, built here, signs readings
// and publishes them with libmosquitto to Debian's mosquitto broker, from which a real
// Node-RED running the cold-room flow takes them. Each run of the program is one boot;
// its counter lives in a file.

const LEDGER = 'cdevice-e2e';

interface Published {
  counter: number;
  envelope: string;
  cose: boolean;
}

/** A C device: key file, counter file, and runs of the program. */
class CDevice {
  readonly did: string;
  readonly keyFile: string;
  readonly counterFile: string;
  readonly sent: Published[] = [];

  constructor(
    readonly name: string,
    readonly key: PrivateKey,
    readonly format: 'jws' | 'cose',
    readonly step: number,
    dir: string,
  ) {
    this.did = keyToDid(key);
    this.keyFile = path.join(dir, `${name}.key`);
    this.counterFile = path.join(dir, `${name}.counter`);
    fs.writeFileSync(this.keyFile, `${toHex(key.secretKey)}\n`, { mode: 0o600 });
  }

  get alg(): string {
    return this.key.alg === 'Ed25519' ? 'ed25519' : 'es256';
  }

  /** The did:key the program computes from its key file. */
  async didFromProgram(): Promise<string> {
    return (await run(['--did', '--alg', this.alg, '--key', this.keyFile])).trim();
  }

  /** One boot: publishes `count` readings (waiting for each PUBACK) and exits. */
  async boot(port: number, count: number): Promise<Published[]> {
    const out = await run([
      '--alg', this.alg, '--key', this.keyFile, '--counter', this.counterFile, '--name', this.name,
      '--port', String(port), '--format', this.format, '--count', String(count), '--step', String(this.step),
    ]);
    const published = out
      .trim()
      .split('\n')
      .map((l) => {
        const [c, envelope] = l.split(' ');
        return { counter: Number(c), envelope, cose: this.format === 'cose' };
      });
    this.sent.push(...published);
    return published;
  }
}

/** Runs the device program without blocking the event loop (the test's MQTT client lives in it). */
function run(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(path.join(devicesBuild, 'iotl-device'), args, { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`iotl-device ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

const wire = (p: Published): string | Buffer => (p.cose ? Buffer.from(p.envelope, 'hex') : p.envelope);

describe('e2e: the C device library publishing to a real Node-RED over MQTT', function () {
  this.timeout(180_000);

  let rt: LedgerRuntime;
  let broker: Mosquitto;
  let box: Mailbox;
  let freezer: CDevice;
  let chiller: CDevice;

  before(async () => {
    makeDevices('device');
    const dir = scratchDir('cdevice-keys');
    freezer = new CDevice('freezer-c', generateKey('Ed25519'), 'jws', 1, dir);
    chiller = new CDevice('chiller-c', generateKey('ES256'), 'cose', 8, dir);
    broker = await startMosquitto();
    rt = await LedgerRuntime.create({ ledgerName: LEDGER, prefix: 'cdevice' });
    box = await Mailbox.connect(broker.url, [TOPIC.ack, TOPIC.events, TOPIC.rejected, TOPIC.enrolled]);
    const terms = coldRoomTerms([freezer.did], [keyToDid(generateKey('Ed25519')), keyToDid(generateKey('ES256'))]);
    await rt.nr.deployFlows(coldRoomFlow({ brokerPort: broker.port, ledgerName: LEDGER, terms, blockSeconds: 1 }));
    await waitFlowSubscribed(box);
  });

  after(async () => {
    await box?.close();
    await rt?.dispose();
    await broker?.stop();
  });

  /** Waits for the Record node's acknowledgement of each reading. */
  async function acked(device: CDevice, published: Published[]): Promise<number[]> {
    const indexes: number[] = [];
    for (const p of published) {
      const ack = await box.waitFor(`ack/${device.name}/${p.counter}`);
      indexes.push((JSON.parse(ack.text) as { index: number }).index);
    }
    return indexes;
  }

  it('computes on the device the did:key the gateway enrols (the Enrol node over admin/enrol)', async () => {
    for (const d of [freezer, chiller]) {
      assert.equal(await d.didFromProgram(), d.did);
      await box.publish(TOPIC.enrol, JSON.stringify({ did: d.did, name: d.name, meta: { room: 'cold-room-1' } }));
      const done = await box.waitFor(TOPIC.enrolled, (m) => (JSON.parse(m.text) as { did?: string }).did === d.did);
      assert.equal((JSON.parse(done.text) as { name: string }).name, d.name);
    }
  });

  it('records the signed readings of a first boot (Ed25519 JWS and ES256 COSE_Sign1 with a CBOR payload)', async () => {
    const a = await freezer.boot(broker.port, 3);
    const b = await chiller.boot(broker.port, 3);
    assert.deepEqual(a.map((p) => p.counter), [1, 2, 3]);
    assert.deepEqual(b.map((p) => p.counter), [1, 2, 3]);
    const indexes = [...(await acked(freezer, a)), ...(await acked(chiller, b))];
    assert.equal(new Set(indexes).size, 6);
  });

  it('accepts the device after a restart from its persisted counter', async () => {
    const a = await freezer.boot(broker.port, 2);
    const b = await chiller.boot(broker.port, 2);
    assert.deepEqual(a.map((p) => p.counter), [4, 5]);
    // Reserving 8 counters per write: the second boot starts above the 8 reserved by the first.
    assert.deepEqual(b.map((p) => p.counter), [9, 10]);
    await acked(freezer, a);
    await acked(chiller, b);
  });

  it('rejects a replayed earlier message with ERR_REPLAY, and later readings still go through', async () => {
    for (const [d, p] of [[freezer, freezer.sent[0]], [chiller, chiller.sent[1]]] as const) {
      const since = Date.now();
      await box.publish(TOPIC.reading(d.name), wire(p));
      const rejected = JSON.parse((await rejectionOn(box, TOPIC.reading(d.name), 'ERR_REPLAY', since)).text) as { source: string };
      assert.equal(rejected.source, 'iot-ledger-verify');
    }
    await acked(freezer, await freezer.boot(broker.port, 1));
    assert.equal(box.on(`ack/${freezer.name}/1`).length, 1, 'the replay was not recorded again');
    assert.equal(box.on(`ack/${chiller.name}/2`).length, 1, 'the replay was not recorded again');
  });

  it('audits clean, with every reading on the ledger exactly as the device sent it', async () => {
    await rt.stop();
    const { code, report, stderr } = await cliAudit(rt.ledgerDir);
    assert.equal(code, 0, `audit exit ${code}: ${JSON.stringify(report.findings.slice(0, 3))}\n${stderr}`);
    assert.equal(report.clean, true);
    const ledger = await Ledger.open(rt.ledgerDir, { readOnly: true });
    try {
      const all: StoredRecord[] = [];
      for await (const r of ledger.range(0)) all.push(r);
      for (const d of [freezer, chiller]) {
        const readings = all.filter((r) => r.record.type === 'reading' && r.record.device === d.did);
        assert.deepEqual(
          readings.map((r) => (r.record.body as { counter: number }).counter),
          d.sent.map((p) => p.counter),
        );
        for (const [i, r] of readings.entries()) {
          const env = r.record.envelope;
          assert.equal(typeof env === 'string' ? env : toHex(env as Uint8Array), d.sent[i].envelope);
          assert.equal(typeof (r.record.body as { temperature: unknown }).temperature, 'number');
        }
      }
      const replays = all.filter((r) => r.record.type === 'security' && (r.record.body as { code: string }).code === 'ERR_REPLAY');
      // Security records aggregate repeats (docs/FORMAT.md): their counts add up to the rejections.
      assert.equal(replays.reduce((n, r) => n + ((r.record.body as { count?: number }).count ?? 1), 0), 2);
    } finally {
      await ledger.close();
    }
  });
});
