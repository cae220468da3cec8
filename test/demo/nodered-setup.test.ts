import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { CREDENTIAL_SECRET_FILE, writeSettings } from '../../demo/nodered/settings';
import { createUserDir, linkIntoUserDir, readFlowFile, seedFlows } from '../../demo/nodered/userdir';
import { assertPortFree, freePort, ListenError } from '../../demo/ports';
import { projectRoot } from '../support/paths';

interface LoadedSettings {
  uiHost: string;
  uiPort: number;
  flowFile: string;
  credentialSecret: string;
  logging: { console: { level: string } };
  telemetry: { enabled: boolean };
  adminAuth?: {
    type: string;
    users: Array<{ username: string }>;
    authenticate(u: string, p: string): Promise<{ username: string; permissions: string } | null>;
  };
}

function load(file: string): LoadedSettings {
  delete require.cache[require.resolve(file)];
  return require(file) as LoadedSettings; // eslint-disable-line @typescript-eslint/no-require-imports
}

describe('demo/nodered/settings', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iot-ledger-settings-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes a settings.js that Node-RED can load, reading the secret from a private file', () => {
    assert.equal(writeSettings(dir, { uiPort: 18999, flowFile: 'cold.json', logLevel: 'debug' }), true);
    const secretFile = path.join(dir, CREDENTIAL_SECRET_FILE);
    assert.equal(fs.statSync(secretFile).mode & 0o777, 0o600);
    const secret = fs.readFileSync(secretFile, 'utf8').trim();
    assert.match(secret, /^[0-9a-f]{64}$/);
    const text = fs.readFileSync(path.join(dir, 'settings.js'), 'utf8');
    assert.ok(!text.includes(secret), 'the secret is not written into settings.js');
    const s = load(path.join(dir, 'settings.js'));
    assert.equal(s.uiHost, '127.0.0.1');
    assert.equal(s.uiPort, 18999);
    assert.equal(s.flowFile, 'cold.json');
    assert.equal(s.credentialSecret, secret);
    assert.equal(s.logging.console.level, 'debug');
    assert.equal(s.telemetry.enabled, false);
    assert.equal(s.adminAuth, undefined);
  });

  it('keeps the credential secret across rewrites', () => {
    writeSettings(dir);
    const before = fs.readFileSync(path.join(dir, CREDENTIAL_SECRET_FILE), 'utf8');
    writeSettings(dir, { uiPort: 1 });
    assert.equal(fs.readFileSync(path.join(dir, CREDENTIAL_SECRET_FILE), 'utf8'), before);
  });

  it('adminAuth checks the password without storing it', async () => {
    writeSettings(dir, { adminAuth: { username: 'admin', password: 'correct horse' } });
    assert.ok(!fs.readFileSync(path.join(dir, 'settings.js'), 'utf8').includes('correct horse'));
    const auth = load(path.join(dir, 'settings.js')).adminAuth!;
    assert.equal(auth.type, 'credentials');
    assert.deepEqual(auth.users.map((u) => u.username), ['admin']);
    assert.deepEqual(await auth.authenticate('admin', 'correct horse'), { username: 'admin', permissions: '*' });
    assert.equal(await auth.authenticate('admin', 'correct horsE'), null);
    assert.equal(await auth.authenticate('root', 'correct horse'), null);
  });

  it('leaves a settings.js edited by its owner alone', () => {
    writeSettings(dir);
    const file = path.join(dir, 'settings.js');
    const mine = fs.readFileSync(file, 'utf8').replace(/^\/\/ Written by.*\n/m, '').replace('uiPort: 1880', 'uiPort: 1999');
    fs.writeFileSync(file, mine);
    assert.equal(writeSettings(dir, { uiPort: 2000 }), false);
    assert.equal(fs.readFileSync(file, 'utf8'), mine);
  });
});

describe('demo/nodered/userdir', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iot-ledger-userdir-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('links this package into a user dir the way npm would for a file: dependency', () => {
    const userDir = path.join(dir, 'u');
    const name = linkIntoUserDir(userDir, projectRoot);
    assert.equal(name, 'node-red-contrib-iot-ledger');
    const link = path.join(userDir, 'node_modules', name);
    assert.ok(fs.lstatSync(link).isSymbolicLink());
    assert.equal(fs.realpathSync(link), fs.realpathSync(projectRoot));
    assert.ok(!path.isAbsolute(fs.readlinkSync(link)), 'relative, so the folder can move');
    const pkg = JSON.parse(fs.readFileSync(path.join(userDir, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    assert.equal(pkg.dependencies[name], `file:${path.relative(userDir, projectRoot)}`);
    // Idempotent.
    assert.equal(linkIntoUserDir(userDir, projectRoot), name);
    assert.equal(fs.realpathSync(link), fs.realpathSync(projectRoot));
  });

  it('refuses to replace a real directory with the link', () => {
    const userDir = createUserDir(path.join(dir, 'u'));
    fs.mkdirSync(path.join(userDir, 'node_modules', 'node-red-contrib-iot-ledger'), { recursive: true });
    assert.throws(() => linkIntoUserDir(userDir, projectRoot), /exists and is not a symlink/);
  });

  it('seeds flows only on first start', () => {
    const userDir = createUserDir(path.join(dir, 'u'));
    const flows = [{ id: 't1', type: 'tab', label: 'Cold room' }];
    assert.equal(seedFlows(userDir, flows), true);
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(userDir, 'flows.json'), 'utf8')), flows);
    assert.equal(seedFlows(userDir, []), false);
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(userDir, 'flows.json'), 'utf8')), flows);
  });

  it('reads flow exports and rejects files that are not one', () => {
    const good = path.join(dir, 'good.json');
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(good, '[{"id":"a","type":"tab"}]');
    fs.writeFileSync(bad, '{"id":"a"}');
    assert.deepEqual(readFlowFile(good), [{ id: 'a', type: 'tab' }]);
    assert.throws(() => readFlowFile(bad), /not a Node-RED flow export/);
    assert.throws(() => readFlowFile(path.join(dir, 'missing.json')), /cannot read/);
  });
});

describe('demo/ports', () => {
  it('freePort gives a port that can be listened on', async () => {
    const port = await freePort();
    assert.ok(port > 0 && port < 65536);
    await assertPortFree('127.0.0.1', port, 'unused');
  });

  it('assertPortFree names the port and the way out when it is taken', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      await assert.rejects(assertPortFree('127.0.0.1', port, 'set PORT or --port'), (err: unknown) => {
        assert.ok(err instanceof ListenError);
        assert.equal(err.code, 'EADDRINUSE');
        assert.equal(err.message, `port ${port} is in use; set PORT or --port`);
        return true;
      });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
