import * as assert from 'node:assert/strict';
import { execFile, type ChildProcess, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as mqtt from 'mqtt';
import { fromUtf8 } from '../../lib/encoding/bytes';
import { keyToDid } from '../../lib/crypto/didkey';
import { peekEnvelope, verifyEnvelope } from '../../lib/envelope/envelope';
import { readKeyFile } from '../../lib/crypto/keyfile';
import { Ledger } from '../../lib/ledger';
import { AdminClient } from '../../demo/nodered/admin-client';
import { assertPortFree, freePort } from '../../demo/ports';
import { scratchDir } from '../support/e2e';
import { startMosquitto } from '../support/mosquitto';
import { projectRoot } from '../support/paths';
import { launchChromium } from '../support/editor-session';
import { until } from '../support/until';

// `npm start` as a user runs it (dist/demo/start.js), on free ports and a scratch user dir.

const startJs = path.join(projectRoot, 'dist', 'demo', 'start.js');
const cliJs = path.join(projectRoot, 'dist', 'bin', 'iot-ledger.js');
const exampleFlow = path.join(projectRoot, 'examples', 'cold-room.json');

/** id and type of each node: what identifies a flow export, whatever Node-RED adds or strips. */
const shape = (flows: unknown[]): string[] => flows.map((n) => `${(n as { id: string }).id}:${(n as { type: string }).type}`);

interface Started {
  child: ChildProcess;
  out: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
}

const running = new Set<ChildProcess>();

function runStart(args: string[], extraEnv: Record<string, string> = {}): Started {
  const env = { ...process.env };
  for (const k of ['HOST', 'PORT', 'MQTT_HOST', 'MQTT_PORT', 'MQTT_URL', 'MQTT_USER', 'MQTT_PASSWORD', 'NODE_RED_USER_DIR', 'SENSORS']) delete env[k];
  Object.assign(env, extraEnv);
  const child = spawn(process.execPath, [startJs, ...args], { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  const out: string[] = [];
  const listeners = new Set<() => void>();
  for (const stream of [child.stdout, child.stderr]) {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      out.push(...parts);
      for (const l of listeners) l();
    });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    }),
  );
  const waitFor = (re: RegExp, timeoutMs = 60_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const hit = out.find((l) => re.test(l));
        if (hit !== undefined) {
          listeners.delete(check);
          clearTimeout(timer);
          resolve(hit);
        }
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`start printed no line matching ${re} in ${timeoutMs} ms:\n${out.join('\n')}`));
      }, timeoutMs);
      listeners.add(check);
      void exited.then(() => {
        if (!listeners.has(check)) return;
        listeners.delete(check);
        clearTimeout(timer);
        reject(new Error(`start exited before printing ${re}:\n${out.join('\n')}`));
      });
      check();
    });
  return { child, out, exited, waitFor };
}

/** did:key of a key file (the public half only is used). */
const didOf = (file: string): string => keyToDid(readKeyFile(file));

/**
 * Subscribes and returns the counters seen per sensor, once each listed sensor has sent `n`.
 * Every reading must be a JWS by the sensor's own key (kid = its did:key) over
 * {temperature, door, counter, ts}.
 */
async function readings(url: string, dids: Map<string, string>, n: number, login: { username?: string; password?: string } = {}): Promise<Map<string, number[]>> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, ...login }, false);
  try {
    const seen = new Map([...dids.keys()].map((s) => [s, [] as number[]]));
    const done = new Promise<void>((resolve, reject) =>
      client.on('message', (topic, payload) => {
        try {
          const [, sensor, kind] = topic.split('/');
          assert.equal(kind, 'reading');
          const did = dids.get(sensor);
          if (!did) return;
          const jws = payload.toString();
          assert.equal(peekEnvelope(jws).kid, did, `${sensor} signs with kid = its did:key`);
          const r = JSON.parse(fromUtf8(verifyEnvelope(jws, did).payload)) as { temperature: number; door: string; counter: number; ts: number };
          // Once a sensor has pulled and verified the contract it is judged by, its readings name its terms hash.
          assert.deepEqual(Object.keys(r).filter((k) => k !== 'contract'), ['temperature', 'door', 'counter', 'ts']);
          seen.get(sensor)?.push(r.counter);
          if ([...seen.values()].every((c) => c.length >= n)) resolve();
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      }),
    );
    await client.subscribeAsync('coldroom/+/reading', { qos: 1 });
    await done;
    return seen;
  } finally {
    await client.endAsync(true);
  }
}

interface LedgerInfo {
  size: number;
  blocks: number;
  devices: number;
  gatewayDid: string;
}

/** Polls the Ledger config node's admin endpoint until `ok` holds (or fails after `ms`). */
async function ledgerUntil(admin: AdminClient, configId: string, ok: (l: LedgerInfo) => boolean, ms: number): Promise<LedgerInfo> {
  let last: LedgerInfo | undefined;
  return until(
    () => `the ledger to get there (last: ${JSON.stringify(last)})`,
    async () => {
      last = await admin.request<LedgerInfo>('GET', `/iot-ledger/ledgers/${configId}`);
      return ok(last) && last;
    },
    { timeoutMs: ms, pollMs: 500 },
  );
}

/** Record counts by type, and reading records by device, of a closed ledger. */
async function ledgerContents(dir: string): Promise<{ size: number; types: Map<string, number>; readingsBy: Map<string, number> }> {
  const ledger = await Ledger.open(dir, { readOnly: true });
  try {
    const types = new Map<string, number>();
    const readingsBy = new Map<string, number>();
    for await (const r of ledger.range(0, ledger.size)) {
      types.set(r.record.type, (types.get(r.record.type) ?? 0) + 1);
      if (r.record.type === 'reading') {
        assert.ok(r.record.envelope, `reading ${r.index} keeps the device's envelope`);
        readingsBy.set(String(r.record.device), (readingsBy.get(String(r.record.device)) ?? 0) + 1);
      }
    }
    return { size: ledger.size, types, readingsBy };
  } finally {
    await ledger.close();
  }
}

interface FirmwareRecord {
  index: number;
  type: string;
  device?: string;
  body: Record<string, unknown>;
}

/** The firmware records of a closed ledger, the contract's terms hash, and the terms hash each device's readings named last. */
async function pulledWhat(dir: string): Promise<{ firmware: FirmwareRecord[]; termsHash?: string; readingTerms: Map<string, Set<string>> }> {
  const ledger = await Ledger.open(dir, { readOnly: true });
  try {
    const firmware: FirmwareRecord[] = [];
    const readingTerms = new Map<string, Set<string>>();
    let termsHash: string | undefined;
    for await (const r of ledger.range(0, ledger.size)) {
      const body = (r.record.body ?? {}) as Record<string, unknown>;
      if (r.record.type.startsWith('firmware.')) firmware.push({ index: r.index, type: r.record.type, device: r.record.device, body });
      if (r.record.type === 'contract.register') termsHash = String(body.termsHash);
      if (r.record.type === 'reading' && typeof body.contract === 'string') {
        const set = readingTerms.get(String(r.record.device)) ?? new Set<string>();
        set.add(body.contract);
        readingTerms.set(String(r.record.device), set);
      }
    }
    return { firmware, termsHash, readingTerms };
  } finally {
    await ledger.close();
  }
}

interface Statuses {
  [type: string]: string;
}

/** The status texts the editor shows under the flow's nodes, by node type, once each matches. */
async function editorStatuses(url: string, wanted: Record<string, RegExp>, ms = 30_000): Promise<Statuses> {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(`${url}/`);
    const read = () =>
      page.evaluate((types: string[]) => {
        type EditorNode = { type: string; status?: { text?: string } };
        const RED = (globalThis as unknown as { RED?: { nodes?: { eachNode(fn: (n: EditorNode) => void): void } } }).RED;
        const out: Record<string, string> = {};
        RED?.nodes?.eachNode?.((n) => {
          if (types.includes(n.type) && n.status?.text) out[n.type] = n.status.text;
        });
        return out;
      }, Object.keys(wanted));
    let got: Statuses = {};
    return await until(
      () => `node statuses ${JSON.stringify(Object.fromEntries(Object.entries(wanted).map(([t, r]) => [t, String(r)])))} (shown: ${JSON.stringify(got)})`,
      async () => {
        got = await read();
        return Object.entries(wanted).every(([t, re]) => re.test(got[t] ?? '')) && got;
      },
      { timeoutMs: ms, pollMs: 500 },
    );
  } finally {
    await browser.close();
  }
}

function cli(args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cliJs, ...args], { timeout: 60_000 }, (err, stdout) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout });
    });
  });
}

describe('e2e: npm start', function () {
  this.timeout(150_000);

  after(() => {
    for (const c of running) c.kill('SIGKILL');
  });

  it('runs broker, Node-RED and signing sensors, records verified readings, stops on Ctrl-C, and resumes the same ledger', async () => {
    const userDir = path.join(scratchDir('start'), 'nr');
    const [port, mqttPort] = [await freePort(), await freePort()];
    const args = ['--port', String(port), '--mqtt-port', String(mqttPort), '--user-dir', userDir, '--sensors', 'cold-a,cold-b'];
    const admin = new AdminClient(`http://127.0.0.1:${port}`);
    const ledgerDir = path.join(userDir, 'iot-ledger', 'ledgers', 'coldroom');
    const brokerUrl = `mqtt://127.0.0.1:${mqttPort}`;

    // First start: keys made, ledger prepared, personalised flows seeded.
    let run = runStart(args);
    await run.waitFor(/What to look at/);
    const printed = run.out.join('\n');
    assert.ok(run.out.some((l) => l.includes(`editor:  http://127.0.0.1:${port}/`)), printed);
    assert.ok(run.out.some((l) => l.includes(`mqtt://127.0.0.1:${mqttPort}`)));
    assert.ok(run.out.some((l) => /first start/.test(l)));
    assert.match(printed, /made keys for cold-a, cold-b, operator, customer/);
    assert.match(printed, /ledger coldroom: enrolled cold-a, cold-b; cold-room-1 signed by operator and customer/);
    assert.match(printed, /contract cold-room-1 v1: active/);
    assert.match(printed, /npx iot-ledger audit .*iot-ledger\/ledgers\/coldroom/);
    assert.doesNotMatch(printed, /"d"\s*:/, 'no private JWK in the output');

    // Keys: private JWKs only their owner can read; the flow holds only did:keys.
    const keyFile = (...p: string[]) => path.join(userDir, 'iot-ledger', ...p);
    const files = {
      'cold-a': keyFile('devices', 'cold-a.jwk'),
      'cold-b': keyFile('devices', 'cold-b.jwk'),
      operator: keyFile('parties', 'operator.jwk'),
      customer: keyFile('parties', 'customer.jwk'),
      gateway: keyFile('keys', 'coldroom.gateway.jwk'),
    };
    for (const f of Object.values(files)) assert.equal(fs.statSync(f).mode & 0o777, 0o600, f);
    assert.equal(readKeyFile(files['cold-a']).alg, 'Ed25519');
    assert.equal(readKeyFile(files['cold-b']).alg, 'ES256');
    const sensors = new Map([
      ['cold-a', didOf(files['cold-a'])],
      ['cold-b', didOf(files['cold-b'])],
    ]);

    // The cold-room example, and the demo's witness on a second tab.
    const expected = [
      ...(JSON.parse(fs.readFileSync(exampleFlow, 'utf8')) as unknown[]),
      { id: 'demo-witness-tab', type: 'tab' },
      { id: 'demo-witness-comment', type: 'comment' },
      { id: 'demo-witness', type: 'iot-ledger-witness' },
      { id: 'demo-witness-debug', type: 'debug' },
      ...[
        ['demo-fw-tab', 'tab'],
        ['demo-fw-comment', 'comment'],
        ['demo-fw-release', 'inject'],
        ['demo-fw-register', 'iot-ledger-firmware'],
        ['demo-fw-plan', 'change'],
        ['demo-fw-approve', 'iot-ledger-firmware'],
        ['demo-fw-offers', 'switch'],
        ['demo-fw-out', 'mqtt out'],
        ['demo-fw-decision-debug', 'debug'],
        ['demo-fw-reports', 'mqtt in'],
        ['demo-fw-device', 'change'],
        ['demo-fw-report', 'iot-ledger-firmware'],
        ['demo-fw-report-debug', 'debug'],
        ['demo-fw-attack-comment', 'comment'],
        ['demo-fw-attack-other', 'inject'],
        ['demo-fw-attack-rollback', 'inject'],
      ].map(([id, type]) => ({ id, type })),
    ];
    assert.match(printed, /Witness witness\.demo\.local\/w1: +tab "Witness \(demo\)" of the same Node-RED/);
    // The gateway's did:key, which audit --key, verify-proof --key and replicate --key take.
    assert.ok(printed.includes(`coldroom.gateway.jwk  ${didOf(files.gateway)}  signs the checkpoints of coldroom`), printed);
    const deployed = (await admin.getFlows()).flows as Array<{ id: string; type: string; terms?: string }>;
    assert.deepEqual(shape(deployed), shape(expected));
    const flowText = JSON.stringify(deployed);
    assert.doesNotMatch(flowText, /\\?"d\\?"\s*:/, 'no private JWK in the deployed flows');
    const terms = JSON.parse(deployed.find((n) => n.type === 'iot-ledger-contract')!.terms!) as { parties: string[]; subjects: string[] };
    assert.deepEqual(terms.parties, [didOf(files.operator), didOf(files.customer)]);
    assert.deepEqual(terms.subjects, [sensors.get('cold-a')]);

    const firstCounters = await readings(brokerUrl, sensors, 2);
    for (const c of firstCounters.values()) for (let i = 1; i < c.length; i++) assert.ok(c[i] > c[i - 1]);

    // Verified readings reach the ledger: it grows well past the 5 records prepared before Node-RED.
    const configId = deployed.find((n) => n.type === 'iot-ledger-config')!.id;
    const grown = await ledgerUntil(admin, configId, (l) => l.size >= 15 && l.devices === 2, 20_000);
    assert.equal(grown.gatewayDid, didOf(files.gateway));

    // What a person sees in the editor: verified counts, the contract's verdict, blocks.
    await editorStatuses(`http://127.0.0.1:${port}`, {
      'iot-ledger-verify': /^verified \d+$/,
      'iot-ledger-contract': /^(compliant -?\d|EXCURSION|VIOLATED)/,
      'iot-ledger-record': /^\d+ blocks? · \d+ records · cosigned 1\/1$/,
      'iot-ledger-witness': /^cosigned coldroom at \d+$/,
    });

    // Devices pull what the ledger approved. The contract: its document (retained on
    // iot-ledger/contract/cold-room-1) verified by each sensor with the gateway key.
    await run.waitFor(/^\[sim\] cold-a: pulled contract cold-room-1 v1: terms, 2\/2 party signatures and inclusion proof verified .*; operating under it/);
    await run.waitFor(/^\[sim\] cold-b: pulled contract cold-room-1 v1: .*; not a subject of it/);
    // Firmware: start presses "release 1.1.0 + approve for cold-a" once; cold-a verifies the offer, installs, reports.
    await run.waitFor(/^\[demo\] pressing "① release 1\.1\.0 \+ approve for cold-a"/, 30_000);
    await run.waitFor(/^\[sim\] cold-a: firmware 1\.0\.0 -> 1\.1\.0 installed \(vendor signature, digest and approval at record \d+ verified\)/);
    await run.waitFor(/\[debug:firmware report\] report recorded .*"version":"1\.1\.0".*"status":"confirmed"/);
    // An attacker on the broker replays cold-a's factory approval: to cold-b, and to cold-a as a rollback.
    for (const id of ['demo-fw-attack-other', 'demo-fw-attack-rollback']) assert.equal((await admin.raw('POST', `/inject/${id}`)).status, 200);
    await run.waitFor(/^\[sim\] cold-b: REFUSED firmware offer 1\.0\.0 \(unknown-release\)/);
    await run.waitFor(/^\[sim\] cold-a: REFUSED firmware offer 1\.0\.0 \(rollback\)/);
    await run.waitFor(/\[debug:firmware report\] report recorded .*"refused":\{"sequence":10,"digest":"[0-9a-f]{64}","reason":"unknown-release"\}/);
    await run.waitFor(/\[debug:firmware report\] report recorded .*"version":"1\.1\.0".*"refused":\{"sequence":10,"digest":"[0-9a-f]{64}","reason":"rollback"\}/);

    const marker = [...deployed, { id: 'harness-marker-tab', type: 'tab', label: 'added during the first run' }];
    await admin.deployFlows(marker);

    run.child.kill('SIGINT');
    assert.deepEqual(await run.exited, { code: 0, signal: null }, run.out.join('\n'));
    assert.ok(run.out.includes('stopped.'), run.out.join('\n'));
    await assertPortFree('127.0.0.1', port, 'editor port still held');
    await assertPortFree('127.0.0.1', mqttPort, 'broker port still held');
    const state = JSON.parse(fs.readFileSync(path.join(userDir, 'simulator-state.json'), 'utf8')) as Record<string, number>;
    assert.ok(state['cold-a'] >= Math.max(...firstCounters.get('cold-a')!));

    // What the first run recorded: both sensors' readings (verified: each names its device and
    // keeps its envelope), two enrolments, the contract and both signatures, no rejection.
    const first = await ledgerContents(ledgerDir);
    assert.equal(first.types.get('device.enrol'), 2);
    assert.equal(first.types.get('contract.register'), 1);
    assert.equal(first.types.get('contract.sign'), 2);
    assert.equal(first.types.get('security'), undefined, 'no rejected message');
    for (const [name, did] of sensors) assert.ok((first.readingsBy.get(did) ?? 0) >= 2, `readings of ${name}`);
    assert.ok((first.types.get('contract.reading') ?? 0) >= 2, 'the contract judged cold-a');
    // The whole firmware loop is on the ledger, in order: vendor trusted, factory 1.0.0 registered and
    // approved, each sensor's first report; release 1.1.0 registered, approved for cold-a, installed
    // and reported (confirmed); the two refusals reported, signed by the refusing sensors.
    const pulled = await pulledWhat(ledgerDir);
    const [a, b] = [sensors.get('cold-a')!, sensors.get('cold-b')!];
    const fw = pulled.firmware;
    const find = (what: string, ok: (r: FirmwareRecord) => boolean): FirmwareRecord => {
      const hit = fw.find(ok);
      assert.ok(hit, `${what} in ${JSON.stringify(fw.map((r) => [r.index, r.type, r.body.status ?? r.body.decision ?? r.body.version]))}`);
      return hit;
    };
    const vendor = find('vendor trusted', (r) => r.type === 'firmware.vendor' && r.body.action === 'trust');
    const release = find('release 1.1.0', (r) => r.type === 'firmware.release' && (r.body.manifest as { version?: string; sequence?: number }).version === '1.1.0' && (r.body.manifest as { sequence?: number }).sequence === 11);
    const approved = find('update approved', (r) => r.type === 'firmware.decision' && r.body.decision === 'approved' && r.device === a && r.body.sequence === 11);
    const installed = find('install reported', (r) => r.type === 'firmware.report' && r.device === a && r.body.sequence === 11 && r.body.refused === undefined);
    assert.ok(vendor.index < release.index && release.index < approved.index && approved.index < installed.index);
    assert.equal(approved.body.release, release.index);
    assert.equal(installed.body.status, 'confirmed');
    assert.equal(installed.body.digest, approved.body.digest);
    const refusedB = find('cold-b refused', (r) => r.type === 'firmware.report' && r.device === b && r.body.refused !== undefined);
    assert.deepEqual({ ...(refusedB.body.refused as object) }, { sequence: 10, digest: refusedB.body.digest, reason: 'unknown-release' });
    assert.equal(refusedB.body.version, '1.0.0', 'cold-b still runs its factory firmware');
    const refusedA = find('cold-a refused', (r) => r.type === 'firmware.report' && r.device === a && r.body.refused !== undefined);
    assert.equal((refusedA.body.refused as { reason: string }).reason, 'rollback');
    assert.ok(refusedA.index > installed.index);
    assert.equal(fw.filter((r) => r.type === 'firmware.decision' && r.body.decision !== 'approved').length, 0, 'no rejected decision');
    // The contract pull: cold-a's verified readings name the registered terms hash; cold-b (no subject) names none.
    assert.ok(pulled.termsHash);
    assert.deepEqual([...(pulled.readingTerms.get(a) ?? [])], [pulled.termsHash]);
    assert.equal(pulled.readingTerms.get(b), undefined);
    const audit = await cli(['audit', ledgerDir, '--key', didOf(files.gateway)]);
    assert.equal(audit.code, 0, audit.stdout);

    // Second start: the same flows and ledger, nothing enrolled or signed again; counters carry on.
    run = runStart(args);
    await run.waitFor(/What to look at/);
    assert.ok(run.out.some((l) => /resuming the flows/.test(l)), run.out.join('\n'));
    assert.ok(!run.out.some((l) => /made keys|ledger coldroom: /.test(l)), run.out.join('\n'));
    assert.deepEqual(shape((await admin.getFlows()).flows), shape(marker));
    const second = await readings(brokerUrl, new Map([['cold-a', sensors.get('cold-a')!]]), 1);
    assert.ok(second.get('cold-a')![0] > state['cold-a'], 'counter continues after the restart');
    await ledgerUntil(admin, configId, (l) => l.size >= first.size + 4, 20_000);

    run.child.kill('SIGTERM');
    assert.deepEqual(await run.exited, { code: 0, signal: null }, run.out.join('\n'));
    const after = await ledgerContents(ledgerDir);
    assert.equal(after.types.get('device.enrol'), 2);
    assert.equal(after.types.get('contract.register'), 1);
    assert.equal(after.types.get('contract.sign'), 2);
    assert.equal(after.types.get('security'), undefined, 'no replay after the restart');
    // Later starts change no firmware: nothing pressed, no first report again, nothing refused.
    for (const t of ['firmware.vendor', 'firmware.release', 'firmware.decision', 'firmware.report']) assert.equal(after.types.get(t), first.types.get(t), t);
    assert.equal((await cli(['audit', ledgerDir])).code, 0);
  });

  it('says which port is taken and how to choose another, and leaves nothing running', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as net.AddressInfo).port;
    const free = await freePort();
    const userDir = path.join(scratchDir('start'), 'nr');
    try {
      let run = runStart(['--port', String(taken), '--mqtt-port', String(free), '--user-dir', userDir]);
      assert.deepEqual(await run.exited, { code: 1, signal: null });
      assert.deepEqual(run.out.filter(Boolean), [`start: port ${taken} is in use; set PORT or --port`]);

      run = runStart(['--port', String(free), '--mqtt-port', String(taken), '--user-dir', userDir]);
      assert.deepEqual(await run.exited, { code: 1, signal: null });
      assert.deepEqual(run.out.filter(Boolean), [`start: port ${taken} is in use; set MQTT_PORT or --mqtt-port`]);
      await assertPortFree('127.0.0.1', free, 'left running');
      assert.ok(!fs.existsSync(userDir), 'nothing written before the ports are known to be free');
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it("runs against the user's own broker (Debian's mosquitto, with a login) instead of Aedes, and leaves it running", async function () {
    const login = { username: 'cold-room', password: 'pw with spaces & "quotes"' };
    const broker = await startMosquitto(10_000, { login });
    const dir = scratchDir('start-mosquitto');
    const [port, mqttPort] = [await freePort(), broker.port];
    const url = broker.url;
    try {
      await assert.rejects(mqtt.connectAsync(url, { reconnectPeriod: 0 }, false), /Not authorized/, 'anonymous clients are refused');

      const userDir = path.join(dir, 'nr');
      // --mqtt-port names mosquitto's own port: with --broker no Aedes is started, so no "port in use".
      const base = ['--port', String(port), '--mqtt-port', String(mqttPort), '--user-dir', userDir, '--sensors', 'cold-a', '--broker', url, '--broker-user', login.username];

      // A wrong password: one clear line, nothing started or written.
      let run = runStart(base, { MQTT_PASSWORD: 'wrong' });
      assert.deepEqual(await run.exited, { code: 1, signal: null });
      assert.match(run.out.join('\n'), new RegExp(`^start: cannot connect to the MQTT broker ${url} as cold-room: .*Not authorized`, 'm'));
      assert.ok(!fs.existsSync(userDir), 'nothing written');

      run = runStart(base, { MQTT_PASSWORD: login.password });
      await run.waitFor(/What to look at/);
      const printed = run.out.join('\n');
      assert.match(printed, new RegExp(`MQTT broker \\(yours\\): +${url.replace(/[.]/g, '\\.')}`));
      assert.doesNotMatch(printed, /Aedes/);
      assert.ok(!printed.includes(login.password), 'the password is never printed');

      // The sensors publish through mosquitto, and Node-RED's MQTT in (logged in) feeds the ledger.
      const sensors = new Map([['cold-a', didOf(path.join(userDir, 'iot-ledger', 'devices', 'cold-a.jwk'))]]);
      await readings(url, sensors, 2, login);
      const admin = new AdminClient(`http://127.0.0.1:${port}`);
      const deployed = (await admin.getFlows()).flows as Array<{ id: string; type: string; broker?: string; port?: string }>;
      const brokerNode = deployed.find((n) => n.type === 'mqtt-broker')!;
      assert.deepEqual([brokerNode.broker, brokerNode.port], ['${MQTT_HOST}', '${MQTT_PORT}']);
      const configId = deployed.find((n) => n.type === 'iot-ledger-config')!.id;
      await ledgerUntil(admin, configId, (l) => l.size >= 8, 30_000);

      // The login is a Node-RED credential (encrypted), never in flows.json.
      const flowFile = fs.readFileSync(path.join(userDir, 'flows.json'), 'utf8');
      const credFile = fs.readFileSync(path.join(userDir, 'flows_cred.json'), 'utf8');
      for (const text of [flowFile, credFile]) assert.ok(!text.includes(login.password) && !/"user"\s*:\s*"cold-room"/.test(text), 'no plain login in the flow files');

      run.child.kill('SIGINT');
      assert.deepEqual(await run.exited, { code: 0, signal: null }, run.out.join('\n'));
      assert.match(run.out.join('\n'), /stopping the sensors, Node-RED\.\.\./);
      // Still there: start never owned it.
      await (await mqtt.connectAsync(url, { reconnectPeriod: 0, ...login }, false)).endAsync();
    } finally {
      await broker.stop();
    }
  });

  it('prints its help at once, without building (npm start -- --help)', async () => {
    const before = fs.statSync(startJs).mtimeMs;
    const { stdout: out } = await promisify(execFile)('npm', ['start', '--silent', '--', '--help'], { cwd: projectRoot, timeout: 60_000 });
    assert.match(out, /^usage: npm start -- \[options\]/);
    for (const option of ['--broker mqtt://HOST:PORT', '--broker-user', '--broker-password', 'MQTT_URL', '--mqtt-port', '--user-dir']) assert.ok(out.includes(option), option);
    // The build starts by deleting dist/: the compiled start script is the very same file.
    assert.equal(fs.statSync(startJs).mtimeMs, before, 'dist/ was not rebuilt');
  });

  it('rejects unknown options with usage and exit code 2', async () => {
    const run = runStart(['--prot', '1880']);
    assert.deepEqual(await run.exited, { code: 2, signal: null });
    assert.match(run.out.join('\n'), /Unknown option '--prot'[\s\S]*usage: npm start/);
  });
});
