// Interop: Go's golang.org/x/mod/sumdb/note and sumdb/tlog read the checkpoints and
// proofs the CLI writes, header line included. Go is required (CI installs Debian's
// golang-go and golang-golang-x-mod-dev); a missing toolchain fails, it does not skip.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { toBase64 } from '../lib/encoding/bytes';
import { Ledger } from '../lib/ledger';
import { tempDir } from './support/audit-fixtures';
import { runCli } from './support/cli';
import { projectRoot } from './support/paths';

const GOPATH = '/usr/share/gocode';
const PROGRAM = path.join(projectRoot, 'test', 'interop', 'checkpoint.go');

function goRun(args: string[], input: string, cache: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('go', ['run', PROGRAM, ...args], {
    input,
    encoding: 'utf8',
    timeout: 120000,
    // GOPATH mode, offline: the x/mod sources come from Debian's golang-golang-x-mod-dev.
    env: { ...process.env, GOPATH, GO111MODULE: 'off', GOFLAGS: '', GOPROXY: 'off', GOCACHE: cache },
  });
  if (r.error) throw new Error(`cannot run go (install golang-go and golang-golang-x-mod-dev): ${r.error.message}`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('checkpoints and proofs read by Go sumdb/note and sumdb/tlog', function () {
  this.timeout(180000);
  let dir: string;
  before(() => {
    dir = tempDir('go-interop-');
    assert.ok(fs.existsSync(path.join(GOPATH, 'src', 'golang.org', 'x', 'mod', 'sumdb', 'note')), 'golang-golang-x-mod-dev is not installed');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('opens the signed note, reads size, root and the header line, and checks the inclusion proof', async () => {
    const ledgerDir = path.join(dir, 'ledger');
    const keyFile = path.join(dir, 'gateway.jwk');
    const input = Array.from({ length: 25 }, (_, i) => JSON.stringify({ type: 'note', body: { i } })).join('\n');
    const appended = runCli(['append', ledgerDir, '--key', keyFile, '--name', 'example.com/cold-room'], input);
    assert.equal(appended.status, 0, appended.stderr);
    const proved = runCli(['prove', ledgerDir, '7']);
    assert.equal(proved.status, 0, proved.stderr);
    const info = JSON.parse(runCli(['info', ledgerDir, '--json']).stdout) as { verifier: string };

    const ledger = await Ledger.open(ledgerDir, { readOnly: true });
    const block = await ledger.latestBlock();
    await ledger.close();
    assert.ok(block);

    const go = goRun([info.verifier], proved.stdout, path.join(dir, 'gocache'));
    assert.equal(go.status, 0, go.stderr);
    const read = JSON.parse(go.stdout) as { origin: string; size: number; root: string; extensions: string[]; signers: string[]; included: boolean };
    assert.equal(read.origin, 'example.com/cold-room');
    assert.equal(read.size, 25);
    assert.equal(read.root, toBase64(block.header.root));
    assert.deepEqual(read.extensions, [`iot-ledger header ${block.height} ${toBase64(block.hash)}`]);
    assert.deepEqual(read.signers, ['example.com/cold-room']);
    assert.equal(read.included, true);

    // The same bundle with one root bit changed is refused by Go (the test can fail).
    const bundle = JSON.parse(proved.stdout) as { checkpoint: string };
    const forged = { ...bundle, checkpoint: bundle.checkpoint.replace(/\n(\d+)\n/, (_m, n: string) => `\n${Number(n) + 1}\n`) };
    const refused = goRun([info.verifier], JSON.stringify(forged), path.join(dir, 'gocache'));
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /note.Open/);
  });
});
