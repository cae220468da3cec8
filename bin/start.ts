#!/usr/bin/env node
/**
 * `npm start`: a cold-room demo on this machine. Starts an MQTT broker, a real
 * Node-RED (user dir .node-red/ in the project, this package linked into it)
 * and simulated sensors. Ctrl-C stops all three.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { startBroker, type RunningBroker } from '../lib/runtime/broker';
import { NodeRedProcess } from '../lib/runtime/nodered-process';
import { createUserDir, linkIntoUserDir, readFlowFile, seedFlows } from '../lib/runtime/nodered-userdir';
import { assertPortFree, ListenError } from '../lib/runtime/ports';
import { readingTopic, startSimulator, type Simulator } from '../lib/runtime/simulator';
import type { Phase } from '../lib/runtime/cold-room-model';

const projectRoot = path.resolve(__dirname, '..', '..');
const exampleFlow = path.join(projectRoot, 'examples', 'cold-room.json');

const usage = `usage: npm start -- [options]

  --host HOST          editor host (env HOST, default 127.0.0.1)
  --port PORT          editor port (env PORT, default 1880)
  --mqtt-host HOST     MQTT broker host (env MQTT_HOST, default 127.0.0.1)
  --mqtt-port PORT     MQTT broker port (env MQTT_PORT, default 1883)
  --user-dir DIR       Node-RED user directory (env NODE_RED_USER_DIR, default .node-red in the project)
  --sensors A,B        simulated sensor names (env SENSORS, default sensor-1,sensor-2)
  -h, --help           this text
`;

interface Config {
  host: string;
  port: number;
  mqttHost: string;
  mqttPort: number;
  userDir: string;
  sensors: string[];
}

class UsageError extends Error {}

function readConfig(argv: string[], env: NodeJS.ProcessEnv): Config | undefined {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        'mqtt-host': { type: 'string' },
        'mqtt-port': { type: 'string' },
        'user-dir': { type: 'string' },
        sensors: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  if (values.help) return undefined;
  return {
    host: values.host ?? env.HOST ?? '127.0.0.1',
    port: portNumber(values.port ?? env.PORT ?? '1880', values.port ? '--port' : 'PORT'),
    mqttHost: values['mqtt-host'] ?? env.MQTT_HOST ?? '127.0.0.1',
    mqttPort: portNumber(values['mqtt-port'] ?? env.MQTT_PORT ?? '1883', values['mqtt-port'] ? '--mqtt-port' : 'MQTT_PORT'),
    userDir: path.resolve(values['user-dir'] ?? env.NODE_RED_USER_DIR ?? path.join(projectRoot, '.node-red')),
    sensors: (values.sensors ?? env.SENSORS ?? 'sensor-1,sensor-2')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0),
  };
}

function portNumber(text: string, name: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 65535) throw new UsageError(`${name} must be a port number from 1 to 65535, not ${JSON.stringify(text)}`);
  return n;
}

const log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

function seedOrResume(userDir: string): string {
  if (fs.existsSync(exampleFlow)) {
    return seedFlows(userDir, readFlowFile(exampleFlow))
      ? 'first start: deployed examples/cold-room.json'
      : 'resuming the flows (and ledger) already in the user directory';
  }
  return seedFlows(userDir, [])
    ? 'first start: no examples/cold-room.json yet, starting with an empty flow'
    : 'resuming the flows (and ledger) already in the user directory';
}

function phaseNote(sensor: string, phase: Phase, temperature: number): string {
  switch (phase) {
    case 'excursion':
      return `[sim] ${sensor}: excursion, ${temperature} °C: above -20 °C for about 40 s`;
    case 'door-open':
      return `[sim] ${sensor}: door open, ${temperature} °C`;
    case 'normal':
      return `[sim] ${sensor}: back to normal, door closed, ${temperature} °C`;
  }
}

function banner(cfg: Config, nr: NodeRedProcess, broker: RunningBroker, how: string): string {
  const rel = path.relative(process.cwd(), cfg.userDir);
  const shown = rel === '' ? '.' : rel.startsWith('..') || path.isAbsolute(rel) ? cfg.userDir : rel;
  const [first, second] = cfg.sensors;
  return `
  Node-RED ${nr.nodeRedVersion} editor:  ${nr.url}/
  MQTT broker (Aedes):      ${broker.url}
  Simulated sensors:        ${cfg.sensors.join(', ')}, one reading every 2 s on ${readingTopic('<sensor>')}
  User directory:           ${shown}  (${how}; delete it to start over)

  What to look at:
  - ${first ?? 'each sensor'} opens its door about 20 s after start (a few seconds, no breach) and
    warms above -20 °C about 60 s after start, for about 40 s (an excursion)${second ? `;\n    ${second} does the same 30 s later` : ''}. Later events come every 4 to 8 minutes.
  - In the editor: the debug sidebar and the node status show readings as they are recorded,
    and the cold-room contract's verdicts during an excursion.
  - Payloads are plain JSON for now ({"temperature", "door", "counter", "time"}).
  - Ctrl-C stops the sensors, Node-RED and the broker; the next start resumes the same flows and ledger.
`;
}

async function main(): Promise<number> {
  let cfg: Config | undefined;
  try {
    cfg = readConfig(process.argv.slice(2), process.env);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`start: ${err.message}\n\n${usage}`);
      return 2;
    }
    throw err;
  }
  if (!cfg) {
    process.stdout.write(usage);
    return 0;
  }

  // Check the editor port before starting anything, so the error is clear and nothing is left running.
  await assertPortFree(cfg.host, cfg.port, 'set PORT or --port');
  const broker = await startBroker({ host: cfg.mqttHost, port: cfg.mqttPort });
  let nr: NodeRedProcess | undefined;
  let sim: Simulator | undefined;
  let stopping = false;

  const shutdown = async (why: string): Promise<void> => {
    stopping = true;
    log(`\n${why}: stopping the sensors, Node-RED and the broker...`);
    await sim?.stop();
    const exit = await nr?.stop(15_000);
    await broker.close();
    if (exit && exit.code !== 0) log(`Node-RED exited with code ${exit.code}${exit.signal ? ` (${exit.signal})` : ''}`);
    log('stopped.');
  };

  try {
    createUserDir(cfg.userDir);
    linkIntoUserDir(cfg.userDir, projectRoot);
    const how = seedOrResume(cfg.userDir);
    nr = await NodeRedProcess.start({
      userDir: cfg.userDir,
      host: cfg.host,
      port: cfg.port,
      // Flows can use ${MQTT_HOST} / ${MQTT_PORT} in their broker config node.
      env: { MQTT_HOST: broker.host, MQTT_PORT: String(broker.port) },
      onLine: (line) => log(line),
      keepLines: 200,
    });
    const last = new Map<string, Phase>();
    sim = await startSimulator({
      brokerUrl: broker.url,
      sensors: cfg.sensors,
      stateFile: path.join(cfg.userDir, 'simulator-state.json'),
      onReading: (sensor, reading, phase) => {
        if (last.get(sensor) !== phase && (last.has(sensor) || phase !== 'normal')) log(phaseNote(sensor, phase, reading.temperature));
        last.set(sensor, phase);
      },
      onError: (err, sensor) => log(`[sim] ${sensor}: ${err.message}`),
    });
    log(banner(cfg, nr, broker, how));
  } catch (err) {
    await sim?.stop();
    await nr?.kill();
    await broker.close();
    throw err;
  }

  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals): void => {
      signals += 1;
      if (signals > 1) {
        log('second signal: killing Node-RED now');
        void nr?.kill().then(() => resolve(130));
        return;
      }
      shutdown(sig).then(
        () => resolve(0),
        (err: unknown) => {
          process.stderr.write(`start: shutdown failed: ${err instanceof Error ? err.message : String(err)}\n`);
          resolve(1);
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    void nr?.exited.then(async (exit) => {
      if (stopping) return;
      log(`Node-RED exited unexpectedly (code ${exit.code}, signal ${exit.signal}); stopping.`);
      await sim?.stop();
      await broker.close();
      resolve(1);
    });
  });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ListenError) process.stderr.write(`start: ${err.message}\n`);
    else process.stderr.write(`start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
