// A real Node-RED child with the packed pack installed, a real MQTT broker and the cold-room
// flow deployed through the admin API: what the e2e tests of the ledger run against.
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import * as mqtt from 'mqtt';
import { fromBase64Url, toBase64Url } from '../../lib/encoding/bytes';
import { keyToDid, type PrivateKey } from '../../lib/crypto';
import { signEnvelope } from '../../lib/envelope/envelope';
import { ledgerPaths } from '../../lib/gateway/paths';
import { startBroker, type RunningBroker } from '../../demo/broker';
import { NodeRedProcess, type NodeRedProcessOptions } from '../../demo/nodered/process';
import { createUserDir, linkIntoUserDir } from '../../demo/nodered/userdir';
import { installedPack, scratchDir } from './e2e';
import { projectRoot } from './paths';
import { until } from './until';

// ------------------------------------------------------------------------------ the flow

export const TOPIC = {
  readings: 'coldroom/+/reading',
  reading: (device: string): string => `coldroom/${device}/reading`,
  sign: 'coldroom/contract/sign',
  enrol: 'admin/enrol',
  enrolled: 'admin/enrolled',
  rejected: 'rejected',
  /** ack/<device name>/<counter>, payload {index, device, counter, block} */
  ack: 'ack/#',
  /** contract/<id>/<event type>, payload the event */
  events: 'contract/#',
} as const;

export interface ColdRoomFlowOptions {
  brokerPort: number;
  ledgerName: string;
  /** Contract terms (an object; the node gets it as JSON text). */
  terms: Record<string, unknown>;
  blockRecords?: number;
  blockSeconds?: number;
  /** Contract node's clock tick. Default 1 s. */
  tickSeconds?: number;
}

export const NODE_IDS = {
  tab: 'e2e-tab',
  broker: 'e2e-broker',
  ledger: 'e2e-ledger',
  verify: 'e2e-verify',
  contract: 'e2e-contract',
  record: 'e2e-record',
  enrol: 'e2e-enrol',
  catch: 'e2e-catch',
} as const;

/**
 * The cold-room example's shape, with every input and output on MQTT so a test can drive
 * it: MQTT in (coldroom/+/reading) -> Verify -> Contract -> Record -> ack/<device>/<counter>;
 * contract events -> contract/<id>/<type>; party signatures from coldroom/contract/sign;
 * enrolment from admin/enrol; every caught error -> `rejected` with its error.code.
 */
export function coldRoomFlow(o: ColdRoomFlowOptions): Record<string, unknown>[] {
  const z = NODE_IDS.tab;
  const id = NODE_IDS;
  const mqttOut = (nid: string, topic: string, x: number, y: number) => ({
    id: nid, type: 'mqtt out', z, name: '', topic, qos: '1', retain: 'false', respTopic: '', contentType: '',
    userProps: '', correl: '', expiry: '', broker: id.broker, x, y, wires: [],
  });
  const mqttIn = (nid: string, topic: string, datatype: string, wires: string[], x: number, y: number) => ({
    id: nid, type: 'mqtt in', z, name: '', topic, qos: '1', datatype, broker: id.broker, nl: false, rap: true, rh: 0,
    inputs: 0, x, y, wires: [wires],
  });
  return [
    { id: z, type: 'tab', label: 'cold room e2e', disabled: false, info: '' },
    {
      id: id.broker, type: 'mqtt-broker', name: 'test broker', broker: '127.0.0.1', port: String(o.brokerPort),
      clientid: '', autoConnect: true, usetls: false, protocolVersion: '4', keepalive: '60', cleansession: true,
      autoUnsubscribe: true, birthTopic: '', birthQos: '0', birthPayload: '', birthMsg: {}, closeTopic: '',
      closeQos: '0', closePayload: '', closeMsg: {}, willTopic: '', willQos: '0', willPayload: '', willMsg: {},
      userProps: '', sessionExpiry: '',
    },
    {
      id: id.ledger, type: 'iot-ledger-config', ledgerName: o.ledgerName, dir: '',
      blockRecords: o.blockRecords ?? 1000, blockSeconds: o.blockSeconds ?? 2,
    },
    mqttIn('e2e-in-readings', TOPIC.readings, 'auto-detect', [id.verify], 120, 80),
    {
      id: id.verify, type: 'iot-ledger-verify', z, name: 'Verify signature', ledger: id.ledger, tofu: false,
      requireFreshness: true, recordRejections: true, outputs: 1, x: 320, y: 80, wires: [[id.contract]],
    },
    {
      id: id.contract, type: 'iot-ledger-contract', z, name: 'below -20 °C', ledger: id.ledger,
      terms: JSON.stringify(o.terms, null, 2), tickSeconds: o.tickSeconds ?? 1,
      x: 520, y: 80, wires: [['e2e-out-events'], [id.record]],
    },
    mqttOut('e2e-out-events', '', 740, 40),
    {
      id: id.record, type: 'iot-ledger-record', z, name: 'Record reading', ledger: id.ledger, recordType: 'reading',
      allowOverride: true, x: 740, y: 120, wires: [['e2e-ack']],
    },
    {
      id: 'e2e-ack', type: 'function', z, name: 'ack/<device>/<counter>', outputs: 1, noerr: 0, initialize: '', finalize: '', libs: [],
      func: [
        "msg.topic = 'ack/' + msg.device.name + '/' + msg.verified.counter;",
        'msg.payload = { index: msg.ledger.index, block: msg.ledger.block, device: msg.device.id, counter: msg.verified.counter };',
        'return msg;',
      ].join('\n'),
      x: 940, y: 120, wires: [['e2e-out-ack']],
    },
    mqttOut('e2e-out-ack', '', 1140, 120),
    mqttIn('e2e-in-sign', TOPIC.sign, 'auto-detect', ['e2e-sign-topic'], 120, 180),
    {
      id: 'e2e-sign-topic', type: 'change', z, name: 'topic = contract/sign',
      rules: [{ t: 'set', p: 'topic', pt: 'msg', to: 'contract/sign', tot: 'str' }],
      action: '', property: '', from: '', to: '', reg: false, x: 340, y: 180, wires: [[id.contract]],
    },
    mqttIn('e2e-in-enrol', TOPIC.enrol, 'json', [id.enrol], 120, 240),
    {
      id: id.enrol, type: 'iot-ledger-enrol', z, name: 'Enrol', ledger: id.ledger, action: 'msg', x: 320, y: 240,
      wires: [['e2e-out-enrolled']],
    },
    mqttOut('e2e-out-enrolled', TOPIC.enrolled, 520, 240),
    { id: id.catch, type: 'catch', z, name: '', scope: null, uncaught: false, x: 120, y: 300, wires: [['e2e-err']] },
    {
      id: 'e2e-err', type: 'change', z, name: 'code, message, source',
      rules: [
        {
          t: 'set', p: 'payload', pt: 'msg', tot: 'jsonata',
          to: '{"code": error.code, "message": error.message, "source": error.source.type, "topic": topic}',
        },
      ],
      action: '', property: '', from: '', to: '', reg: false, x: 320, y: 300, wires: [['e2e-out-rejected']],
    },
    mqttOut('e2e-out-rejected', TOPIC.rejected, 520, 300),
  ];
}

/** The cold-room contract: stay below -20 °C, alarm after 2 s in a row above it. */
export function coldRoomTerms(subjects: string[], parties: string[]): Record<string, unknown> {
  return {
    id: 'cold-room-1',
    version: 1,
    title: 'Cold room 1 stays below -20 °C',
    subjects,
    metric: 'temperature',
    unit: '°C',
    rule: { op: '<', limit: -20 },
    alarm: { mode: 'consecutive', seconds: 2 },
    hysteresis: 0.5,
    maxGapSeconds: 60,
    parties,
  };
}

// ------------------------------------------------------------------------------ devices

/** A simulated sensor: its key, did:key, and a counter that only goes up. */
export class Sensor {
  readonly did: string;
  counter = 0;

  constructor(
    readonly name: string,
    readonly key: PrivateKey,
  ) {
    this.did = keyToDid(key);
  }

  /** The next reading's payload. */
  next(temperature: number): { temperature: number; counter: number; ts: number } {
    this.counter++;
    return { temperature, counter: this.counter, ts: Date.now() };
  }

  /** JWS compact of `payload` with kid = did:key. */
  sign(payload: object): string {
    return signEnvelope(payload, this.key, { kid: this.did }) as string;
  }
}

/** The same JWS with its payload changed after signing (the signature no longer matches). */
export function forge(jws: string, change: (payload: Record<string, unknown>) => void): string {
  const [h, p, s] = jws.split('.');
  const payload = JSON.parse(Buffer.from(fromBase64Url(p)).toString('utf8')) as Record<string, unknown>;
  change(payload);
  return `${h}.${toBase64Url(Buffer.from(JSON.stringify(payload)))}.${s}`;
}

// ------------------------------------------------------------------------------ MQTT

export interface Received {
  topic: string;
  text: string;
  /** When it arrived (Date.now()). */
  at: number;
}

/** An MQTT client that keeps everything it receives and can wait for a message. */
export class Mailbox {
  readonly received: Received[] = [];
  private readonly waiters = new Set<() => void>();

  private constructor(readonly client: mqtt.MqttClient) {
    client.on('message', (topic, payload) => {
      this.received.push({ topic, text: payload.toString('utf8'), at: Date.now() });
      for (const w of [...this.waiters]) w();
    });
  }

  static async connect(url: string, topics: string[]): Promise<Mailbox> {
    const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, clean: true }, false);
    const box = new Mailbox(client);
    await client.subscribeAsync(topics, { qos: 1 });
    return box;
  }

  /** Messages on topics matching `filter` (MQTT wildcards). */
  on(filter: string): Received[] {
    return this.received.filter((m) => topicMatches(filter, m.topic));
  }

  /** Resolves with the first message (received or to come) on `filter` for which `pred` holds. */
  waitFor(filter: string, pred: (m: Received) => boolean = () => true, timeoutMs = 20_000, what = filter): Promise<Received> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const hit = this.received.find((m) => topicMatches(filter, m.topic) && pred(m));
        if (!hit) return false;
        this.waiters.delete(waiter);
        clearTimeout(timer);
        resolve(hit);
        return true;
      };
      const waiter = (): void => void check();
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        const seen = this.received.map((m) => `${m.topic} ${m.text.slice(0, 160)}`).slice(-15).join('\n  ');
        reject(new Error(`no MQTT message on ${what} within ${timeoutMs} ms; last received:\n  ${seen}`));
      }, timeoutMs);
      this.waiters.add(waiter);
      check();
    });
  }

  async publish(topic: string, payload: string | Buffer, qos: 0 | 1 = 1): Promise<void> {
    await this.client.publishAsync(topic, payload, { qos });
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

/** Whether `m` (on `rejected`) is a rejection, received at `after` or later, of a message that came in on `topic`. */
const rejectionOf =
  (topic: string, code?: string, after = 0) =>
  (m: Received): boolean => {
    const body = JSON.parse(m.text) as { topic?: string; code?: string };
    return m.at >= after && body.topic === topic && (code === undefined || body.code === code);
  };

/** A rejection the flow reported on `rejected` for a message that came in on `topic`. */
export function rejectionOn(box: Mailbox, topic: string, code?: string, after = 0, timeoutMs = 20_000): Promise<Received> {
  return box.waitFor(TOPIC.rejected, rejectionOf(topic, code, after), timeoutMs, `rejected (${code ?? 'any code'} for ${topic})`);
}

/** One probe of a flow: what to publish where, and the answer that shows the flow took it. */
export interface Probe {
  topic: string;
  payload: string | Buffer;
  /** The topic (filter) the answer comes on, and which message there answers. */
  answer: string;
  answered: (m: Received) => boolean;
}

/**
 * Publishes a probe (`next()`, made anew each round) and waits 500 ms for its answer, again until
 * one comes: a flow's MQTT in node subscribes some time after the deploy, and what is published
 * before is lost. Bounded by until(): after `timeoutMs` it fails, waiting for `what`.
 */
export async function probeUntilAnswered(box: Mailbox, what: string, next: () => Probe, timeoutMs = 30_000): Promise<void> {
  const round = async (): Promise<boolean> => {
    const probe = next();
    await box.publish(probe.topic, probe.payload);
    return box.waitFor(probe.answer, probe.answered, 500).then(
      () => true,
      () => false,
    );
  };
  await until(what, round, { timeoutMs, pollMs: 0 });
}

/**
 * Sends `probe` to `topic` every 500 ms until the flow rejects one (reported with msg.topic
 * `seenAs`): from then on the flow's MQTT in node for `topic` is subscribed.
 */
export async function waitSubscribed(box: Mailbox, topic: string, probe: string, seenAs = topic, timeoutMs = 30_000): Promise<void> {
  const first = Date.now();
  const next = (): Probe => ({ topic, payload: probe, answer: TOPIC.rejected, answered: rejectionOf(seenAs, undefined, first) });
  await probeUntilAnswered(box, `the flow to take a message from ${topic}`, next, timeoutMs);
}

/** Waits until the deployed cold-room flow takes messages on all its inputs. */
export async function waitFlowSubscribed(box: Mailbox): Promise<void> {
  await waitSubscribed(box, TOPIC.enrol, JSON.stringify({ did: 'not-a-did' }));
  await waitSubscribed(box, TOPIC.reading('probe'), 'not an envelope');
  await waitSubscribed(box, TOPIC.sign, 'not a signature', 'contract/sign'); // the change node sets the topic
}

/** Enrols `sensor` through admin/enrol and waits for the Enrol node's answer. */
export async function enrol(box: Mailbox, sensor: Sensor): Promise<Record<string, unknown>> {
  await box.publish(TOPIC.enrol, JSON.stringify({ did: sensor.did, name: sensor.name }));
  const m = await box.waitFor(TOPIC.enrolled, (r) => (JSON.parse(r.text) as { did?: string }).did === sensor.did);
  return JSON.parse(m.text) as Record<string, unknown>;
}

export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

// ------------------------------------------------------------------------------ runtime

export interface LedgerRuntimeOptions {
  ledgerName: string;
  prefix: string;
  /** Extra NodeRedProcess options (log level, port...). */
  nodeRed?: Partial<NodeRedProcessOptions>;
}

/** Broker + user dir with the packed pack installed + a Node-RED child; restartable. */
export class LedgerRuntime {
  nr!: NodeRedProcess;
  /** Output of every Node-RED process started so far (earlier runs first). */
  readonly logs: string[] = [];

  private constructor(
    readonly broker: RunningBroker,
    readonly userDir: string,
    readonly ledgerName: string,
    private readonly nodeRedOptions: Partial<NodeRedProcessOptions>,
  ) {}

  static async create(opts: LedgerRuntimeOptions): Promise<LedgerRuntime> {
    const broker = await startBroker({ port: 0 });
    try {
      const userDir = createUserDir(scratchDir(opts.prefix));
      linkIntoUserDir(userDir, await installedPack());
      const rt = new LedgerRuntime(broker, userDir, opts.ledgerName, opts.nodeRed ?? {});
      await rt.start();
      return rt;
    } catch (err) {
      await broker.close();
      throw err;
    }
  }

  get ledgerDir(): string {
    return ledgerPaths(this.userDir, this.ledgerName).dir;
  }

  get keyFile(): string {
    return ledgerPaths(this.userDir, this.ledgerName).keyFile;
  }

  /** Starts Node-RED on the user dir (the flows already there are loaded). */
  async start(): Promise<NodeRedProcess> {
    if (this.nr?.running) throw new Error('Node-RED is already running');
    this.nr = await NodeRedProcess.start({ userDir: this.userDir, ...this.nodeRedOptions });
    return this.nr;
  }

  /** Everything Node-RED printed, over every run. */
  output(): string {
    return [...this.logs, this.nr?.output() ?? ''].join('\n--- restart ---\n');
  }

  /** SIGINT and wait; fails when Node-RED does not exit with code 0. */
  async stop(): Promise<void> {
    if (!this.nr?.running) return;
    const exit = await this.nr.stop(20_000);
    this.logs.push(this.nr.output());
    if (exit.code !== 0) throw new Error(`Node-RED exited with ${JSON.stringify(exit)}\n${this.nr.output().slice(-4000)}`);
  }

  /** SIGKILL: no cleanup, as in a crash. */
  async kill(): Promise<void> {
    if (!this.nr?.running) return;
    await this.nr.kill();
    this.logs.push(this.nr.output());
  }

  /** Stops whatever runs (Node-RED by SIGKILL if still up, then the broker). */
  async dispose(): Promise<void> {
    await this.nr?.kill().catch(() => undefined);
    await this.broker.close();
  }
}

// ------------------------------------------------------------------------------ CLI

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `node dist/bin/iot-ledger.js ...args` of this project, asynchronously. */
export function iotLedger(args: string[], timeoutMs = 60_000): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(projectRoot, 'dist', 'bin', 'iot-ledger.js'), ...args],
      { timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

export interface AuditJson {
  clean: boolean;
  size: number;
  findings: { kind: string; index?: number; height?: number; device?: string; detail?: string }[];
  [key: string]: unknown;
}

/** `iot-ledger audit DIR --json`: exit code and the parsed report. */
export async function cliAudit(dir: string): Promise<{ code: number | null; report: AuditJson; stderr: string }> {
  const r = await iotLedger(['audit', dir, '--json']);
  let report: AuditJson;
  try {
    report = JSON.parse(r.stdout) as AuditJson;
  } catch {
    throw new Error(`iot-ledger audit printed no JSON report (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  return { code: r.code, report, stderr: r.stderr };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
