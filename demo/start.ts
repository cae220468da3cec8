#!/usr/bin/env node
/**
 * `npm start`: a cold-room demo on this machine. Starts an MQTT broker (or uses
 * the user's own, --broker), a real Node-RED (user dir .node-red/ in the project,
 * this package linked into it) and simulated sensors that sign their readings.
 * Ctrl-C stops what it started.
 *
 * First start: makes the sensors' and the contract parties' keys (0600 JWK files
 * under <user dir>/iot-ledger/), deploys examples/cold-room.json with those
 * did:keys in its contract, and prepares the ledger before Node-RED opens it:
 * sensors enrolled, contract registered and signed by both parties. Later starts
 * find all of that in place and change nothing. The first start also adds a second tab
 * with a Witness node that cosigns the ledger's checkpoints (demo/witness).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as mqtt from 'mqtt';
import { startBroker } from './broker';
import { brokerFromEnvironment, brokersFromEnvironment, ledgersInUse, personaliseContracts } from './flow';
import { loadOrCreateDemoKeys, type DemoIdentity, type DemoKeys } from './keys';
import { prepareFlowLedgers, type PreparedLedger } from './ledger';
import { NodeRedProcess } from './nodered/process';
import { setNodeCredentials } from './nodered/credentials';
import { CREDENTIAL_SECRET_FILE, FLOWS_SIGNAL, FLOWS_STARTED_SIGNAL, GENERATED_MARKER, ensureCredentialSecret } from './nodered/settings';
import { createUserDir, linkIntoUserDir, readFlowFile, seedFlows } from './nodered/userdir';
import { assertPortFree, ListenError } from './ports';
import { signReadingsWith } from './reading-signer';
import { readingTopic, startSimulator, type Simulator } from './simulator';
import type { Phase } from './cold-room-model';
// The ledger directory and gateway key file exactly as the Ledger config node computes them.
import { ledgerPaths } from '../lib/gateway/paths';
import { addDemoWitness, DEMO_WITNESS } from './witness';
import type { FlowNode } from './flow';
import {
  addDemoFirmwareTab,
  demoImages,
  demoManifest,
  DEMO_FIRMWARE_TAB,
  DEMO_RELEASE_INJECT,
  factoryFirmware,
  loadOrCreateVendorKey,
  prepareDemoFirmware,
  UPDATE,
} from './demo-firmware';
import { AdminClient } from './nodered/admin-client';
import { keyToDid } from '../lib/crypto/didkey';
import type { PulledContract } from './sensor-pull';
import { firmwareNotes } from './firmware-notes';

const projectRoot = path.resolve(__dirname, '..', '..');
const exampleFlow = path.join(projectRoot, 'examples', 'cold-room.json');

// The same text `npm start -- --help` prints before building (scripts/start.js).
const usage = fs.readFileSync(path.join(projectRoot, 'demo', 'start-usage.txt'), 'utf8');

/** A broker the user already runs (--broker / MQTT_URL), used instead of the built-in Aedes. */
interface ExternalBroker {
  url: string;
  host: string;
  port: number;
  username?: string;
  password?: string;
}

interface Config {
  host: string;
  port: number;
  mqttHost: string;
  mqttPort: number;
  broker?: ExternalBroker;
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
        broker: { type: 'string' },
        'broker-user': { type: 'string' },
        'broker-password': { type: 'string' },
        'user-dir': { type: 'string' },
        sensors: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  if (values.help) return undefined;
  const cfg = {
    host: values.host ?? env.HOST ?? '127.0.0.1',
    port: portNumber(values.port ?? env.PORT ?? '1880', values.port ? '--port' : 'PORT'),
    mqttHost: values['mqtt-host'] ?? env.MQTT_HOST ?? '127.0.0.1',
    mqttPort: portNumber(values['mqtt-port'] ?? env.MQTT_PORT ?? '1883', values['mqtt-port'] ? '--mqtt-port' : 'MQTT_PORT'),
    broker: externalBroker(
      values.broker ?? env.MQTT_URL,
      values['broker-user'] ?? env.MQTT_USER,
      values['broker-password'] ?? env.MQTT_PASSWORD,
      values.broker ? '--broker' : 'MQTT_URL',
      values['broker-user'] !== undefined || values['broker-password'] !== undefined,
    ),
    userDir: path.resolve(values['user-dir'] ?? env.NODE_RED_USER_DIR ?? path.join(projectRoot, '.node-red')),
    sensors: (values.sensors ?? env.SENSORS ?? 'sensor-1,sensor-2')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0),
  };
  if (cfg.sensors.length === 0) throw new UsageError('give at least one sensor name (--sensors or SENSORS)');
  for (const s of cfg.sensors) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(s)) throw new UsageError(`sensor name ${JSON.stringify(s)} must be letters, digits, ".", "_" or "-"`);
  }
  return cfg;
}

function externalBroker(
  url: string | undefined,
  username: string | undefined,
  password: string | undefined,
  name: string,
  loginOnCommandLine: boolean,
): ExternalBroker | undefined {
  if (url === undefined || url.trim() === '') {
    if (loginOnCommandLine) throw new UsageError('a broker user name or password needs --broker (or MQTT_URL): the built-in broker has no login');
    return undefined;
  }
  let u: URL;
  try {
    u = new URL(url.trim());
  } catch {
    throw new UsageError(`${name} must be a URL like mqtt://localhost:1883, not ${JSON.stringify(url)}`);
  }
  if (u.protocol !== 'mqtt:' || !u.hostname || (u.pathname !== '' && u.pathname !== '/') || u.search || u.hash) {
    throw new UsageError(`${name} must be mqtt://HOST[:PORT] (plain MQTT; for TLS set up the broker node in the editor), not ${JSON.stringify(url)}`);
  }
  if (u.username || u.password) throw new UsageError(`give the broker's user name and password with --broker-user / MQTT_USER and MQTT_PASSWORD, not in ${name}`);
  if (password && !username) throw new UsageError('a broker password needs a user name (--broker-user or MQTT_USER)');
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  const port = u.port ? Number(u.port) : 1883;
  return {
    url: `mqtt://${u.hostname}:${port}`,
    host,
    port,
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
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

interface Deployment {
  flows: unknown[];
  /** What the banner says about the flows. */
  how: string;
  first: boolean;
}

/**
 * The flows Node-RED will run: on a first start the cold-room example with this
 * installation's did:keys put into its contract (parties: operator, customer; subject:
 * the first sensor); later, whatever the user directory holds, untouched.
 */
function flowsToRun(userDir: string, keys: DemoKeys): Deployment {
  const flowFile = path.join(userDir, 'flows.json');
  if (fs.existsSync(flowFile)) {
    return { flows: readFlowFile(flowFile), how: 'resuming the flows (and ledger) already in the user directory', first: false };
  }
  if (!fs.existsSync(exampleFlow)) {
    return { flows: [], how: 'first start: no examples/cold-room.json yet, starting with an empty flow', first: true };
  }
  const flows = personaliseContracts(brokerFromEnvironment(readFlowFile(exampleFlow)), {
    parties: keys.parties.map((p) => p.did),
    subjects: [keys.sensors[0].did],
  });
  return { flows, how: "first start: deployed examples/cold-room.json with this installation's did:keys", first: true };
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

const RELEASE_AFTER_MS = 10_000;

function firmwareLine(first: string): string {
  return `  Firmware:                 tab "Firmware (demo)": ${first} pulls an approved update (about 10 s after a first start, or click ①),\n${''.padEnd(28)}refuses replayed approvals (click ② and ③); reports go to the ledger\n`;
}

/** One line per contract document a sensor verified (or refused), only when it changes. */
function contractNote(): (sensor: string, r: PulledContract | Error) => void {
  const last = new Map<string, string>();
  return (sensor, r) => {
    const line =
      r instanceof Error
        ? `[sim] ${sensor}: REFUSED a contract document: ${r.message}`
        : `[sim] ${sensor}: pulled contract ${r.id} v${r.version}: terms, ${r.signed}/${r.parties} party signatures and inclusion proof verified with the gateway key` +
          (r.subject && r.active ? `; operating under it (readings carry terms hash ${r.termsHash.slice(0, 12)}…)` : r.subject ? '; not active yet' : '; not a subject of it');
    if (last.get(sensor) === line) return;
    last.set(sensor, line);
    log(line);
  };
}

/** A path as the person at the terminal would type it. */
function shown(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel === '' ? '.' : rel.startsWith('..') || path.isAbsolute(rel) ? p : rel;
}

const algName = (id: DemoIdentity): string => (id.alg === 'ES256' ? 'P-256' : id.alg);

function ledgerLines(ledgers: Array<PreparedLedger & { verifies: boolean }>, keys: DemoKeys): string {
  if (ledgers.length === 0) return '  Ledger:                   none yet: no Verify or Contract node in the flows';
  const partyName = new Map(keys.parties.map((p) => [p.did, p.name]));
  return ledgers
    .map((l) => {
      const lines = [`  Ledger ${l.name}:`.padEnd(28) + `${shown(l.dir)}  (${l.size} records, ${l.activeDevices} devices enrolled)`];
      for (const c of l.contracts) {
        const missing = c.missingParties.map((d) => partyName.get(d) ?? d);
        const state = c.active ? 'active, signed by every party' : `awaiting signatures from ${missing.join(', ')}`;
        lines.push(`${''.padEnd(28)}contract ${c.id} v${c.version}: ${state}`);
      }
      for (const c of l.skipped) lines.push(`${''.padEnd(28)}contract ${c.id ?? '?'}: not registered, ${c.code}: ${c.message}`);
      return lines.join('\n');
    })
    .join('\n');
}

function keyLines(cfg: Config, keys: DemoKeys, ledgers: PreparedLedger[]): string {
  const row = (label: string, id: DemoIdentity): string => `    ${label.padEnd(9)}${shown(id.file)}  ${algName(id)}  ${id.did}`;
  const lines = [
    '  Keys (private JWK files, mode 0600; only their did:keys appear in flows, logs and messages):',
    ...keys.sensors.map((s, i) => row(i === 0 ? 'sensors' : '', s)),
    ...keys.parties.map((p, i) => row(i === 0 ? 'parties' : '', p)),
    ...ledgers.map(
      (l, i) => `    ${(i === 0 ? 'gateway' : '').padEnd(9)}${shown(ledgerPaths(cfg.userDir, l.name).keyFile)}  ${l.gatewayDid}  signs the checkpoints of ${l.name} (--key for audit, verify-proof)`,
    ),
  ];
  return lines.join('\n');
}

function banner(
  cfg: Config,
  nr: NodeRedProcess,
  broker: { url: string; external: boolean },
  how: string,
  keys: DemoKeys,
  ledgers: Array<PreparedLedger & { verifies: boolean }>,
  witnessLine = '',
  firmwareLine = '',
): string {
  const [first, second] = cfg.sensors;
  const contract = ledgers.flatMap((l) => l.contracts).find((c) => c.active);
  const sensorName = new Map(keys.sensors.map((s) => [s.did, s.name]));
  const judged =
    contract === undefined ? [] : contract.subjects === 'any' ? cfg.sensors : contract.subjects.map((d) => sensorName.get(d)).filter((n) => n !== undefined);
  const audited = ledgers.find((l) => l.verifies) ?? ledgers[0];
  const sensors = keys.sensors.map((s) => `${s.name} (${algName(s)})`).join(', ');
  return `
  Node-RED ${nr.nodeRedVersion} editor:  ${nr.url}/
  ${broker.external ? 'MQTT broker (yours):     ' : 'MQTT broker (Aedes):     '} ${broker.url}
  Simulated sensors:        ${sensors}: a signed reading (JWS, kid = its did:key) every 2 s on ${readingTopic('<sensor>')}
${ledgerLines(ledgers, keys)}
${witnessLine}${firmwareLine}${keyLines(cfg, keys, ledgers)}
  User directory:           ${shown(cfg.userDir)}  (${how}; delete it to start over)

  What to look at:
  - The node statuses: Verify counts verified (and rejected) readings; ${
    contract
      ? `Contract shows "compliant", "EXCURSION" or "VIOLATED"\n    for ${judged.length ? judged.join(', ') : 'its subjects'} (contract ${contract.id}, signed by operator and customer)`
      : 'Contract waits for its parties\' signatures'
  }; Record shows blocks, records and "cosigned 1/1" once the witness has cosigned a block.
  - The debug sidebar: contract events (excursion.started, violation, excursion.ended, compliance.restored)
    and rejected messages with their error.code. Try one: publish anything unsigned on coldroom/${first}/reading.
  - The Ledger tab of the editor's sidebar: the ledger, its devices and contracts, the latest block.
  - ${first} opens its door about 20 s after start (a few seconds, no breach) and warms above -20 °C about
    60 s after start for about 40 s: an excursion that becomes a violation after 30 s${second ? `;
    ${second} does the same 30 s later` : ''}. Later events come every 4 to 8 minutes.
  - After Ctrl-C, audit the ledger offline:  npx iot-ledger audit ${audited ? shown(audited.dir) : '<ledger dir>'}
  - Ctrl-C stops the sensors, Node-RED${broker.external ? '' : ' and the broker'}; the next start resumes the same flows and ledger.
`;
}

/** Connects once to the user's broker, so a wrong address or login is one clear line before anything starts. */
async function probeBroker(b: ExternalBroker): Promise<void> {
  try {
    const client = await mqtt.connectAsync(
      b.url,
      { clientId: `iot-ledger-start-probe-${process.pid}`, connectTimeout: 5000, reconnectPeriod: 0, username: b.username, password: b.password },
      false,
    );
    await client.endAsync();
  } catch (err) {
    throw new BrokerError(`cannot connect to the MQTT broker ${b.url}${b.username ? ` as ${b.username}` : ''}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

class BrokerError extends Error {}

/**
 * Gives the flow's broker nodes (those following npm start's broker) the user name and password,
 * in Node-RED's encrypted credentials file, before Node-RED reads it.
 */
function giveBrokerLogin(userDir: string, ids: string[], b: ExternalBroker): void {
  if (ids.length === 0) {
    log(`note: no broker node in the flows takes its address from \${MQTT_HOST}; give yours the user name and password in the editor`);
    return;
  }
  const settings = path.join(userDir, 'settings.js');
  if (fs.existsSync(settings) && !fs.readFileSync(settings, 'utf8').includes(GENERATED_MARKER)) {
    log(`note: ${shown(settings)} is your own, so its credentialSecret is unknown here: give the broker node its user name and password in the editor`);
    return;
  }
  ensureCredentialSecret(userDir);
  const secret = fs.readFileSync(path.join(userDir, CREDENTIAL_SECRET_FILE), 'utf8').trim();
  setNodeCredentials(userDir, secret, Object.fromEntries(ids.map((id) => [id, { user: b.username ?? '', password: b.password ?? '' }])));
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
  const ext = cfg.broker;
  if (ext) await probeBroker(ext);
  const broker = ext
    ? { host: ext.host, port: ext.port, url: ext.url, external: true, close: () => Promise.resolve() }
    : { ...(await startBroker({ host: cfg.mqttHost, port: cfg.mqttPort })), external: false };
  let nr: NodeRedProcess | undefined;
  let sim: Simulator | undefined;
  let stopping = false;

  const shutdown = async (why: string): Promise<void> => {
    stopping = true;
    log(`\n${why}: stopping the sensors, Node-RED${broker.external ? '' : ' and the broker'}...`);
    await sim?.stop();
    const exit = await nr?.stop(15_000);
    await broker.close();
    if (exit && exit.code !== 0) log(`Node-RED exited with code ${exit.code}${exit.signal ? ` (${exit.signal})` : ''}`);
    log('stopped.');
  };

  try {
    createUserDir(cfg.userDir);
    linkIntoUserDir(cfg.userDir, projectRoot);
    const keys = loadOrCreateDemoKeys(cfg.userDir, cfg.sensors);
    const made = [...keys.sensors, ...keys.parties].filter((k) => k.created).map((k) => k.name);
    if (made.length) log(`made keys for ${made.join(', ')} in ${shown(path.join(cfg.userDir, 'iot-ledger'))}`);
    const deployment = flowsToRun(cfg.userDir, keys);
    // Before Node-RED starts: one process owns a ledger directory.
    const ledgers = await prepareFlowLedgers(ledgersInUse(deployment.flows), {
      paths: (name, dir) => ledgerPaths(cfg.userDir, name, dir),
      devices: keys.sensors.map((s) => ({ did: s.did, name: s.name, meta: { simulated: true } })),
      parties: keys.parties,
    });
    for (const l of ledgers) {
      const signed = l.contracts.filter((c) => c.signedNow.length).map((c) => `${c.id} signed by ${c.signedNow.join(' and ')}`);
      const did = [l.enrolledNow.length ? `enrolled ${l.enrolledNow.join(', ')}` : '', ...signed].filter(Boolean);
      if (did.length) log(`ledger ${l.name}: ${did.join('; ')}`);
    }
    let witnessLine = '';
    if (deployment.first && ledgers.length > 0) {
      const local = cfg.host === '0.0.0.0' || cfg.host === '::' ? '127.0.0.1' : cfg.host;
      const w = addDemoWitness(deployment.flows as FlowNode[], cfg.userDir, `http://${local.includes(':') ? `[${local}]` : local}:${cfg.port}`, (name, dir) =>
        ledgerPaths(cfg.userDir, name, dir).keyFile,
      );
      deployment.flows = w.flows;
      witnessLine = `${`  Witness ${DEMO_WITNESS}:`.padEnd(27)} tab "Witness (demo)" of the same Node-RED, ${w.url}; key ${shown(w.keyFile)}\n`;
    } else if (JSON.stringify(deployment.flows).includes('"iot-ledger-witness"')) {
      witnessLine = `  Witness:`.padEnd(28) + 'a Witness node in the flows cosigns the ledger (Record shows "cosigned k/n")\n';
    }
    // Devices pull what the ledger approved: contract documents and firmware offers of the ledger the sensors feed.
    const fed = ledgersInUse(deployment.flows).find((u) => u.verifies);
    const fedLedger = ledgers.find((l) => l.verifies);
    const vendorKey = loadOrCreateVendorKey(cfg.userDir);
    let firmwareTab = JSON.stringify(deployment.flows).includes(`"${DEMO_FIRMWARE_TAB}"`);
    if (deployment.first && fed && fedLedger) {
      const brokerNode = (deployment.flows as FlowNode[]).find((n) => n.type === 'mqtt-broker');
      const sensors = keys.sensors.map((s) => ({ name: s.name, did: s.did }));
      const factoryOffers = await prepareDemoFirmware({ dir: fedLedger.dir, keyFile: ledgerPaths(cfg.userDir, fed.ledgerName, fed.dir).keyFile, name: fed.ledgerName }, vendorKey, sensors);
      if (brokerNode) {
        deployment.flows = addDemoFirmwareTab(deployment.flows as FlowNode[], {
          ledgerConfig: fed.configId,
          broker: brokerNode.id,
          sensors,
          update: demoManifest(vendorKey, UPDATE),
          factoryOffers,
        });
        firmwareTab = true;
      }
      log(`ledger ${fed.ledgerName}: vendor ${keyToDid(vendorKey).slice(0, 20)}… trusted, factory firmware ${factoryFirmware().version} approved for ${sensors.map((s) => s.name).join(', ')}`);
    }
    if (deployment.first) seedFlows(cfg.userDir, deployment.flows);
    if (ext?.username) giveBrokerLogin(cfg.userDir, brokersFromEnvironment(deployment.flows), ext);
    nr = await NodeRedProcess.start({
      userDir: cfg.userDir,
      host: cfg.host,
      port: cfg.port,
      // Flows can use ${MQTT_HOST} / ${MQTT_PORT} in their broker config node.
      env: { MQTT_HOST: broker.host, MQTT_PORT: String(broker.port) },
      // Not the harness's own signals that the flows run.
      onLine: (line) => {
        if (!line.startsWith(FLOWS_SIGNAL) && line !== FLOWS_STARTED_SIGNAL) log(line);
      },
      keepLines: 200,
    });
    const last = new Map<string, Phase>();
    sim = await startSimulator({
      brokerUrl: broker.url,
      ...(ext?.username ? { username: ext.username, password: ext.password } : {}),
      sensors: cfg.sensors,
      sign: signReadingsWith(new Map(keys.sensors.map((s) => [s.name, s.key]))),
      stateFile: path.join(cfg.userDir, 'simulator-state.json'),
      onReading: (sensor, reading, phase) => {
        if (last.get(sensor) !== phase && (last.has(sensor) || phase !== 'normal')) log(phaseNote(sensor, phase, reading.temperature));
        last.set(sensor, phase);
      },
      onError: (err, sensor) => log(`[sim] ${sensor}: ${err.message}`),
      ...(fedLedger
        ? {
            pull: {
              gatewayKey: fedLedger.gatewayDid,
              devices: new Map(keys.sensors.map((s) => [s.name, { did: s.did, key: s.key }])),
              vendorKeys: [keyToDid(vendorKey)],
              factory: factoryFirmware(),
              images: demoImages(),
              stateFile: path.join(cfg.userDir, 'simulator-firmware.json'),
              onContract: contractNote(),
              onFirmware: firmwareNotes(log),
            },
          }
        : {}),
    });
    log(banner(cfg, nr, broker, deployment.how, keys, ledgers, witnessLine, firmwareTab ? firmwareLine(cfg.sensors[0]) : ''));
    if (deployment.first && firmwareTab) {
      // The firmware loop runs by itself once, on a first start; the tab's injects repeat it and the attacks.
      const admin = new AdminClient(nr.url);
      const timer = setTimeout(() => {
        log(`[demo] pressing "① release ${UPDATE.version} + approve for ${cfg.sensors[0]}" in the "Firmware (demo)" tab`);
        admin.raw('POST', `/inject/${DEMO_RELEASE_INJECT}`).then(
          (res) => {
            if (!res.ok) log(`[demo] could not press it: HTTP ${res.status}`);
          },
          (err: unknown) => log(`[demo] could not press it: ${err instanceof Error ? err.message : String(err)}`),
        );
      }, RELEASE_AFTER_MS);
      timer.unref();
    }
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
    if (err instanceof ListenError || err instanceof BrokerError) process.stderr.write(`start: ${err.message}\n`);
    else process.stderr.write(`start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
