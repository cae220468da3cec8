import * as assert from 'node:assert/strict';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { AdminApiError } from '../../demo/nodered/admin-client';
import { NodeRedProcess, NodeRedStartError } from '../../demo/nodered/process';
import { createUserDir } from '../../demo/nodered/userdir';
import { assertPortFree, ListenError } from '../../demo/ports';
import { scratchDir } from '../support/e2e';

// The harness itself, against the project's Node-RED 4 with no package installed.

describe('e2e: NodeRedProcess', function () {
  this.timeout(60_000);
  let nr: NodeRedProcess | undefined;

  afterEach(async () => {
    await nr?.kill();
    nr = undefined;
  });

  it('starts behind adminAuth, deploys a flow that runs, and stops cleanly on SIGINT', async () => {
    const credentials = { username: 'admin', password: 'harness-pass' };
    const userDir = createUserDir(scratchDir('proc'));
    nr = await NodeRedProcess.start({ userDir, adminAuth: credentials });
    assert.equal((await fetch(`${nr.url}/flows`)).status, 401, 'the admin API needs a token');
    assert.ok(!nr.output().includes(credentials.password), 'the password is never logged');

    const flows = [
      { id: 'tab1', type: 'tab', label: 'harness' },
      { id: 'inj1', type: 'inject', z: 'tab1', once: true, onceDelay: 0.1, repeat: '', payload: '', payloadType: 'date', wires: [['fn1']] },
      { id: 'fn1', type: 'function', z: 'tab1', func: "node.warn('harness-marker ' + typeof msg.payload); return null;", outputs: 1, wires: [[]] },
    ];
    const rev = await nr.deployFlows(flows);
    const got = await nr.getFlows();
    assert.equal(got.rev, rev);
    assert.deepEqual(
      got.flows.map((n) => (n as { id: string }).id),
      flows.map((n) => n.id),
    );
    await nr.waitForLine(/\[warn\] \[function:fn1\] harness-marker number/, 10_000);
    assert.ok(fs.existsSync(path.join(userDir, 'flows.json')));
    assert.ok((await nr.getNodes()).some((s) => s.types.includes('inject') && s.enabled));

    const exit = await nr.stop();
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.equal(nr.running, false);
    await nr.waitForLine(/Stopped flows/, 1);
    await assertPortFree(nr.host, nr.port, 'Node-RED still holds it');
  });

  it('returns once the flows saved before the start run, whatever the log level: an HTTP In route answers at once', async () => {
    const userDir = createUserDir(scratchDir('proc'));
    const flows = [
      { id: 'tab1', type: 'tab', label: 'harness' },
      { id: 'in1', type: 'http in', z: 'tab1', url: '/harness-ready', method: 'get', wires: [['res1']] },
      { id: 'res1', type: 'http response', z: 'tab1', statusCode: '200', wires: [] },
    ];
    fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(flows));
    nr = await NodeRedProcess.start({ userDir, logLevel: 'warn' });
    assert.match(nr.output(), /^\[iot-ledger harness\] runtime-state \{"state":"start"\}$/m);
    assert.equal((await fetch(`${nr.url}/harness-ready`)).status, 200);
  });

  it('with credentials it cannot decrypt (another credentialSecret), waits past Node-RED\'s reset warning until the flows run, and says they were reset', async () => {
    const userDir = createUserDir(scratchDir('proc'));
    const flows = [
      { id: 'tab1', type: 'tab', label: 'harness' },
      { id: 'broker1', type: 'mqtt-broker', name: 'b', broker: '127.0.0.1', port: '1', autoConnect: false },
      { id: 'in1', type: 'http in', z: 'tab1', url: '/harness-creds', method: 'get', wires: [['res1']] },
      { id: 'res1', type: 'http response', z: 'tab1', statusCode: '200', wires: [] },
    ];
    fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(flows));
    // Encrypted as Node-RED does (aes-256-ctr, key sha256(secret), iv in hex before the base64),
    // with a secret other than the one settings.js will give it.
    const iv = randomBytes(16);
    const cipher = createCipheriv('aes-256-ctr', createHash('sha256').update('another-secret').digest(), iv);
    const sealed = cipher.update(JSON.stringify({ broker1: { user: 'u', password: 'not-logged' } }), 'utf8', 'base64') + cipher.final('base64');
    fs.writeFileSync(path.join(userDir, 'flows_cred.json'), JSON.stringify({ $: iv.toString('hex') + sealed }));
    nr = await NodeRedProcess.start({ userDir });
    const output = nr.output();
    assert.match(output, /^\[iot-ledger harness\] runtime-state \{"error":"credentials_load_failed"\}$/m, 'the reset path was taken');
    assert.match(output, /^\[iot-ledger harness\] flows-started$/m, 'returned once the flows run');
    assert.match(output, /\[info\] Started flows$/m);
    assert.match(output, /^\[harness\] Node-RED could not decrypt the credentials of .*flows_cred\.json with the credentialSecret of settings\.js and reset them: nodes run without their credentials until the next deploy saves new ones$/m);
    assert.equal((await fetch(`${nr.url}/harness-creds`)).status, 200);
  });

  it('returns when the flows cannot start (a node type is missing), with the reason in the output', async () => {
    const userDir = createUserDir(scratchDir('proc'));
    fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify([{ id: 'x1', type: 'no-such-node-type', wires: [] }]));
    nr = await NodeRedProcess.start({ userDir });
    assert.match(nr.output(), /^\[iot-ledger harness\] runtime-state \{"state":"stop","error":"missing-types"\}$/m);
  });

  it('reports admin API errors with status and body', async () => {
    nr = await NodeRedProcess.start({ userDir: createUserDir(scratchDir('proc')) });
    await assert.rejects(nr.admin.request('GET', '/nodes/no-such-module'), (err: unknown) => {
      assert.ok(err instanceof AdminApiError);
      assert.equal(err.status, 404);
      return true;
    });
  });

  it('kill() ends it with SIGKILL', async () => {
    nr = await NodeRedProcess.start({ userDir: createUserDir(scratchDir('proc')) });
    const exit = await nr.kill();
    assert.deepEqual(exit, { code: null, signal: 'SIGKILL' });
  });

  it('refuses a port that is taken before spawning anything', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      await assert.rejects(NodeRedProcess.start({ userDir: createUserDir(scratchDir('proc')), port }), (err: unknown) => {
        assert.ok(err instanceof ListenError);
        assert.equal(err.message, `port ${port} is in use; choose another port, or give none to get a free one`);
        return true;
      });
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('fails with Node-RED’s own output when it exits during start', async () => {
    const userDir = createUserDir(scratchDir('proc'));
    fs.writeFileSync(path.join(userDir, 'settings.js'), "throw new Error('broken-settings-marker');\n");
    const t0 = Date.now();
    await assert.rejects(NodeRedProcess.start({ userDir, writeSettings: false }), (err: unknown) => {
      assert.ok(err instanceof NodeRedStartError);
      assert.match(err.message, /exited \(code 1, signal null\) before its admin API answered/);
      assert.match(err.output, /broken-settings-marker/);
      return true;
    });
    assert.ok(Date.now() - t0 < 20_000, 'no wait for the start timeout');
  });

  it('says where node-red is missing', async () => {
    const empty = scratchDir('proc');
    await assert.rejects(NodeRedProcess.start({ userDir: createUserDir(empty), nodeRedInstall: empty }), (err: Error) => {
      assert.equal(err.message, `node-red is not installed in ${empty} (npm install --prefix <dir> node-red)`);
      return true;
    });
  });

  it('refuses a user directory that does not exist', async () => {
    const missing = path.join(scratchDir('proc'), 'nope');
    await assert.rejects(NodeRedProcess.start({ userDir: missing }), /user directory .*nope does not exist/);
  });
});
