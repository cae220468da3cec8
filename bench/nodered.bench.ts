// Node-RED: a real Node-RED child process with this pack linked into a temporary user
// directory, an in-process Aedes broker and eight simulated Ed25519 devices.
//
//   ours:      mqtt in -> iot-ledger-verify -> iot-ledger-record -> observer
//   baseline:  mqtt in -> function (return msg)                  -> observer
//
// Both pipelines run in the same runtime, share one broker connection and get the same
// signed envelopes (JWS compact, published with QoS 1). The broker is Aedes in the bench
// process, or Debian's mosquitto with BENCH_NR_BROKER=mosquitto. The observer is the same function
// node on both: it counts and publishes a tally every TALLY messages; messages on a
// `/probe` topic it forwards one by one, and the bench takes the latency where they arrive.
import { performance } from 'node:perf_hooks';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as mqtt from 'mqtt';
import { keyToDid } from '../lib/crypto/didkey';
import { signEnvelope } from '../lib/envelope/envelope';
import { Gateway } from '../lib/gateway';
import { loadOrCreateKeyFile } from '../lib/crypto/keyfile';
import { generateKey, type PrivateKey } from '../lib/crypto/keys';
import { Ledger } from '../lib/ledger';
import { startBroker } from '../demo/broker';
import { startMosquitto } from '../test/support/mosquitto';
import { NodeRedProcess } from '../demo/nodered/process';
import { createUserDir, linkIntoUserDir } from '../demo/nodered/userdir';
import { ledgerPaths } from '../lib/gateway/paths';
import { printFigures, type Figure } from './harness';
import { witnessVerifierKey } from '../lib/witness/cosignature';
import { cosignedNewestFirst } from '../lib/witness/ledger-cosignatures';

const DEVICES = 8;
const LEDGER = 'bench';
const PLAIN_LEDGER = 'bench-plain';
const QOS = 1;
/** Messages per throughput round and pipeline (a multiple of TALLY). */
const ROUND = Number(process.env.BENCH_NR_ROUND ?? 20_000);
const ROUNDS = Number(process.env.BENCH_NR_ROUNDS ?? 3);
const WARMUP = 3_000;
const TALLY = 500;
/** Unacknowledged QoS 1 publishes the bench keeps in flight. */
const WINDOW = 4_000;
/**
 * Messages published and not yet seen by the observer, at most. The broker acknowledges a
 * QoS 1 publish when it has it, not when Node-RED has handled it, so without this bound a
 * pipeline slower than the publisher piles messages up in Node-RED, and the pack's bounded
 * queues (issue 10) rightly shed them with ERR_OVERLOADED. Below the gateway's limits
 * (2,048 writes waiting, 1,024 signature checks per device).
 */
const END_TO_END = 2_000;
const BROKER = process.env.BENCH_NR_BROKER === 'mosquitto' ? 'mosquitto' : 'aedes';
const PACED_RATE = 1_000;
const PACED_SECONDS = Number(process.env.BENCH_NR_PACED_SECONDS ?? 6);

const projectRoot = path.resolve(__dirname, '..', '..');
type Pipe = 'ledger' | 'plain';
const PIPES: Pipe[] = ['plain', 'ledger'];

/** With witnesses, the baseline is the same Verify -> Record on a ledger without witnesses. */
interface WitnessSetup {
  /** Ledger node witness lines (`<vkey> <url>`). */
  lines: string;
  quorum: number;
}

function flows(brokerPort: number, witnesses?: WitnessSetup): unknown[] {
  const tab = 'bench-tab';
  // The same observer for both pipelines; only its output topic differs.
  const observer = (pipe: Pipe) => ({
    id: `obs-${pipe}`,
    type: 'function',
    z: tab,
    name: `observe ${pipe}`,
    func: [
      `if (msg.topic.endsWith('/probe')) return { topic: 'bench/out/${pipe}/probe', payload: msg.payload };`,
      "const n = (context.get('n') || 0) + 1;",
      "context.set('n', n);",
      `return n % ${TALLY} === 0 ? { topic: 'bench/out/${pipe}/count', payload: String(n) } : null;`,
    ].join('\n'),
    outputs: 1,
    wires: [['mqtt-out']],
  });
  const mqttIn = (pipe: Pipe, next: string) => ({
    id: `in-${pipe}`,
    type: 'mqtt in',
    z: tab,
    topic: `bench/${pipe}/+`,
    qos: String(QOS),
    datatype: 'utf8',
    broker: 'broker',
    nl: false,
    rap: true,
    rh: 0,
    inputs: 0,
    wires: [[next]],
  });
  return [
    { id: tab, type: 'tab', label: 'bench' },
    {
      id: 'broker',
      type: 'mqtt-broker',
      name: 'bench broker',
      broker: '127.0.0.1',
      port: String(brokerPort),
      clientid: '',
      autoConnect: true,
      usetls: false,
      protocolVersion: '4',
      keepalive: '60',
      cleansession: true,
      autoUnsubscribe: true,
    },
    {
      id: 'ledger',
      type: 'iot-ledger-config',
      ledgerName: LEDGER,
      blockRecords: 1000,
      blockSeconds: 60,
      ...(witnesses ? { witnesses: witnesses.lines, quorum: String(witnesses.quorum) } : {}),
    },
    mqttIn('ledger', 'verify'),
    { id: 'verify', type: 'iot-ledger-verify', z: tab, ledger: 'ledger', outputs: 1, wires: [['record']] },
    { id: 'record', type: 'iot-ledger-record', z: tab, ledger: 'ledger', recordType: 'reading', wires: [['obs-ledger']] },
    ...(witnesses
      ? [
          { id: 'ledger-plain', type: 'iot-ledger-config', ledgerName: PLAIN_LEDGER, blockRecords: 1000, blockSeconds: 60 },
          mqttIn('plain', 'verify-plain'),
          { id: 'verify-plain', type: 'iot-ledger-verify', z: tab, ledger: 'ledger-plain', outputs: 1, wires: [['record-plain']] },
          { id: 'record-plain', type: 'iot-ledger-record', z: tab, ledger: 'ledger-plain', recordType: 'reading', wires: [['obs-plain']] },
        ]
      : [
          mqttIn('plain', 'fn-passthrough'),
          { id: 'fn-passthrough', type: 'function', z: tab, name: 'passthrough', func: 'return msg;', outputs: 1, wires: [['obs-plain']] },
        ]),
    observer('ledger'),
    observer('plain'),
    { id: 'mqtt-out', type: 'mqtt out', z: tab, topic: '', qos: '0', retain: 'false', broker: 'broker', wires: [] },
    { id: 'bench-catch', type: 'catch', z: tab, scope: null, uncaught: false, wires: [['bench-errors']] },
    {
      id: 'bench-errors',
      type: 'function',
      z: tab,
      func: "return { topic: 'bench/out/errors', payload: String(msg.error && (msg.error.code || msg.error.message)) };",
      outputs: 1,
      wires: [['mqtt-out']],
    },
  ];
}

/** Enrols the devices on the ledger the config node will open (same directory, name and key file). */
async function enrolDevices(userDir: string, devices: PrivateKey[], name = LEDGER): Promise<string> {
  const paths = ledgerPaths(userDir, name);
  fs.mkdirSync(path.dirname(paths.keyFile), { recursive: true });
  const gatewayKey = loadOrCreateKeyFile(paths.keyFile, () => generateKey('Ed25519'));
  const gw = await Gateway.open(paths.dir, { name, gatewayKey, blockRecords: 1000, blockSeconds: 60 });
  try {
    for (const [i, key] of devices.entries()) await gw.enrol({ did: keyToDid(key), name: `sensor-${i + 1}` });
    return gw.ledger.verifierKey;
  } finally {
    await gw.close();
  }
}

/** A second Node-RED with two Witness nodes (HTTP) that witness the bench ledger. */
async function startWitnesses(gatewayVkey: string): Promise<{ nr: NodeRedProcess; setup: WitnessSetup; dir: string }> {
  const dir = createUserDir(fs.mkdtempSync(path.join(os.tmpdir(), 'iot-ledger-bench-w-')));
  linkIntoUserDir(dir, projectRoot);
  const names = ['w1.bench', 'w2.bench'];
  const keys = names.map((n) => loadOrCreateKeyFile(path.join(dir, 'iot-ledger', 'keys', `${n}.witness.jwk`), () => generateKey('Ed25519')));
  const nr = await NodeRedProcess.start({ userDir: dir, logLevel: 'warn' });
  await nr.deployFlows([
    { id: 'wt', type: 'tab', label: 'witnesses' },
    ...names.map((n, i) => ({ id: `w${i}`, type: 'iot-ledger-witness', z: 'wt', keyName: n, logs: gatewayVkey, prefix: `/${n}`, wires: [[]] })),
  ]);
  const lines = names.map((n, i) => `${witnessVerifierKey(n, keys[i])} ${nr.url}/${n}`).join('\n');
  return { nr, setup: { lines, quorum: 2 }, dir };
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/** The bench side: publisher, results subscriber, device counters. */
class Bench {
  readonly counts: Record<Pipe, number> = { ledger: 0, plain: 0 };
  readonly errors: string[] = [];
  /** Probes observed per pipeline (they are recorded too). */
  readonly probes: Record<Pipe, number> = { ledger: 0, plain: 0 };
  #countWaiters: { pipe: Pipe; n: number; resolve: (t: number) => void }[] = [];
  #probeHandler?: (pipe: Pipe, latencyMs: number) => void;
  #onCount?: () => void;
  #counter = 0;

  constructor(
    readonly client: mqtt.MqttClient,
    readonly devices: PrivateKey[],
    readonly kids: string[],
  ) {
    client.on('message', (topic, payload) => {
      const t = performance.now();
      const [, , pipe, kind] = topic.split('/') as [string, string, Pipe, string];
      if (topic === 'bench/out/errors') this.errors.push(payload.toString());
      else if (kind === 'count') {
        this.counts[pipe] = Number(payload.toString());
        this.#onCount?.();
        this.#countWaiters = this.#countWaiters.filter((w) => {
          if (w.pipe !== pipe || this.counts[pipe] < w.n) return true;
          w.resolve(t);
          return false;
        });
      } else if (kind === 'probe') {
        this.probes[pipe]++;
        this.#probeHandler?.(pipe, t - sentAt(payload));
      }
    });
  }

  /** `n` envelopes, round robin over the devices, each with the next counter. */
  sign(n: number, extra: () => Record<string, number> = () => ({})): string[] {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const d = (this.#counter + i) % DEVICES;
      const counter = Math.floor((this.#counter + i) / DEVICES) + 1;
      out.push(signEnvelope({ temperature: -21 + ((i % 40) - 20) / 10, counter, ts: Date.now(), ...extra() }, this.devices[d], { kid: this.kids[d] }) as string);
    }
    this.#counter += n;
    return out;
  }

  untilCount(pipe: Pipe, n: number, timeoutMs: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${pipe}: ${this.counts[pipe]} of ${n} messages observed after ${timeoutMs} ms; errors: ${this.errors.slice(0, 5).join(', ')}`)), timeoutMs);
      this.#countWaiters.push({ pipe, n, resolve: (t) => (clearTimeout(timer), resolve(t)) });
    });
  }

  /**
   * Publishes as fast as the window of unacknowledged QoS 1 messages and the end-to-end bound
   * allow; resolves when all are sent.
   */
  async flood(pipe: Pipe, messages: string[]): Promise<void> {
    let next = 0;
    let inFlight = 0;
    const base = this.counts[pipe];
    await new Promise<void>((resolve, reject) => {
      const pump = (): void => {
        while (inFlight < WINDOW && next < messages.length && next - (this.counts[pipe] - base) < END_TO_END) {
          inFlight++;
          this.client.publish(`bench/${pipe}/load`, messages[next++], { qos: QOS }, (err) => {
            inFlight--;
            if (err) reject(err);
            else if (next < messages.length) pump();
            else if (inFlight === 0) resolve();
          });
        }
      };
      this.#onCount = pump;
      pump();
    });
    this.#onCount = undefined;
  }

  /** One throughput round: returns messages per second from first publish to the last one observed. */
  async round(pipe: Pipe, messages: string[]): Promise<number> {
    const target = this.counts[pipe] + messages.length;
    const start = performance.now();
    const done = this.untilCount(pipe, target, 60_000);
    await this.flood(pipe, messages);
    const end = await done;
    return (messages.length / (end - start)) * 1000;
  }

  /** Probes until one comes back (the subscriptions are live and the pipeline has started). */
  async ready(pipe: Pipe): Promise<void> {
    let seen = false;
    this.#probeHandler = () => (seen = true);
    for (let i = 0; i < 100 && !seen; i++) {
      this.client.publish(`bench/${pipe}/probe`, this.sign(1, () => ({ sent: performance.now() }))[0], { qos: QOS });
      await new Promise((r) => setTimeout(r, 100));
    }
    this.#probeHandler = undefined;
    if (!seen) throw new Error(`no probe came back through the ${pipe} pipeline`);
  }

  /** One message that is no envelope: the flow's Catch must report it (so that a run without errors means something). */
  async errorPathWorks(): Promise<void> {
    this.client.publish('bench/ledger/check', 'not an envelope', { qos: QOS });
    for (let i = 0; i < 50 && this.errors.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    if (this.errors.join() !== 'ERR_MALFORMED_ENVELOPE') throw new Error(`the flow reported ${JSON.stringify(this.errors)} for a malformed message`);
    this.errors.length = 0;
  }

  /** Publishes PACED_RATE probes a second for `seconds`; returns their latencies, sorted (ms). */
  async paced(pipe: Pipe, seconds: number): Promise<number[]> {
    const total = PACED_RATE * seconds;
    const latencies: number[] = [];
    let resolveAll!: () => void;
    const all = new Promise<void>((r) => (resolveAll = r));
    this.#probeHandler = (p, ms) => {
      if (p !== pipe) return;
      latencies.push(ms);
      if (latencies.length === total) resolveAll();
    };
    const start = performance.now();
    let sent = 0;
    await new Promise<void>((resolve) => {
      const tick = (): void => {
        const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * PACED_RATE) + 1);
        while (sent < due) {
          // Signed at the moment of publishing: the timestamp travels inside the signed payload.
          this.client.publish(`bench/${pipe}/probe`, this.sign(1, () => ({ sent: performance.now() }))[0], { qos: QOS });
          sent++;
        }
        if (sent < total) setTimeout(tick, 1);
        else resolve();
      };
      tick();
    });
    const timeout = new Promise<void>((r) => setTimeout(r, 10_000));
    await Promise.race([all, timeout]);
    this.#probeHandler = undefined;
    if (latencies.length < total) throw new Error(`${pipe}: ${latencies.length} of ${total} probes came back`);
    return latencies.sort((a, b) => a - b);
  }
}

/** The `sent` time inside a probe: a record's payload (JSON) or the raw JWS of the passthrough. */
function sentAt(payload: Buffer): number {
  const text = payload.toString();
  const json = text.startsWith('{') ? text : Buffer.from(text.split('.')[1], 'base64url').toString();
  return (JSON.parse(json) as { sent: number }).sent;
}

/** CPU time (user + system, all threads) a process has used so far, ms; Linux only. */
function cpuMs(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return NaN;
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * With `witnessed`, both pipelines are MQTT in -> Verify -> Record: `ledger` on a ledger whose
 * checkpoints two witnesses (a second Node-RED) cosign, `plain` on a ledger without witnesses.
 */
export async function benchNodeRed(witnessed = false): Promise<Figure[]> {
  const userDir = createUserDir(fs.mkdtempSync(path.join(os.tmpdir(), 'iot-ledger-bench-nr-')));
  const devices = Array.from({ length: DEVICES }, () => generateKey('Ed25519'));
  const kids = devices.map((d) => keyToDid(d));
  const broker =
    BROKER === 'mosquitto'
      ? await startMosquitto(10_000, { config: ['max_queued_messages 0', 'max_inflight_messages 0'] }).then((m) => ({ port: m.port, url: m.url, close: () => m.stop() }))
      : await startBroker({ port: 0 });
  let nr: NodeRedProcess | undefined;
  let witnesses: Awaited<ReturnType<typeof startWitnesses>> | undefined;
  let client: mqtt.MqttClient | undefined;
  try {
    const gatewayVkey = await enrolDevices(userDir, devices);
    if (witnessed) {
      await enrolDevices(userDir, devices, PLAIN_LEDGER);
      witnesses = await startWitnesses(gatewayVkey);
    }
    linkIntoUserDir(userDir, projectRoot);
    // BENCH_NR_NODE: another node binary (or a wrapper adding e.g. --cpu-prof) for the Node-RED process.
    const nodeBinary = process.env.BENCH_NR_NODE;
    nr = await NodeRedProcess.start({ userDir, logLevel: 'info', ...(nodeBinary ? { nodeBinary } : {}) });
    await nr.deployFlows(flows(broker.port, witnesses?.setup));
    await nr.waitForLine(/Connected to broker/, 20_000);
    client = await mqtt.connectAsync(broker.url, { clientId: 'bench', reconnectPeriod: 0 }, false);
    await client.subscribeAsync('bench/out/#', { qos: 0 });
    const bench = new Bench(client, devices, kids);
    for (const pipe of PIPES) await bench.ready(pipe);
    await bench.errorPathWorks();

    // Warm-up: the same envelopes through both pipelines.
    const warm = bench.sign(WARMUP - (WARMUP % TALLY));
    for (const pipe of PIPES) await bench.round(pipe, warm);

    // Latency at a paced rate (before the floods, whose LevelDB compactions would still run), the
    // envelope signed with its publish time inside.
    const lat: Record<Pipe, number[]> = { ledger: [], plain: [] };
    for (const pipe of PIPES) lat[pipe] = await bench.paced(pipe, PACED_SECONDS);

    // Throughput: the same envelopes through both pipelines, alternating.
    const rates: Record<Pipe, number[]> = { ledger: [], plain: [] };
    // Node-RED's CPU time per message (both threads): what the machine's load changes least.
    const cpu: Record<Pipe, number[]> = { ledger: [], plain: [] };
    for (let r = 0; r < ROUNDS; r++) {
      const messages = bench.sign(ROUND);
      for (const pipe of r % 2 ? [...PIPES].reverse() : PIPES) {
        const before = cpuMs(nr.pid);
        rates[pipe].push(await bench.round(pipe, messages));
        cpu[pipe].push(((cpuMs(nr.pid) - before) * 1000) / messages.length);
      }
    }

    if (bench.errors.length) throw new Error(`errors in the flow: ${bench.errors.slice(0, 5).join(', ')}`);

    const exit = await nr.stop();
    nr = undefined;
    if (exit.code !== 0) throw new Error(`Node-RED exited with ${JSON.stringify(exit)}`);
    const ledger = await Ledger.open(ledgerPaths(userDir, LEDGER).dir, { readOnly: true });
    const size = ledger.size;
    let cosignedBlocks = 0;
    for await (const entry of cosignedNewestFirst(ledger.database)) if (entry) cosignedBlocks++;
    const blocks = ledger.height;
    await ledger.close();
    if (witnessed) {
      console.log(`\nwitnessed ledger: ${blocks} blocks, ${cosignedBlocks} with cosignatures stored (only the newest block is sent, so a block sealed while the previous exchange runs may have none)`);
      if (cosignedBlocks === 0) throw new Error('no block was cosigned: the witnesses did not work');
    }
    const expected = DEVICES + 1 + bench.counts.ledger + bench.probes.ledger; // + the security event of the malformed message
    if (size !== expected) throw new Error(`the ledger holds ${size} records, expected ${expected}: every observed message recorded once`);
    const figures: Figure[] = witnessed
      ? [
          {
            name: `MQTT in -> Verify -> Record with two witnesses (quorum 2, HTTP, another Node-RED), ${ROUND.toLocaleString('en-US')} msgs x ${ROUNDS} rounds, median (baseline: the same pipeline on a ledger without witnesses, same runtime, same messages)`,
            ours: median(rates.ledger),
            baseline: median(rates.plain),
            unit: 'msg/s',
            target: '>= 0.95',
          },
        ]
      : [
      {
        name: `MQTT in -> Verify -> Record, ${DEVICES} Ed25519 devices, JWS, QoS ${QOS}, ${BROKER}, ${ROUND.toLocaleString('en-US')} msgs x ${ROUNDS} rounds, median (baseline: MQTT in -> function passthrough, same runtime, same messages)`,
        ours: median(rates.ledger),
        baseline: median(rates.plain),
        unit: 'msg/s',
        target: '>= 0.5',
      },
      {
        name: 'CPU time of the Node-RED process (both threads) per message in those rounds, median (lower is better)',
        ours: median(cpu.ledger),
        baseline: median(cpu.plain),
        unit: 'us',
        target: 'informative',
      },
      {
        name: `end-to-end latency p50 at ${PACED_RATE.toLocaleString('en-US')} msg/s paced, ${PACED_SECONDS} s, publish to observer's MQTT out back at the bench (baseline: passthrough)`,
        ours: percentile(lat.ledger, 50),
        baseline: percentile(lat.plain, 50),
        unit: 'ms',
        target: 'informative',
      },
      {
        name: 'same, p99',
        ours: percentile(lat.ledger, 99),
        baseline: percentile(lat.plain, 99),
        unit: 'ms',
        target: '<= 1.2',
      },
    ];
    printFigures(witnessed ? '## Node-RED with witnesses' : '## Node-RED', figures);
    const fmt = (xs: number[]) => xs.map((x) => Math.round(x).toLocaleString('en-US')).join(', ');
    console.log(`\nrounds (msg/s): ledger ${fmt(rates.ledger)}; plain ${fmt(rates.plain)}`);
    console.log(`CPU per message (us): ledger ${fmt(cpu.ledger)}; plain ${fmt(cpu.plain)}`);
    console.log(`ledger after the run: ${size.toLocaleString('en-US')} records = ${DEVICES} enrolments + 1 security event + ${bench.counts.ledger.toLocaleString('en-US')} load + ${bench.probes.ledger.toLocaleString('en-US')} probes; no other errors`);
    return figures;
  } catch (err) {
    if (nr) console.error(`--- Node-RED output (last lines) ---\n${nr.lines.slice(-30).map((l) => l.text).join('\n')}`);
    throw err;
  } finally {
    await client?.endAsync(true).catch(() => undefined);
    await nr?.kill();
    await witnesses?.nr.kill();
    if (witnesses) fs.rmSync(witnesses.dir, { recursive: true, force: true });
    await broker.close();
    fs.rmSync(userDir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  benchNodeRed().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
