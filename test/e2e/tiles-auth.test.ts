import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { verifierKeyString } from '../../lib/note/note';
import { readPrivateKeyFile } from '../../lib/crypto/keyfile';
import { openCheckpoint } from '../../lib/note/checkpoint';
import { ledgerPaths } from '../../lib/gateway/paths';
import { NodeRedProcess } from '../../demo/nodered/process';
import { ensureCredentialSecret, settingsSource } from '../../demo/nodered/settings';
import { createUserDir, linkIntoUserDir, seedFlows } from '../../demo/nodered/userdir';
import { projectRoot } from '../support/paths';
import { scratchDir } from '../support/e2e';
import { until } from '../support/until';

// The tile routes are on RED.httpNode: a Node-RED whose settings set httpNodeAuth guards them
// like any HTTP in node (401 without Basic credentials, the tiles with them, marked private so
// that no shared cache serves them to clients without the credentials).
describe('e2e: tiles behind httpNodeAuth', function () {
  this.timeout(120_000);
  let nr: NodeRedProcess | undefined;
  after(async () => {
    await nr?.kill();
  });

  it('answers 401 without the credentials or with wrong ones, and serves checkpoint, tiles and entries with them', async () => {
    const dir = createUserDir(scratchDir('tiles-auth'));
    linkIntoUserDir(dir, projectRoot);
    const settings = settingsSource({ logLevel: 'warn' }).replace(
      /\n};\n$/,
      `\n  httpNodeAuth: { user: 'replica', pass: '${createHash('md5').update('s3cret').digest('hex')}' },\n};\n`,
    );
    assert.ok(settings.includes('httpNodeAuth'));
    fs.writeFileSync(path.join(dir, 'settings.js'), settings);
    ensureCredentialSecret(dir);
    seedFlows(dir, [
      { id: 't', type: 'tab', label: 'tiles' },
      { id: 'l', type: 'iot-ledger-config', ledgerName: 'auth', dir: '', blockRecords: 1000, blockSeconds: 1, publishTiles: true },
      { id: 'i', type: 'inject', z: 't', name: 'note', props: [{ p: 'payload' }], once: true, onceDelay: 0.1, payload: '{"hello":"tiles"}', payloadType: 'json', wires: [['r']] },
      { id: 'r', type: 'iot-ledger-record', z: 't', name: 'record', ledger: 'l', recordType: 'note', allowOverride: false, wires: [[]] },
    ]);
    nr = await NodeRedProcess.start({ userDir: dir, writeSettings: false });
    const base = `${nr.url}/iot-ledger/tiles/auth`;
    const basic = { authorization: `Basic ${Buffer.from('replica:s3cret').toString('base64')}` };
    const wrong = { authorization: `Basic ${Buffer.from('replica:guess').toString('base64')}` };

    // The note is sealed in a block within a second or so: wait for the checkpoint (with the credentials).
    let status: number | undefined;
    const checkpoint = await until(
      () => `the checkpoint (last answer ${status})`,
      async () => {
        const res = await fetch(`${base}/checkpoint`, { headers: basic });
        status = res.status;
        return res.status === 200 && res;
      },
      { timeoutMs: 30_000, pollMs: 250 },
    );
    const note = await checkpoint.text();
    assert.equal(checkpoint.status, 200, note);
    const gatewayKey = verifierKeyString('auth', readPrivateKeyFile(ledgerPaths(dir, 'auth').keyFile));
    const opened = openCheckpoint(note, gatewayKey);
    assert.ok(opened.size >= 1);

    for (const p of ['checkpoint', 'tile/0/000.p/1', 'tile/entries/000.p/1', 'iot-ledger/meta']) {
      assert.equal((await fetch(`${base}/${p}`)).status, 401, `${p} without credentials`);
      assert.equal((await fetch(`${base}/${p}`, { headers: wrong })).status, 401, `${p} with a wrong password`);
      const ok = await fetch(`${base}/${p}`, { headers: basic });
      assert.equal(ok.status, 200, `${p} with the credentials`);
      // Private: a shared cache in front must not keep it for clients without the credentials.
      const cacheControl = ok.headers.get('cache-control') ?? '';
      assert.match(cacheControl, /^private, /, `${p}: ${cacheControl}`);
      assert.doesNotMatch(cacheControl, /public/, `${p}: ${cacheControl}`);
      assert.ok((await ok.arrayBuffer()).byteLength > 0);
    }
  });
});
