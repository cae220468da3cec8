/**
 * One platform of .ci/arm-check: the packed tarball installed and used by an ARM Node.js that
 * runs under qemu-user (the `node` wrapper .ci/arm-check makes), as a user on that platform would:
 *   1. npm (run by the emulated node) installs the tarball into a fresh Node-RED user directory,
 *      so classic-level's install script runs on "ARM";
 *   2. the storage loads (the native LevelDB prebuild, or the file storage where none fits), and
 *      Ed25519 is verified by the expected library (libsodium's prebuild, or node:crypto where none fits);
 *   3. the iot-ledger CLI appends, audits (CLEAN) and proves, and the proof verifies;
 *   4. Node-RED (installed for the same platform, run by the emulated node) runs examples/cold-room.json against
 *      Debian's mosquitto; its Enrol node enrols a sensor, a signed reading of it is recorded;
 *   5. after Node-RED stops, `iot-ledger audit` of that ledger says CLEAN and export shows it.
 * Prints one PASS or FAIL line per step with its duration; exits 1 at the first failure.
 *
 * Usage: node dist/test/platform/arm-check.js --name NAME --node WRAPPER --path PATH --tarball TGZ
 *          --node-red DIR --work DIR --npm-cli NPM_CLI_JS --expect-native REGEX|none --storage leveldb|file --ed25519 libsodium|node:crypto [--libc musl --preload MUSL_DLOPEN_JS]
 * The host's Node runs this script, the broker and the sensor; everything the pack does runs on
 * the emulated node. PATH is the whole PATH the emulated processes get (the wrapper's directory
 * first; for the add-on emulation one without make, g++ and python3).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { generateKey, keyToDid, signEnvelope } from '../../lib';
import { NodeRedProcess } from '../../demo/nodered/process';
import { seedFlows } from '../../demo/nodered/userdir';
import { coldRoomExample, PROBE } from '../support/example-runtime';
import { Mailbox } from '../support/ledger-runtime';
import { startMosquitto, type Mosquitto } from '../support/mosquitto';

const { values: opt } = parseArgs({
  options: {
    name: { type: 'string' },
    node: { type: 'string' },
    path: { type: 'string' },
    tarball: { type: 'string' },
    'node-red': { type: 'string' },
    work: { type: 'string' },
    'expect-native': { type: 'string' },
    storage: { type: 'string' },
    ed25519: { type: 'string' },
    'npm-cli': { type: 'string' },
    libc: { type: 'string' },
    preload: { type: 'string' },
  },
});
for (const k of ['name', 'node', 'path', 'tarball', 'node-red', 'work', 'npm-cli', 'expect-native', 'storage', 'ed25519'] as const) {
  if (!opt[k]) throw new Error(`arm-check: --${k} is required`);
}
const name = opt.name!;
const nodeBin = opt.node!;
const work = path.resolve(opt.work!);
const userDir = path.join(work, 'user');
const packName = 'node-red-contrib-iot-ledger';
const packDir = path.join(userDir, 'node_modules', packName);
const cli = path.join(packDir, 'dist', 'bin', 'iot-ledger.js');
const npmCli = opt['npm-cli']!;
/** The environment of every emulated process: the given PATH (wrapper first), LIBC for the add-on emulation. */
const env: NodeJS.ProcessEnv = { ...process.env, PATH: opt.path!, NODE_RED_DISABLE_TELEMETRY: '1' };
delete env.npm_config_prefix;
// The backend must be the one the platform picks by itself.
delete env.IOT_LEDGER_STORAGE;
if (opt.storage !== 'leveldb' && opt.storage !== 'file') throw new Error('arm-check: --storage is leveldb or file');
const storage = opt.storage;
/** What the Ledger config node logs, and the audit report's last words, for that backend. */
const storageLog = storage === 'file' ? /ledger \S+: file storage \(classic-level could not load: / : /ledger \S+: LevelDB \(classic-level\)/;
const auditStorage = storage === 'file' ? '(file storage)' : '(LevelDB)';
if (opt.ed25519 !== 'libsodium' && opt.ed25519 !== 'node:crypto') throw new Error('arm-check: --ed25519 is libsodium or node:crypto');
const ed25519 = opt.ed25519;
delete env.IOT_LEDGER_ED25519;
/** What the pack logs at Node-RED's start about its Ed25519 verifier. */
const ed25519Log = ed25519 === 'libsodium' ? /Ed25519 signatures are verified with libsodium \(sodium-native\)/ : /Ed25519 signatures are verified with node:crypto \(libsodium not used: /;
if (opt.libc) env.LIBC = opt.libc;
else delete env.LIBC;
/** For the add-on target: musl-dlopen.js, refusing glibc-linked native modules as musl does. */
const nodeOptions = opt.preload ? `--require ${opt.preload}` : undefined;
if (nodeOptions) env.NODE_OPTIONS = nodeOptions;
else delete env.NODE_OPTIONS;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the emulated node with `args`; never rejects (the caller checks the code). It runs in a
 * process group of its own, killed whole at the time limit: npm's children (install scripts,
 * node-gyp) would otherwise outlive it and keep its output pipes, and this promise, open.
 */
function emulated(args: string[], opts: { cwd?: string; input?: string; timeoutMs: number }): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(nodeBin, args, { cwd: opts.cwd ?? work, env, detached: true, stdio: 'pipe' });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    let timedOut = false;
    const killGroup = (): void => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // the group is gone already
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, opts.timeoutMs);
    const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
      clearTimeout(timer);
      killGroup();
      const stderr = Buffer.concat(err).toString('utf8');
      const why = timedOut ? `\ntimed out after ${opts.timeoutMs / 1000} s: ${args.slice(0, 3).join(' ')}` : signal ? `\nkilled by ${signal}` : '';
      resolve({ code: timedOut || code === null ? -1 : code, stdout: Buffer.concat(out).toString('utf8'), stderr: stderr + why });
    };
    child.on('error', (e) => {
      err.push(Buffer.from(`\n${e.message}`));
      finish(null, null);
    });
    // A child of it that still holds the pipes 2 s after it exited goes with its group.
    child.on('exit', () => setTimeout(killGroup, 2000).unref());
    child.on('close', finish);
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

function expectOk(r: Run, what: string): string {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}\n${r.stderr.slice(-3000)}\n${r.stdout.slice(-1000)}`);
  return r.stdout;
}

const started = Date.now();
let failed = false;

async function step<T>(title: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  try {
    const result = await fn();
    console.log(`PASS [${name}] ${title} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    return result;
  } catch (err) {
    failed = true;
    const why = (err instanceof Error ? err.message : String(err)).split('\n').slice(0, 12).join('\n');
    console.log(`FAIL [${name}] ${title} (${((Date.now() - t0) / 1000).toFixed(1)} s): ${why}`);
    throw err;
  }
}

async function main(): Promise<void> {
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(userDir, { recursive: true });
  fs.writeFileSync(path.join(userDir, 'package.json'), JSON.stringify({ name: 'node-red-project', version: '0.0.1', private: true }, null, 2));

  const arch = await step('emulated Node.js starts', async () => {
    const out = expectOk(
      await emulated(['-p', 'JSON.stringify([process.arch, process.version, process.report.getReport().header.glibcVersionRuntime || null])'], { timeoutMs: 60_000 }),
      'node -p',
    );
    const [a, v, glibc] = JSON.parse(out) as [string, string, string | null];
    if (!['arm64', 'arm'].includes(a)) throw new Error(`process.arch is ${a}: not running emulated`);
    console.log(`     ${name}: node ${v} on ${a}, glibc ${glibc}, LIBC=${env.LIBC ?? '(unset: glibc)'}`);
    return a;
  });

  await step('npm install <packed tarball> (npm run by the emulated node)', async () => {
    const r = await emulated([npmCli, 'install', '--no-audit', '--no-fund', '--omit=dev', '--foreground-scripts', opt.tarball!], {
      cwd: userDir,
      timeoutMs: 600_000,
    });
    expectOk(r, 'npm install');
    if (!fs.existsSync(cli)) throw new Error(`${cli} is missing after the install`);
    const notes = (r.stdout + r.stderr).split('\n').filter((l) => /classic-level|gyp|prebuild/i.test(l));
    for (const l of notes.slice(0, 8)) console.log(`     npm: ${l.trim()}`);
  });

  await step(`native classic-level: ${opt['expect-native']}`, async () => {
    const probe =
      'let p = null; try { const d = require("path").dirname(require.resolve("classic-level")); p = require("node-gyp-build").path(d); require("classic-level"); } catch (e) { p = "none: " + e.message.split("\\n")[0]; } console.log(p)';
    const out = expectOk(await emulated(['-e', probe], { cwd: packDir, timeoutMs: 60_000 }), 'classic-level probe').trim();
    console.log(`     classic-level: ${out}`);
    if (opt['expect-native'] === 'none') {
      if (!out.startsWith('none:')) throw new Error(`classic-level loaded (${out}), expected it not to`);
    } else if (!new RegExp(opt['expect-native']!).test(out)) throw new Error(`expected a prebuild matching ${opt['expect-native']}, got ${out}`);
  });

  await step(`Ed25519 verifier: ${ed25519}`, async () => {
    const probe = 'console.log(JSON.stringify(require("./dist/lib/crypto/ed25519").ed25519Backend()))';
    const out = expectOk(await emulated(['-e', probe], { cwd: packDir, timeoutMs: 60_000 }), 'Ed25519 probe').trim();
    console.log(`     ed25519: ${out}`);
    if ((JSON.parse(out) as { backend: string }).backend !== ed25519) throw new Error(`expected ${ed25519}, got ${out}`);
  });

  const ledgerDir = path.join(work, 'cli-ledger');
  const gatewayKey = path.join(work, 'gateway.jwk');
  await step('CLI: keygen, append 3 records, audit CLEAN, prove #1, verify-proof', async () => {
    const did = expectOk(await emulated([cli, 'keygen', '--out', gatewayKey], { timeoutMs: 120_000 }), 'keygen').trim();
    if (!did.startsWith('did:key:z6Mk')) throw new Error(`keygen printed ${did}`);
    const lines = [1, 2, 3].map((i) => JSON.stringify({ type: 'note', body: { text: `arm check ${i}`, arch } })).join('\n') + '\n';
    const receipts = expectOk(await emulated([cli, 'append', ledgerDir, '--key', gatewayKey, '--name', `arm-${name}`], { input: lines, timeoutMs: 120_000 }), 'append');
    if (receipts.trim().split('\n').length !== 3) throw new Error(`append printed ${receipts}`);
    const audit = expectOk(await emulated([cli, 'audit', ledgerDir, '--key', did], { timeoutMs: 120_000 }), 'audit');
    if (!/^CLEAN: ledger "arm-[^"]+", 3 records/m.test(audit)) throw new Error(`audit said:\n${audit}`);
    if (!audit.includes(auditStorage)) throw new Error(`audit did not report ${auditStorage}:\n${audit}`);
    const proof = path.join(work, 'proof-1.json');
    expectOk(await emulated([cli, 'prove', ledgerDir, '1', '--out', proof, '--key', gatewayKey], { timeoutMs: 120_000 }), 'prove');
    const verified = await emulated([cli, 'verify-proof', proof, '--key', did], { timeoutMs: 120_000 });
    expectOk(verified, 'verify-proof');
    console.log(`     audit: ${audit.split('\n')[0]}; verify-proof: ${verified.stdout.split('\n')[0]}`);
  });

  let broker: Mosquitto | undefined;
  let nr: NodeRedProcess | undefined;
  let box: Mailbox | undefined;
  const sensorKey = generateKey('Ed25519');
  const sensor = { name: 'arm-sensor', did: keyToDid(sensorKey) };
  let recordedIndex = -1;
  try {
    broker = await startMosquitto();
    const { flow, ledgerName } = coldRoomExample(broker.port);
    // The example's "enrol example device" inject, given this sensor instead, is how it gets enrolled.
    const enrolInject = flow.find((n) => n.type === 'inject' && /enrol/i.test(String(n.name)));
    if (!enrolInject) throw new Error('examples/cold-room.json has no enrol inject');
    enrolInject.payload = JSON.stringify({ did: sensor.did, name: sensor.name, meta: { room: 'arm-check' } });
    seedFlows(userDir, flow);
    const mqttLedger = path.join(userDir, 'iot-ledger', 'ledgers', ledgerName);

    nr = await step('Node-RED starts with examples/cold-room.json', async () => {
      const proc = await NodeRedProcess.start({
        userDir,
        nodeRedInstall: opt['node-red']!,
        nodeBinary: nodeBin,
        env: { PATH: opt.path!, ...(opt.libc ? { LIBC: opt.libc } : {}), ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}) },
        startTimeoutMs: 300_000,
        logLevel: 'info',
      });
      await proc.waitForLine(/Started flows/, 240_000);
      const bad = proc.lines.filter((l) => /\[error\]|Error:/.test(l.text) && !/ECONNREFUSED/.test(l.text));
      if (bad.length) throw new Error(`Node-RED logged errors:\n${bad.map((l) => l.text).join('\n')}`);
      const versions = proc.lines.filter((l) => /Node-RED version|Node.js {2}version|iot-ledger/i.test(l.text)).map((l) => l.text.replace(/^.*?\] /, ''));
      for (const v of versions.slice(0, 6)) console.log(`     log: ${v}`);
      return proc;
    });
    const running = nr;

    await step(`Node-RED log names the storage: ${storageLog.source}`, async () => {
      const line = await running.waitForLine(storageLog, 60_000);
      console.log(`     log: ${line.replace(/^.*?\] /, '')}`);
    });
    await step(`Node-RED log names the Ed25519 verifier: ${ed25519Log.source}`, async () => {
      const line = await running.waitForLine(ed25519Log, 60_000);
      console.log(`     log: ${line.replace(/^.*?\] /, '')}`);
    });

    box = await Mailbox.connect(broker.url, [PROBE.recorded, PROBE.rejected]);
    const mailbox = box;
    await step('Enrol node (inject) enrols the sensor; a signed reading is verified and recorded', async () => {
      const res = await running.admin.raw('POST', `/inject/${enrolInject.id}`);
      if (res.status !== 200) throw new Error(`POST /inject answered ${res.status}: ${await res.text()}`);
      const deadline = Date.now() + 120_000;
      for (let counter = 1; ; counter++) {
        const payload = { temperature: -22.5, counter, ts: Date.now() };
        await mailbox.publish(`coldroom/${sensor.name}/reading`, signEnvelope(payload, sensorKey, { kid: sensor.did }) as string);
        const got = await mailbox
          .waitFor(PROBE.recorded, (m) => (JSON.parse(m.text) as { counter: number }).counter === counter, 3_000)
          .catch(() => undefined);
        if (got) {
          recordedIndex = (JSON.parse(got.text) as { index: number }).index;
          break;
        }
        // Before the enrolment lands a reading is ERR_UNKNOWN_DEVICE: expected, retried. Anything else fails.
        const other = mailbox.on(PROBE.rejected).find((m) => (JSON.parse(m.text) as { code: string }).code !== 'ERR_UNKNOWN_DEVICE');
        if (other) throw new Error(`the flow rejected a reading: ${other.text}`);
        if (Date.now() > deadline) throw new Error('no reading recorded within 120 s');
      }
      console.log(`     reading recorded at ledger index ${recordedIndex}`);
    });

    await step('Node-RED stops cleanly (SIGINT)', async () => {
      const exit = await running.stop(60_000);
      if (exit.signal === 'SIGKILL') throw new Error('Node-RED had to be killed');
    });

    await step('iot-ledger audit of the Node-RED ledger: CLEAN; export shows the reading', async () => {
      const audit = expectOk(await emulated([cli, 'audit', mqttLedger], { timeoutMs: 120_000 }), 'audit');
      if (!/^CLEAN: /m.test(audit) || !audit.includes(auditStorage)) throw new Error(`audit said (expected CLEAN, ${auditStorage}):\n${audit}`);
      const exported = expectOk(await emulated([cli, 'export', mqttLedger], { timeoutMs: 120_000 }), 'export');
      const records = exported
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { index?: number; type?: string; device?: string; body?: { counter?: number } });
      const reading = records.find((r) => r.type === 'reading' && r.device === sensor.did);
      if (!reading) throw new Error(`no reading of ${sensor.did} in the export:\n${exported.slice(0, 2000)}`);
      console.log(`     audit: ${audit.split('\n')[0]}`);
    });
  } finally {
    await box?.close().catch(() => undefined);
    await nr?.stop(30_000).catch(() => undefined);
    if (failed && nr) console.log(`--- Node-RED output (last 40 lines) ---\n${nr.output().split('\n').slice(-40).join('\n')}`);
    await broker?.stop();
  }
}

main().then(
  () => {
    console.log(`PASS [${name}] all steps (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  },
  (err: unknown) => {
    if (!failed) console.log(`FAIL [${name}] ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 1;
  },
);
