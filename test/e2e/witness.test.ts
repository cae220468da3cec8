import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKey } from '../../lib/crypto';
import { writeKeyFile } from '../../lib/crypto/keyfile';
import { verifierKeyString } from '../../lib/note/note';
import { ledgerPaths } from '../../lib/gateway/paths';
import { NodeRedProcess } from '../../demo/nodered/process';
import { createUserDir, linkIntoUserDir, seedFlows } from '../../demo/nodered/userdir';
import { freePort } from '../../demo/ports';
import { witnessVerifierKey } from '../../lib/witness';
import type { AuditReport } from '../../lib/audit';
import { projectRoot } from '../support/paths';
import { scratchDir } from '../support/e2e';
import { iotLedger } from '../support/ledger-runtime';
import { until } from '../support/until';

// Three real Node-RED processes: a gateway whose Ledger node names two witnesses, and two
// witnesses serving C2SP add-checkpoint, the first over HTTP, the second over MQTT through
// Debian's mosquitto. Records come in over HTTP (an http in ->
// Record flow). Checkpoints reach 2/2; one witness killed (SIGKILL) leaves 1/2 with quorum 1
// met, and it catches up after restart; the gateway's ledger replaced by an older copy with
// new records appended makes both witnesses refuse and keep evidence, and verify-proof
// --quorum 2 refuses the forked log's bundles.

const LEDGER = 'witnessed-e2e';
const WITNESSES = ['w1.e2e.example', 'w2.e2e.example'];

interface SidebarWitnesses {
  size: number;
  cosigned: number;
  of: number;
  met: boolean;
  witnesses: { name: string; size?: number; last?: string }[];
}

/** The processes answer once started: a refused request until then is polled again. */
const POLL = { timeoutMs: 60_000, pollMs: 200, retryErrors: true };

describe('e2e: witnesses (three Node-RED processes, HTTP and mosquitto)', function () {
  this.timeout(300_000);
  const gwKey = generateKey('Ed25519');
  const gwVkey = verifierKeyString(LEDGER, gwKey);
  const wKeys = WITNESSES.map(() => generateKey('Ed25519'));
  const wVkeys = WITNESSES.map((n, i) => witnessVerifierKey(n, wKeys[i]));
  const wDirs = WITNESSES.map(() => createUserDir(scratchDir('witness')));
  const gDir = createUserDir(scratchDir('gateway'));
  let wPorts: number[] = [];
  const ws: (NodeRedProcess | undefined)[] = [undefined, undefined];
  let gw: NodeRedProcess | undefined;
  let mosquitto: ChildProcess | undefined;
  let mqttUrl = '';

  const startWitness = async (i: number) => {
    ws[i] = await NodeRedProcess.start({ userDir: wDirs[i], port: wPorts[i], logLevel: 'warn' });
  };
  const startGateway = async () => {
    gw = await NodeRedProcess.start({ userDir: gDir, logLevel: 'info' });
    // The admin API answers before the flows run: /rec is a 404 until they have started.
    await gw.waitForLine(/Started flows/, 60_000);
  };
  const record = async (n: number, tag: string) => {
    for (let i = 0; i < n; i++) {
      const r = await fetch(`${gw!.url}/rec`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ tag, i }) });
      assert.equal(r.status, 200, await r.text());
    }
  };
  const witnessing = () =>
    gw!.admin
      .request<{ ledgers: { name: string; witnesses: SidebarWitnesses | null }[] }>('GET', '/iot-ledger/sidebar')
      .then((r) => r.ledgers.find((x) => x.name === LEDGER)?.witnesses ?? undefined);
  const evidence = (i: number) => {
    const dir = path.join(wDirs[i], 'iot-ledger', 'witness', WITNESSES[i].replace(/[^A-Za-z0-9._-]/g, '_'), 'evidence');
    // Only whole files: one being written is a temporary file beside it until it is renamed into place.
    return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.json')) : [];
  };

  before(async () => {
    wPorts = [await freePort(), await freePort()];
    const brokerPort = await freePort();
    mosquitto = spawn('/usr/sbin/mosquitto', ['-p', String(brokerPort)], { stdio: 'ignore' });
    mqttUrl = `mqtt://127.0.0.1:${brokerPort}`;
    for (const [i, dir] of wDirs.entries()) {
      linkIntoUserDir(dir, projectRoot);
      writeKeyFile(path.join(dir, 'iot-ledger', 'keys', `${WITNESSES[i]}.witness.jwk`), wKeys[i]);
      const transport = i === 0 ? { prefix: '/witness' } : { prefix: '-', mqttUrl, mqttTopic: 'witnesses/w2' };
      seedFlows(dir, [
        { id: 'tw', type: 'tab', label: 'witness' },
        { id: 'w', type: 'iot-ledger-witness', z: 'tw', keyName: WITNESSES[i], logs: gwVkey, ...transport, wires: [[]] },
      ]);
    }
    linkIntoUserDir(gDir, projectRoot);
    writeKeyFile(ledgerPaths(gDir, LEDGER).keyFile, gwKey);
    seedFlows(gDir, [
      { id: 'tg', type: 'tab', label: 'gateway' },
      {
        id: 'ledger',
        type: 'iot-ledger-config',
        ledgerName: LEDGER,
        blockRecords: 5,
        blockSeconds: 3600,
        witnesses: `${wVkeys[0]} http://127.0.0.1:${wPorts[0]}/witness\n${wVkeys[1]} ${mqttUrl}/witnesses/w2`,
        quorum: '1',
      },
      { id: 'in', type: 'http in', z: 'tg', url: '/rec', method: 'post', wires: [['rec']] },
      { id: 'rec', type: 'iot-ledger-record', z: 'tg', ledger: 'ledger', recordType: 'note', allowOverride: false, wires: [['res']] },
      { id: 'res', type: 'http response', z: 'tg', statusCode: '200', wires: [] },
      { id: 'ain', type: 'http in', z: 'tg', url: '/audit', method: 'get', wires: [['audit']] },
      { id: 'audit', type: 'iot-ledger-audit', z: 'tg', ledger: 'ledger', mode: 'full', interval: '0', wires: [['res']] },
    ]);
    await Promise.all([startWitness(0), startWitness(1)]);
    await startGateway();
  });

  after(async () => {
    for (const p of [gw, ...ws]) await p?.kill().catch(() => undefined);
    mosquitto?.kill();
  });

  it('cosigns every block 2/2, and the witness endpoint speaks C2SP (409 text/x.tlog.size)', async () => {
    await record(5, 'first');
    const s = await until('2/2 at size 5', async () => {
      const w = await witnessing();
      return w && w.size === 5 && w.cosigned === 2 ? w : undefined;
    }, POLL);
    assert.equal(s.met, true);
    const stale = await fetch(`http://127.0.0.1:${wPorts[0]}/witness/add-checkpoint`, { method: 'POST', body: 'old 0\n\nnot a checkpoint\n' });
    assert.equal(stale.status, 400);
    const latest = await fetch(`http://127.0.0.1:${wPorts[0]}/witness/checkpoint?origin=${encodeURIComponent(LEDGER)}`);
    assert.equal(latest.status, 200);
    const note = await latest.text();
    const replay = await fetch(`http://127.0.0.1:${wPorts[0]}/witness/add-checkpoint`, { method: 'POST', body: `old 0\n\n${note}` });
    assert.equal(replay.status, 409);
    assert.equal(replay.headers.get('content-type'), 'text/x.tlog.size');
    assert.equal(await replay.text(), '5\n');
    // The Audit node checks the stored cosignatures with the keys of the Ledger node's witnesses.
    const audit = await fetch(`${gw!.url}/audit`);
    assert.equal(audit.status, 200);
    const report = (await audit.json()) as AuditReport;
    assert.equal(report.clean, true, JSON.stringify(report.findings));
    assert.deepEqual(
      report.cosigned.witnesses.map((w) => [w.name, w.blocks, w.newest?.size]),
      WITNESSES.map((n) => [n, 1, 5]),
    );
    assert.deepEqual([report.cosigned.entries, report.cosigned.verified, report.cosigned.unchecked], [1, 2, 0]);
  });

  it('keeps quorum 1 with a witness killed, and the witness catches up after restart', async () => {
    // An older copy of the ledger, taken while the gateway is stopped, for the fork test below.
    await gw!.stop();
    fs.cpSync(ledgerPaths(gDir, LEDGER).dir, path.join(gDir, 'ledger-at-5'), { recursive: true });
    await startGateway();
    await ws[1]!.kill();
    await record(5, 'second');
    const one = await until('1/2 at size 10', async () => {
      const w = await witnessing();
      return w && w.size === 10 && w.cosigned === 1 ? w : undefined;
    }, POLL);
    assert.equal(one.met, true);
    await startWitness(1);
    await until('2/2 at size 10', async () => {
      const w = await witnessing();
      return w && w.size === 10 && w.cosigned === 2 ? w : undefined;
    }, POLL);
  });

  it('refuses a rolled-back and forked gateway: evidence on both witnesses, verify-proof --quorum 2 refuses', async () => {
    const dir = ledgerPaths(gDir, LEDGER).dir;
    // The good ledger's bundle first: it verifies with the quorum.
    await gw!.stop();
    const goodBundle = path.join(gDir, 'good.json');
    const good = await iotLedger(['prove', dir, '7', '--out', goodBundle]);
    assert.equal(good.code, 0, good.stderr);
    const ok = await iotLedger(['verify-proof', goodBundle, '--key', gwVkey, '--witness', wVkeys[0], '--witness', wVkeys[1], '--quorum', '2']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    // Roll back to the copy at 5 records and append 5 others: a fork at the size the witnesses hold.
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(path.join(gDir, 'ledger-at-5'), dir);
    await startGateway();
    await record(5, 'forked');
    await until('evidence on both witnesses', async () => (evidence(0).length > 0 && evidence(1).length > 0 ? true : undefined), POLL);
    for (const i of [0, 1]) {
      assert.equal(evidence(i).length, 1, 'a retried fork is kept once');
      const file = path.join(wDirs[i], 'iot-ledger', 'witness', WITNESSES[i], 'evidence', evidence(i)[0]);
      const e = JSON.parse(fs.readFileSync(file, 'utf8')) as { kind: string; latest: string; submitted: string };
      assert.equal(e.kind, 'equivocation');
      assert.notEqual(e.latest.split('\n')[2], e.submitted.split('\n')[2], 'two roots for one size');
      // Anyone with the gateway's public key can check it offline.
      const checked = await iotLedger(['verify-evidence', file, '--key', gwVkey]);
      assert.equal(checked.code, 0, checked.stdout + checked.stderr);
      assert.match(checked.stdout, /^conflict shown for ledger witnessed-e2e: the gateway signed two trees/);
    }
    // The Catch-able error is logged by each witness (after its evidence file is written).
    for (const p of ws) await p!.waitForLine(/\[error\] \[iot-ledger-witness:w\] .*witnessed-e2e: .*evidence kept in/, 20_000);
    const w = await witnessing();
    assert.equal(w?.size, 10);
    assert.equal(w?.cosigned, 0);
    await gw!.stop();
    const forkedBundle = path.join(gDir, 'forked.json');
    const p = await iotLedger(['prove', dir, '7', '--out', forkedBundle]);
    assert.equal(p.code, 0, p.stderr);
    const refused = await iotLedger(['verify-proof', forkedBundle, '--key', gwVkey, '--witness', wVkeys[0], '--witness', wVkeys[1], '--quorum', '2', '--json']);
    assert.equal(refused.code, 1, refused.stdout);
    assert.equal((JSON.parse(refused.stdout) as { code: string }).code, 'ERR_WITNESS_QUORUM');
    // Without the witnesses the forked bundle is a valid gateway-signed proof: only the quorum catches it.
    assert.equal((await iotLedger(['verify-proof', forkedBundle, '--key', gwVkey])).code, 0);
  });
});
