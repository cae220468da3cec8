import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ledgerPaths } from '../../lib/gateway/paths';
import { readKeyFile } from '../../lib/crypto/keyfile';
import { openCheckpoint } from '../../lib/note/checkpoint';
import { keyToDid } from '../../lib/crypto';
import { verifierKeyString } from '../../lib/note/note';
import { startBroker, type RunningBroker } from '../../demo/broker';
import { NodeRedProcess } from '../../demo/nodered/process';
import { createUserDir, linkIntoUserDir } from '../../demo/nodered/userdir';
import { installedPack, scratchDir } from '../support/e2e';
import { iotLedger, Mailbox } from '../support/ledger-runtime';
import { projectRoot } from '../support/paths';

// Two real Node-RED processes on a real broker: a gateway publishing its tiles and a replica
// following it. 100k records are prepared with `iot-ledger append` for speed.

const NAME = 'replica-e2e';
const RECORDS = Number(process.env.REPLICA_E2E_RECORDS ?? 100_000);

function appendFromFile(dir: string, keyFile: string, jsonl: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(projectRoot, 'dist', 'bin', 'iot-ledger.js'), 'append', dir, '--key', keyFile, '--name', NAME], {
      stdio: [fs.openSync(jsonl, 'r'), 'ignore', 'inherit'],
    });
    child.on('error', reject);
    child.on('close', resolve);
  });
}

const brokerNode = (id: string, port: number): Record<string, unknown> => ({
  id, type: 'mqtt-broker', name: 'broker', broker: '127.0.0.1', port: String(port), clientid: '', autoConnect: true, usetls: false,
  protocolVersion: '4', keepalive: '60', cleansession: true, autoUnsubscribe: true, birthTopic: '', closeTopic: '', willTopic: '',
  userProps: '', sessionExpiry: '',
});
const mqttOut = (id: string, z: string, broker: string, topic: string, x: number, y: number): Record<string, unknown> => ({
  id, type: 'mqtt out', z, name: '', topic, qos: '1', retain: 'false', respTopic: '', contentType: '', userProps: '', correl: '', expiry: '', broker, x, y, wires: [],
});

function gatewayFlow(port: number): Record<string, unknown>[] {
  const z = 'gw-tab';
  return [
    { id: z, type: 'tab', label: 'gateway', disabled: false, info: '' },
    brokerNode('gw-broker', port),
    { id: 'gw-ledger', type: 'iot-ledger-config', ledgerName: NAME, dir: '', blockRecords: 1000, blockSeconds: 1, publishTiles: true },
    { id: 'gw-in', type: 'mqtt in', z, name: '', topic: 'notes', qos: '1', datatype: 'json', broker: 'gw-broker', nl: false, rap: true, rh: 0, inputs: 0, x: 100, y: 80, wires: [['gw-record']] },
    { id: 'gw-record', type: 'iot-ledger-record', z, name: '', ledger: 'gw-ledger', recordType: 'note', allowOverride: false, x: 300, y: 80, wires: [['gw-ack']] },
    { id: 'gw-ack', type: 'change', z, name: '', rules: [{ t: 'set', p: 'payload', pt: 'msg', to: 'ledger', tot: 'msg' }], x: 500, y: 80, wires: [['gw-out']] },
    mqttOut('gw-out', z, 'gw-broker', 'gw/ack', 700, 80),
  ];
}

function replicaFlow(port: number, url: string, did: string, dir: string): Record<string, unknown>[] {
  const z = 'rp-tab';
  return [
    { id: z, type: 'tab', label: 'replica', disabled: false, info: '' },
    brokerNode('rp-broker', port),
    { id: 'rp-replica', type: 'iot-ledger-replica', z, name: '', url, key: did, dir, interval: 1, x: 100, y: 80, wires: [['rp-out']] },
    mqttOut('rp-out', z, 'rp-broker', 'replica/state', 300, 80),
    { id: 'rp-catch', type: 'catch', z, name: '', scope: null, uncaught: false, x: 100, y: 160, wires: [['rp-err']] },
    { id: 'rp-err', type: 'change', z, name: '', rules: [{ t: 'set', p: 'payload', pt: 'msg', to: 'error', tot: 'msg' }], x: 300, y: 160, wires: [['rp-err-out']] },
    mqttOut('rp-err-out', z, 'rp-broker', 'replica/error', 500, 160),
  ];
}

describe('e2e: a replica Node-RED follows a gateway Node-RED over tiles', function () {
  this.timeout(600_000);
  let broker: RunningBroker;
  let box: Mailbox;
  let gwDir: string;
  let rpDir: string;
  let gateway: NodeRedProcess | undefined;
  let replica: NodeRedProcess | undefined;
  let did: string;
  let replicaLedger: string;
  let oldCopy: string;
  let sent = 0;
  let final = 0;

  const tilesUrl = (): string => `${gateway?.url}/iot-ledger/tiles/${NAME}/`;
  const startGateway = async (): Promise<void> => {
    gateway = await NodeRedProcess.start({ userDir: gwDir });
  };
  const startReplica = async (): Promise<void> => {
    replica = await NodeRedProcess.start({ userDir: rpDir });
  };
  /** The replica's reported size reaching `size` (its state messages come after each round that copied records). */
  const replicaAt = (size: number, timeoutMs = 120_000): Promise<unknown> =>
    box.waitFor('replica/state', (m) => (JSON.parse(m.text) as { size: number }).size >= size, timeoutMs, `replica at ${size}`);
  /** Highest record index the gateway acknowledged (durable), +1: what the replica must reach once sealed. */
  const acked = (): number => Math.max(RECORDS, ...box.on('gw/ack').map((m) => (JSON.parse(m.text) as { index: number }).index + 1));
  /** After a (re)start, the gateway's MQTT in subscribes some time later: probe until a note is acknowledged. */
  const gatewayReady = async (): Promise<void> => {
    const before = box.on('gw/ack').length;
    const end = Date.now() + 60_000;
    while (box.on('gw/ack').length === before) {
      if (Date.now() > end) throw new Error('the gateway never acknowledged a probe note');
      await box.publish('notes', JSON.stringify({ probe: sent++ }));
      await box.waitFor('gw/ack', () => box.on('gw/ack').length > before, 500).catch(() => undefined);
    }
  };
  const sendNotes = async (n: number): Promise<void> => {
    const before = box.on('gw/ack').length;
    for (let i = 0; i < n; i++) await box.publish('notes', JSON.stringify({ n: sent++ }));
    await box.waitFor('gw/ack', () => box.on('gw/ack').length >= before + n, 30_000, `${n} acks`);
  };

  before(async () => {
    broker = await startBroker({ port: 0 });
    box = await Mailbox.connect(`mqtt://127.0.0.1:${broker.port}`, ['replica/#', 'gw/#']);
    const pack = await installedPack();
    gwDir = createUserDir(scratchDir('replica-gw'));
    rpDir = createUserDir(scratchDir('replica-rp'));
    linkIntoUserDir(gwDir, pack);
    linkIntoUserDir(rpDir, pack);

    const paths = ledgerPaths(gwDir, NAME);
    fs.mkdirSync(path.dirname(paths.keyFile), { recursive: true });
    const jsonl = path.join(scratchDir('replica-jsonl'), 'records.jsonl');
    fs.writeFileSync(jsonl, Array.from({ length: RECORDS }, (_, i) => JSON.stringify({ type: 'note', body: { prepared: i } })).join('\n') + '\n');
    assert.equal(await appendFromFile(paths.dir, paths.keyFile, jsonl), 0);
    did = keyToDid(readKeyFile(paths.keyFile));
    oldCopy = path.join(scratchDir('replica-old'), 'ledger');
    fs.cpSync(paths.dir, oldCopy, { recursive: true });
    replicaLedger = path.join(rpDir, 'copy');

    await startGateway();
    await gateway?.deployFlows(gatewayFlow(broker.port));
    await gatewayReady();
    await startReplica();
    await replica?.deployFlows(replicaFlow(broker.port, tilesUrl(), did, replicaLedger));
  });
  after(async () => {
    await replica?.kill();
    await gateway?.kill();
    await box?.close();
    await broker?.close();
  });

  it(`catches up on ${RECORDS.toLocaleString('en-US')} records`, async () => {
    const start = Date.now();
    await replicaAt(RECORDS, 300_000);
    console.log(`      catch-up: ${RECORDS} records in ${((Date.now() - start) / 1000).toFixed(1)} s (incl. Node-RED start)`);
  });

  it('follows new blocks', async () => {
    await sendNotes(50);
    await replicaAt(acked());
  });

  it('survives SIGKILL of the replica, then of the gateway', async () => {
    await replica?.kill();
    await sendNotes(50);
    await startReplica();
    await replicaAt(acked());
    await gateway?.kill();
    await startGateway();
    await gatewayReady();
    // The replica's URL names the gateway's old port: deploy it again with the new one.
    await replica?.deployFlows(replicaFlow(broker.port, tilesUrl(), did, replicaLedger));
    await sendNotes(50);
    final = acked();
    await replicaAt(final);
  });

  it('its copy audits CLEAN with the gateway key', async () => {
    await replica?.stop();
    const r = await iotLedger(['audit', replicaLedger, '--key', did]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`^CLEAN: ledger "${NAME}", ${final} records`));
  });

  it('detects the gateway\'s rollback (its directory replaced by an older copy plus new records) and keeps the evidence', async () => {
    await gateway?.stop();
    const dir = ledgerPaths(gwDir, NAME).dir;
    fs.rmSync(dir, { recursive: true, force: true });
    fs.cpSync(oldCopy, dir, { recursive: true });
    await startGateway();
    await gatewayReady();
    await sendNotes(400);
    await startReplica();
    await replica?.deployFlows(replicaFlow(broker.port, tilesUrl(), did, replicaLedger));
    // Fewer blocks than the copy is reported as a rollback, as many or more (with other
    // contents) as a fork: which one depends on how the restarted gateway cut its blocks.
    const err = await box.waitFor('replica/error', (m) => /ERR_REPLICA_(FORK|ROLLBACK)/.test(m.text), 60_000);
    const kind = /ERR_REPLICA_FORK/.test(err.text) ? 'fork' : 'rollback';
    await replica?.stop();
    const files = fs.readdirSync(path.join(replicaLedger, 'replica-evidence')).filter((f) => f.startsWith(`${kind}-`));
    assert.equal(files.length, 1, `one ${kind} evidence file`);
    const evidence = JSON.parse(fs.readFileSync(path.join(replicaLedger, 'replica-evidence', files[0]), 'utf8')) as { ours: string; theirs: string };
    const vkey = verifierKeyString(NAME, readKeyFile(ledgerPaths(gwDir, NAME).keyFile));
    assert.equal(openCheckpoint(evidence.ours, vkey).size, final, 'our side: the last verified checkpoint');
    assert.notEqual(openCheckpoint(evidence.theirs, vkey).root.toString(), openCheckpoint(evidence.ours, vkey).root.toString());
    const r = await iotLedger(['audit', replicaLedger, '--key', did]);
    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stdout, new RegExp(`${final} records`));
  });
});
