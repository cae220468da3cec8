import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { didToKey, readPrivateKeyFile, signEnvelope, toHex } from '../lib/index';
import { runCli } from './support/cli';

describe('CLI: keygen and check', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iot-ledger-cli-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const alg of ['ed25519', 'p256']) {
    it(`keygen --alg ${alg} writes a 0600 private JWK and prints its did:key`, () => {
      const file = path.join(dir, `${alg}.jwk`);
      const r = runCli(['keygen', '--alg', alg, '--out', file]);
      assert.equal(r.status, 0, r.stderr);
      const did = r.stdout.trim();
      assert.match(did, alg === 'ed25519' ? /^did:key:z6Mk/ : /^did:key:zDn/);
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      const key = readPrivateKeyFile(file);
      assert.deepEqual(didToKey(did).publicKey, key.publicKey);
      assert.ok(!r.stdout.includes(JSON.parse(fs.readFileSync(file, 'utf8')).d), 'private key never printed');
    });
  }

  it('check: valid JWS (argument), COSE (hex, file, stdin) exit 0; forged exits 1; usage exits 2', () => {
    const file = path.join(dir, 'dev.jwk');
    const did = runCli(['keygen', '--out', file]).stdout.trim();
    const key = readPrivateKeyFile(file);
    const jws = signEnvelope({ temperature: -22 }, key, { kid: did }) as string;
    let r = runCli(['check', jws, '--key', did, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const rep = JSON.parse(r.stdout);
    assert.equal(rep.valid, true);
    assert.deepEqual(rep.payload, { temperature: -22 });
    assert.equal(rep.signer, did);

    const cose = signEnvelope('hi', key, { format: 'cose' }) as Uint8Array;
    assert.equal(runCli(['check', toHex(cose), '--key', file]).status, 0);
    const coseFile = path.join(dir, 'msg.cose');
    fs.writeFileSync(coseFile, cose);
    r = runCli(['check', coseFile, '--key', did]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^valid/);
    assert.equal(runCli(['check', '-', '--key', did], Buffer.from(cose)).status, 0);

    const forged = jws.slice(0, -6) + (jws.endsWith('AAAAAA') ? 'BBBBBB' : 'AAAAAA');
    r = runCli(['check', forged, '--key', did, '--json']);
    assert.equal(r.status, 1);
    assert.equal(JSON.parse(r.stdout).code, 'ERR_BAD_SIGNATURE');
    assert.equal(runCli(['check', jws]).status, 2);
    assert.equal(runCli(['check', jws, '--key', 'did:key:zBAD']).status, 2);
    assert.equal(runCli(['nonsense']).status, 2);
  });
});
