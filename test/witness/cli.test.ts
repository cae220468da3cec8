import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateKey } from '../../lib/crypto';
import { Ledger } from '../../lib/ledger';
import {
  parseWitnessEndpoints,
  parseWitnessedLogs,
  parseWitnessKey,
  WitnessClient,
  WitnessService,
  WitnessState,
  witnessVerifierKey,
  type CosignedStatus,
  type Transport,
} from '../../lib/witness';
import { runCli } from '../support/cli';
import { gatewayKey, tempDir } from '../support/ledger';

// The command line with witnesses: prove gives the cosigned checkpoint, verify-proof and audit
// accept it only with a quorum, audit --from takes a witness's latest cosigned checkpoint.
describe('iot-ledger CLI with witnesses', function () {
  this.timeout(60000);
  const tmp = tempDir();
  const dir = path.join(tmp.dir, 'ledger');
  const names = ['w1.cli', 'w2.cli', 'w3.cli'];
  const keys = names.map(() => generateKey('Ed25519'));
  const vkeys = names.map((n, i) => witnessVerifierKey(n, keys[i]));
  let gwKey = '';
  let services: WitnessService[] = [];

  async function grow(ledger: Ledger, n: number, witnesses: number): Promise<void> {
    const endpoints = parseWitnessEndpoints(vkeys.slice(0, witnesses).map((v) => `${v} http://127.0.0.1:1`).join('\n'));
    const transport: Transport = async (e, body) => services[names.indexOf(e.key.name)].addCheckpoint(body);
    const client = new WitnessClient(ledger, endpoints, { quorum: witnesses, transport });
    const done = new Promise<CosignedStatus>((resolve) => client.on('status', (s: CosignedStatus) => s.size === ledger.size && s.cosigned === witnesses && resolve(s)));
    for (let i = 0; i < n; i++) await ledger.append({ type: 'note', body: { i } });
    await ledger.seal();
    await done;
    await client.close();
  }

  before(async () => {
    const ledger = await Ledger.open(dir, { name: 'cli-witnessed', gatewayKey, blockRecords: 1000, blockSeconds: 3600 });
    gwKey = ledger.verifierKey;
    const logs = parseWitnessedLogs(gwKey);
    services = names.map((n, i) => new WitnessService({ cosigner: { name: n, key: keys[i] }, logs, state: new WitnessState(path.join(tmp.dir, n)) }));
    await grow(ledger, 4, 2);
    await ledger.close();
  });
  after(() => tmp.cleanup());

  it('witness keygen prints a cosignature/v1 verifier key and writes a 0600 key file', () => {
    const out = path.join(tmp.dir, 'w.jwk');
    const r = runCli(['witness', 'keygen', '--name', 'w.example/x', '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(parseWitnessKey(r.stdout.trim()).name, 'w.example/x');
    assert.equal(fs.statSync(out).mode & 0o777, 0o600);
    assert.equal(runCli(['witness', 'keygen', '--name', 'bad name']).status, 2);
  });

  it('prove carries the cosigned checkpoint; verify-proof needs the quorum', () => {
    const bundleFile = path.join(tmp.dir, 'b.json');
    const p = runCli(['prove', dir, '2', '--out', bundleFile]);
    assert.equal(p.status, 0, p.stderr);
    const bundle = JSON.parse(fs.readFileSync(bundleFile, 'utf8')) as { checkpoint: string };
    assert.equal((bundle.checkpoint.match(/\u2014 /g) ?? []).length, 3);
    const ok = runCli(['verify-proof', bundleFile, '--key', gwKey, '--witness', vkeys[0], '--witness', vkeys[1], '--quorum', '2']);
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /cosigned by 2 of the 2 witnesses given \(quorum 2\): w1\.cli, w2\.cli/);
    const short = runCli(['verify-proof', bundleFile, '--key', gwKey, '--witness', vkeys[0], '--witness', vkeys[2], '--quorum', '2', '--json']);
    assert.equal(short.status, 1);
    assert.equal((JSON.parse(short.stdout) as { code: string }).code, 'ERR_WITNESS_QUORUM');
    assert.equal(runCli(['verify-proof', bundleFile, '--key', gwKey, '--witness', vkeys[0], '--quorum', '2']).status, 2);
  });

  it('audit --witness reports the newest checkpoint with a quorum, and fails without one', () => {
    const ok = runCli(['audit', dir, '--key', gwKey, '--witness', vkeys[0], '--witness', vkeys[1]]);
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /witnesses: block 0 \(tree size 4\) is cosigned by w1\.cli, w2\.cli \(quorum 2 of 2\)/);
    const none = runCli(['audit', dir, '--key', gwKey, '--witness', vkeys[2], '--quorum', '1']);
    assert.equal(none.status, 1);
    assert.match(none.stdout, /NO checkpoint of this ledger has 1 of the 1/);
    assert.equal(runCli(['audit', dir, '--witness', vkeys[0]]).status, 2);
  });

  it('audit --from takes a witness latest checkpoint and catches a rolled-back copy', async () => {
    const copy = path.join(tmp.dir, 'copy');
    fs.cpSync(dir, copy, { recursive: true });
    const ledger = await Ledger.open(dir, { gatewayKey });
    await grow(ledger, 3, 2);
    await ledger.close();
    const latest = services[0].latest('cli-witnessed');
    assert.ok(latest);
    const from = path.join(tmp.dir, 'w1-latest.txt');
    fs.writeFileSync(from, latest);
    const good = runCli(['audit', dir, '--key', gwKey, '--from', from, '--witness', vkeys[0], '--quorum', '1']);
    assert.equal(good.status, 0, good.stdout + good.stderr);
    // The old copy, rolled back to 4 records, then new records of its own.
    const forked = await Ledger.open(copy, { gatewayKey });
    for (let i = 0; i < 5; i++) await forked.append({ type: 'note', body: { forked: i } });
    await forked.seal();
    await forked.close();
    const caught = runCli(['audit', copy, '--key', gwKey, '--from', from, '--json']);
    assert.equal(caught.status, 1, caught.stdout);
    const report = JSON.parse(caught.stdout) as { findings: { kind: string }[] };
    assert.equal(report.findings[0].kind, 'consistency');
    // A starting checkpoint without the quorum is refused before the audit.
    const refused = runCli(['audit', dir, '--key', gwKey, '--from', from, '--witness', vkeys[2], '--quorum', '1']);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /starting checkpoint is refused/);
  });
});
