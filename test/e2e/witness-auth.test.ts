import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateKey } from '../../lib/crypto';
import { verifierKeyString } from '../../lib/note/note';
import { NodeRedProcess } from '../../demo/nodered/process';
import { ensureCredentialSecret, settingsSource } from '../../demo/nodered/settings';
import { createUserDir, linkIntoUserDir, seedFlows } from '../../demo/nodered/userdir';
import { httpTransport, parseWitnessKey, witnessVerifierKey } from '../../lib/witness';
import { projectRoot } from '../support/paths';
import { scratchDir } from '../support/e2e';

// A Witness node on a Node-RED whose settings set httpNodeAuth: add-checkpoint is behind it,
// and the gateway's HTTP transport passes user:password from the witness URL as Basic auth.
describe('e2e: witness behind httpNodeAuth', function () {
  this.timeout(120_000);
  let nr: NodeRedProcess | undefined;
  after(async () => {
    await nr?.kill();
  });

  it('answers 401 without the credentials and handles the request with them', async () => {
    const dir = createUserDir(scratchDir('witness-auth'));
    linkIntoUserDir(dir, projectRoot);
    const settings = settingsSource({ logLevel: 'warn' }).replace(
      /\n};\n$/,
      `\n  httpNodeAuth: { user: 'gateway', pass: '${createHash('md5').update('s3cret').digest('hex')}' },\n};\n`,
    );
    assert.ok(settings.includes('httpNodeAuth'));
    fs.writeFileSync(path.join(dir, 'settings.js'), settings);
    ensureCredentialSecret(dir);
    const gw = generateKey('Ed25519');
    const wkey = generateKey('Ed25519');
    seedFlows(dir, [
      { id: 't', type: 'tab', label: 'witness' },
      { id: 'w', type: 'iot-ledger-witness', z: 't', keyName: 'w.auth', logs: verifierKeyString('auth.log', gw), prefix: '/witness', wires: [[]] },
    ]);
    nr = await NodeRedProcess.start({ userDir: dir, writeSettings: false });
    const url = `${nr.url}/witness/add-checkpoint`;
    assert.equal((await fetch(url, { method: 'POST', body: 'old 0\n\nx\n' })).status, 401);
    const t = httpTransport(5000);
    const endpoint = { key: parseWitnessKey(witnessVerifierKey('w.auth', wkey)), url: `http://gateway:s3cret@127.0.0.1:${nr.port}/witness` };
    const r = await t(endpoint, 'old 0\n\nnot a checkpoint\n');
    assert.equal(r.status, 400, r.body);
    const wrong = await t({ ...endpoint, url: endpoint.url.replace('s3cret', 'guess') }, 'old 0\n\nx\n');
    assert.equal(wrong.status, 401);
  });
});
