import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { generateKey, keyToDid } from '../../lib/crypto';
import { Ledger } from '../../lib/ledger';
import { runCli, type CliResult } from '../support/cli';
import { tempDir } from '../support/ledger';
import { projectRoot } from '../support/paths';
import { startTileServer, type TileServer } from '../support/tile-server';

/** The CLI in a child process, without blocking this one (it serves the tiles). */
function runCliAsync(args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(projectRoot, 'dist', 'bin', 'iot-ledger.js'), ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => resolve({ status: status ?? -1, stdout, stderr }));
  });
}

/** Serves a directory of static files, as any web server would (no gzip, no index). */
async function staticServer(root: string): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const p = path.join(root, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    if (!p.startsWith(root) || !fs.existsSync(p) || !fs.statSync(p).isFile()) return void res.writeHead(404).end();
    res.writeHead(200).end(fs.readFileSync(p));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('CLI: replicate and tiles', function () {
  this.timeout(60000);
  const tmp = tempDir('replica-cli-');
  const key = generateKey('Ed25519');
  const did = keyToDid(key);
  let gateway: Ledger;
  let server: TileServer;

  before(async () => {
    gateway = await Ledger.open(path.join(tmp.dir, 'gw'), { name: 'cli.replica', gatewayKey: key, blockRecords: 64, blockSeconds: 0 });
    await gateway.appendMany(Array.from({ length: 700 }, (_, i) => ({ type: 'note', body: { i } })));
    await gateway.seal();
    server = await startTileServer(gateway);
  });
  after(async () => {
    await server.close();
    await gateway.close();
    tmp.cleanup();
  });

  it('replicate URL DIR --key: one catch-up, exit 0, and the copy audits CLEAN; again fetches nothing', async () => {
    const dir = path.join(tmp.dir, 'copy');
    let r = await runCliAsync(['replicate', server.url, dir, '--key', did]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /700 records in 11 blocks, origin at 700, fetched 700/);
    assert.equal(r.stderr, '', 'no progress bar when not on a terminal');
    r = runCli(['audit', dir, '--key', did]);
    assert.equal(r.status, 0, r.stdout);
    assert.match(r.stdout, /^CLEAN: ledger "cli\.replica", 700 records in 11 blocks/);
    r = await runCliAsync(['replicate', server.url, dir, '--key', did]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /fetched 0\n/);
  });

  it('tiles DIR OUT writes static files any web server can serve; a replica of them audits CLEAN', async () => {
    const out = path.join(tmp.dir, 'static');
    await gateway.close();
    let r = runCli(['tiles', path.join(tmp.dir, 'gw'), out]);
    gateway = await Ledger.open(path.join(tmp.dir, 'gw'), { gatewayKey: key, blockRecords: 64, blockSeconds: 0 });
    server.ledger = gateway;
    assert.equal(r.status, 0, r.stderr);
    for (const f of ['checkpoint', 'iot-ledger/meta', 'iot-ledger/head', 'tile/0/000', 'tile/0/002.p/188', 'tile/1/000.p/2', 'tile/entries/002.p/188', 'iot-ledger/blocks/000.p/11'])
      assert.ok(fs.existsSync(path.join(out, f)), f);
    const web = await staticServer(out);
    try {
      const dir = path.join(tmp.dir, 'copy-static');
      r = await runCliAsync(['replicate', web.url, dir, '--key', did]);
      assert.equal(r.status, 0, r.stderr);
      r = runCli(['audit', dir, '--key', did]);
      assert.equal(r.status, 0, r.stdout);
    } finally {
      await web.close();
    }
  });

  it('failover: with the gateway directory gone, proofs from the replica verify with the gateway key', async () => {
    const dir = path.join(tmp.dir, 'failover');
    const origin = path.join(tmp.dir, 'gw2');
    const gw2 = await Ledger.open(origin, { name: 'cli.failover', gatewayKey: key, blockRecords: 50, blockSeconds: 0 });
    await gw2.appendMany(Array.from({ length: 230 }, (_, i) => ({ type: 'note', body: { i } })));
    await gw2.seal();
    await gw2.append({ type: 'note', body: { unsealed: true } });
    const served = await startTileServer(gw2);
    let r: CliResult;
    try {
      r = await runCliAsync(['replicate', served.url, dir, '--key', did]);
      assert.equal(r.status, 0, r.stderr);
    } finally {
      await served.close();
      await gw2.close();
    }
    fs.rmSync(origin, { recursive: true, force: true });
    r = runCli(['audit', dir, '--key', did]);
    assert.equal(r.status, 0, r.stdout);
    assert.match(r.stdout, /230 records/, 'every record up to the last verified checkpoint (the unsealed one was never published)');
    for (const index of ['0', '137', '229']) {
      const file = path.join(tmp.dir, `proof-${index}.json`);
      r = runCli(['prove', dir, index, '--out', file]);
      assert.equal(r.status, 0, r.stderr);
      r = runCli(['verify-proof', file, '--key', did]);
      assert.equal(r.status, 0, r.stdout + r.stderr);
    }
  });

  it('a wrong key is refused with exit 2 and a typed error', async () => {
    const r = await runCliAsync(['replicate', server.url, path.join(tmp.dir, 'other'), '--key', keyToDid(generateKey('Ed25519'))]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /ERR_REPLICA_ORIGIN/);
    assert.equal(fs.existsSync(path.join(tmp.dir, 'other')), false, 'no directory is created for an origin the key does not sign for');
  });
});
