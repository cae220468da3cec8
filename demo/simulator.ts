import * as fs from 'node:fs';
import * as path from 'node:path';
import * as mqtt from 'mqtt';
import { ColdRoomModel, type ColdRoomModelOptions, type Phase } from './cold-room-model';

/** What a simulated sensor measures, in this key order. */
export interface Reading {
  temperature: number;
  door: 'open' | 'closed';
  /** Strictly increasing per sensor, also across restarts when a state file is given. */
  counter: number;
  /** Milliseconds since the epoch. */
  time: number;
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
      const publishOne = (): void => {
        const now = clock();
        const { temperature, door, phase } = model.sample(now);
        const counter = (counters[sensor] ?? 0) + 1;
        counters[sensor] = counter;
        // The counter is saved before it is used, so a crash never reuses one.
        writeCounters(opts.stateFile, counters);
        const reading: Reading = { temperature, door, counter, time: now };
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
