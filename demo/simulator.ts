import * as fs from 'node:fs';
import * as path from 'node:path';
import * as mqtt from 'mqtt';
import { firmwareTopic } from '../lib/firmware/offer';
import type { PrivateKey } from '../lib/crypto/keys';
import { ColdRoomModel, type ColdRoomModelOptions, type Phase } from './cold-room-model';
import { firmwareReportTopic, SensorContracts, SensorFirmware, type InstalledFirmware, type OfferOutcome, type PulledContract } from './sensor-pull';

/** What a simulated sensor measures, in this key order. */
export interface Reading {
  temperature: number;
  door: 'open' | 'closed';
  /** Strictly increasing per sensor, also across restarts when a state file is given. */
  counter: number;
  /** Milliseconds since the epoch. */
  time: number;
  /** Terms hash of the contract the sensor pulled and verified, once it has (see SimulatorOptions.pull). */
  contract?: string;
}

/** Turns a reading into the MQTT payload, e.g. a JWS or COSE_Sign1 made with the sensor's key. */
export type Sign = (reading: Reading, sensor: string) => string | Uint8Array;

/** The default: the reading as plain JSON, unsigned. */
export const plainJson: Sign = (reading) => JSON.stringify(reading);

export interface SimulatorOptions {
  /** e.g. mqtt://127.0.0.1:1883 */
  brokerUrl: string;
  /** The broker's login, when it wants one. */
  username?: string;
  password?: string;
  /** Default ['sensor-1', 'sensor-2']. */
  sensors?: readonly string[];
  /** Default 2000 ms per sensor. */
  intervalMs?: number;
  /** Default `coldroom/<sensor>/reading`. */
  topic?: (sensor: string) => string;
  sign?: Sign;
  /** Per-sensor model settings; by default each later sensor's first events come 30 s after the previous one's. */
  model?: (sensor: string, index: number) => ColdRoomModelOptions;
  /** JSON file keeping the last counter per sensor, so counters keep increasing after a restart. */
  stateFile?: string;
  clock?: () => number;
  /** Called after each publish was handed to the client. */
  onReading?: (sensor: string, reading: Reading, phase: Phase) => void;
  onError?: (err: Error, sensor: string) => void;
  /** Sensors that pull what the ledger approved: contract documents and firmware offers. */
  pull?: PullOptions;
}

export interface PullOptions {
  /** The gateway's did:key: every document and offer must be proven under checkpoints it signed. */
  gatewayKey: string;
  /** Each pulling sensor's identity; sensors not listed pull nothing. */
  devices: ReadonlyMap<string, { did: string; key: PrivateKey }>;
  vendorKeys: readonly string[];
  /** What a sensor runs before it installed anything (its factory firmware). */
  factory: InstalledFirmware;
  /** Image bytes by hex SHA-256 (the vendor's download server). */
  images: ReadonlyMap<string, Uint8Array>;
  /** JSON file keeping what each sensor has installed, across restarts. */
  stateFile?: string;
  onContract?: (sensor: string, result: PulledContract | Error) => void;
  onFirmware?: (sensor: string, outcome: OfferOutcome) => void;
}

export interface Simulator {
  readonly sensors: readonly string[];
  /** Last counter used per sensor. */
  counters(): Record<string, number>;
  /** Stops the timers and disconnects every sensor. Safe to call twice. */
  stop(): Promise<void>;
}

export const readingTopic = (sensor: string): string => `coldroom/${sensor}/reading`;

/** Starts one MQTT client per sensor, each publishing a reading every interval (QoS 1). */
export async function startSimulator(opts: SimulatorOptions): Promise<Simulator> {
  const sensors = [...(opts.sensors ?? ['sensor-1', 'sensor-2'])];
  for (const s of sensors) {
    if (!/^[A-Za-z0-9._-]+$/.test(s)) throw new RangeError(`sensor name ${JSON.stringify(s)} must be letters, digits, ".", "_" or "-"`);
  }
  const intervalMs = opts.intervalMs ?? 2000;
  const topic = opts.topic ?? readingTopic;
  const sign = opts.sign ?? plainJson;
  const clock = opts.clock ?? Date.now;
  const counters = readCounters(opts.stateFile);
  const installed = readInstalled(opts.pull?.stateFile);
  const nextCounter = (sensor: string) => (): number => {
    const counter = (counters[sensor] ?? 0) + 1;
    counters[sensor] = counter;
    // The counter is saved before it is used, so a crash never reuses one.
    writeCounters(opts.stateFile, counters);
    return counter;
  };
  const timers: NodeJS.Timeout[] = [];
  const clients: mqtt.MqttClient[] = [];
  const started = clock();
  const report = (err: Error, sensor: string): void => {
    if (opts.onError) opts.onError(err, sensor);
    else process.stderr.write(`simulator ${sensor}: ${err.message}\n`);
  };

  const stop = async (): Promise<void> => {
    for (const t of timers) clearTimeout(t);
    timers.length = 0;
    await Promise.all(clients.splice(0).map((c) => c.endAsync()));
  };

  try {
    for (const [i, sensor] of sensors.entries()) {
      // No retries for the first connection (fail fast); reconnect after later drops.
      const client = await mqtt.connectAsync(
        opts.brokerUrl,
        {
          clientId: `sim-${sensor}`,
          reconnectPeriod: 1000,
          connectTimeout: 5000,
          ...(opts.username ? { username: opts.username } : {}),
          ...(opts.password ? { password: opts.password } : {}),
        },
        false,
      );
      clients.push(client);
      client.on('error', (err) => report(err, sensor));
      const model = new ColdRoomModel(started, opts.model?.(sensor, i) ?? defaultModel(i));
      const tick = (): void => {
        try {
          publishOne();
        } catch (err) {
          report(err instanceof Error ? err : new Error(String(err)), sensor);
        }
      };
      const counter = nextCounter(sensor);
      const pulled = opts.pull ? await startPulling(client, sensor, opts.pull, installed, counter, clock, report) : undefined;
      const publishOne = (): void => {
        const now = clock();
        const { temperature, door, phase } = model.sample(now);
        const reading: Reading = { temperature, door, counter: counter(), time: now };
        const terms = pulled?.contract();
        if (terms) reading.contract = terms;
        const payload = sign(reading, sensor);
        client.publish(topic(sensor), typeof payload === 'string' ? payload : Buffer.from(payload), { qos: 1 }, (err) => {
          if (err) report(err, sensor);
        });
        opts.onReading?.(sensor, reading, phase);
      };
      // Spread the sensors over the interval instead of publishing all at once.
      const offset = Math.floor((intervalMs * i) / sensors.length);
      timers.push(
        setTimeout(() => {
          tick();
          timers.push(setInterval(tick, intervalMs));
        }, offset),
      );
    }
  } catch (err) {
    await stop();
    throw new Error(`simulator could not connect to ${opts.brokerUrl}: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }

  let stopping: Promise<void> | undefined;
  return {
    sensors,
    counters: () => ({ ...counters }),
    stop: () => (stopping ??= stop()),
  };
}

interface Pulling {
  /** Terms hash of the active contract this sensor is a subject of, once verified. */
  contract(): string | undefined;
}

/** Subscribes a sensor to its contract documents and firmware offers, and answers offers with signed reports. */
async function startPulling(
  client: mqtt.MqttClient,
  sensor: string,
  pull: PullOptions,
  installed: Record<string, InstalledFirmware>,
  counter: () => number,
  clock: () => number,
  report: (err: Error, sensor: string) => void,
): Promise<Pulling | undefined> {
  const me = pull.devices.get(sensor);
  if (!me) return undefined;
  const firstStart = installed[sensor] === undefined;
  const fw = new SensorFirmware({
    did: me.did,
    key: me.key,
    gatewayKey: pull.gatewayKey,
    vendorKeys: pull.vendorKeys,
    installed: installed[sensor] ?? pull.factory,
    images: pull.images,
  });
  const offers = firmwareTopic(me.did);
  const contracts = new SensorContracts(pull.gatewayKey, me.did);
  const send = (envelope: string | Uint8Array): void => {
    client.publish(firmwareReportTopic(me.did), typeof envelope === 'string' ? envelope : Buffer.from(envelope), { qos: 1 }, (err) => {
      if (err) report(err, sensor);
    });
  };
  client.on('message', (topic, payload) => {
    try {
      if (topic === offers) {
        const outcome = fw.offer(payload, counter, clock());
        if (outcome.kind === 'installed') {
          installed[sensor] = outcome.to;
          writeInstalled(pull.stateFile, installed);
        }
        if (outcome.kind === 'installed' || outcome.kind === 'refused') send(outcome.report);
        pull.onFirmware?.(sensor, outcome);
      } else if (topic.startsWith('iot-ledger/contract/')) {
        if (payload.length === 0) return; // a cleared retained document
        try {
          pull.onContract?.(sensor, contracts.pull(payload));
        } catch (err) {
          pull.onContract?.(sensor, err instanceof Error ? err : new Error(String(err)));
        }
      }
    } catch (err) {
      report(err instanceof Error ? err : new Error(String(err)), sensor);
    }
  });
  await client.subscribeAsync({ 'iot-ledger/contract/+': { qos: 1 }, [offers]: { qos: 1 } });
  if (firstStart) {
    // A new sensor tells the ledger what it runs, once.
    installed[sensor] = fw.installed;
    writeInstalled(pull.stateFile, installed);
    send(fw.report(counter(), clock()));
  }
  return { contract: () => contracts.contract() };
}

function readInstalled(file: string | undefined): Record<string, InstalledFirmware> {
  if (!file || !fs.existsSync(file)) return {};
  try {
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, InstalledFirmware>;
    return parsed && typeof parsed === 'object' ? parsed : {};
  } catch (err) {
    throw new Error(`simulator firmware state ${file} is not valid JSON (delete it to start from the factory firmware)`, { cause: err });
  }
}

function writeInstalled(file: string | undefined, installed: Record<string, InstalledFirmware>): void {
  if (!file) return;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(installed));
  fs.renameSync(`${file}.tmp`, file);
}

function defaultModel(index: number): ColdRoomModelOptions {
  return { firstDoorOpenAfterMs: 20_000 + 30_000 * index, firstExcursionAfterMs: 60_000 + 30_000 * index };
}

function readCounters(file: string | undefined): Record<string, number> {
  if (!file || !fs.existsSync(file)) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`simulator state ${file} is not valid JSON (delete it to start counters again at 1)`, { cause: err });
  }
  const out: Record<string, number> = {};
  if (parsed && typeof parsed === 'object') {
    for (const [k, v] of Object.entries(parsed)) if (Number.isSafeInteger(v)) out[k] = v as number;
  }
  return out;
}

function writeCounters(file: string | undefined, counters: Record<string, number>): void {
  if (!file) return;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(counters));
  fs.renameSync(tmp, file);
}
