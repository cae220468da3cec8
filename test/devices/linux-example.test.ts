import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { toHex } from '../../lib/encoding/bytes';
import { generateKey, keyToDid } from '../../lib/crypto';
import { devicesBuild, makeDevices } from '../support/devices';

// The Linux example device (devices/examples/linux/device.c) reads its key and options as the
// docs describe them, and refuses what it cannot read rather than signing with another key.

function device(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(path.join(devicesBuild, 'iotl-device'), args, { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('devices: the Linux example device program', function () {
  this.timeout(120_000);

  let dir: string;
  const ed = generateKey('Ed25519');
  const p256 = generateKey('ES256');
  const edHex = toHex(ed.secretKey);

  before(() => {
    makeDevices('device');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iotl-linux-example-'));
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  function keyFile(name: string, text: string): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text, { mode: 0o600 });
    return file;
  }

  it('prints the did:key of a key file of 64 hex digits, with or without a final newline', () => {
    for (const text of [`${edHex}\n`, edHex, `${edHex.toUpperCase()}\r\n`]) {
      const r = device(['--did', '--alg', 'ed25519', '--key', keyFile('ok.key', text)]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout.trim(), keyToDid(ed));
    }
    const r = device(['--did', '--alg', 'es256', '--key', keyFile('p256.key', `${toHex(p256.secretKey)}\n`)]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), keyToDid(p256));
  });

  it('refuses a key file that is not exactly 64 hex digits instead of reading another key', () => {
    const bad: Record<string, string> = {
      'a digit short': `${edHex.slice(0, 63)}\n`,
      'a digit too many': `${edHex}0\n`,
      'a 0x prefix': `0x${edHex}\n`,
      'a leading space': ` ${edHex}\n`,
      'a non-hex digit': `${edHex.slice(0, 10)}g${edHex.slice(11)}\n`,
      'two keys': `${edHex}\n${edHex}\n`,
      'the JWK itself': JSON.stringify({ kty: 'OKP', crv: 'Ed25519', d: 'x' }),
    };
    for (const [what, text] of Object.entries(bad)) {
      const r = device(['--did', '--alg', 'ed25519', '--key', keyFile('bad.key', text)]);
      assert.equal(r.status, 1, `${what}: exit ${r.status}, printed ${r.stdout}`);
      assert.equal(r.stdout, '', what);
      assert.match(r.stderr, /--key: a file holding 64 hex digits expected/, what);
    }
  });

  it('refuses an --alg or --format it does not know instead of signing with Ed25519 or as JWS', () => {
    const key = keyFile('p256.key', `${toHex(p256.secretKey)}\n`);
    // keygen calls P-256 "p256"; the program calls it es256.
    let r = device(['--did', '--alg', 'p256', '--key', key]);
    assert.equal(r.status, 1, `exit ${r.status}, printed ${r.stdout}`);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /--alg: ed25519 or es256 expected/);
    r = device(['--did', '--alg', 'es256', '--format', 'COSE', '--key', key]);
    assert.equal(r.status, 1, `exit ${r.status}, printed ${r.stdout}`);
    assert.match(r.stderr, /--format: jws or cose expected/);
  });

  it('refuses a number option it cannot read instead of reading it as 0 (no broker needed: checked first)', () => {
    const key = keyFile('ok.key', `${edHex}\n`);
    const counter = path.join(dir, 'never.counter');
    const bad: [string, string, RegExp][] = [
      ['--port', 'abc', /--port: 1 to 65535 expected/],
      ['--port', '70000', /--port: 1 to 65535 expected/],
      ['--count', 'abc', /--count: 0 to 1000000 expected/],
      ['--count', '-1', /--count: 0 to 1000000 expected/],
      ['--step', 'x', /--step: 1 to 1000000 expected/],
      ['--step', '0', /--step: 1 to 1000000 expected/],
      ['--interval-ms', '5s', /--interval-ms: 0 to 86400000 expected/],
      ['--temperature', 'warm', /--temperature: a number of degrees expected/],
      ['--temperature', 'nan', /--temperature: a number of degrees expected/],
      // The topic is coldroom/<name>/reading, which the cold-room flow's coldroom/+/reading must match.
      ['--name', 'room/1', /--name: 1 to 110 bytes without \/ \+ # expected/],
      ['--name', '', /--name: 1 to 110 bytes without \/ \+ # expected/],
      ['--name', 'x'.repeat(111), /--name: 1 to 110 bytes without \/ \+ # expected/],
    ];
    for (const [option, value, message] of bad) {
      // The first occurrence counts; port 9 (discard) has no MQTT broker: a program that got
      // past its options fails to connect.
      const r = device([option, value, '--alg', 'ed25519', '--key', key, '--counter', counter, '--port', '9']);
      assert.equal(r.status, 1, `${option} ${value}: exit ${r.status}`);
      assert.match(r.stderr, message, `${option} ${value}: ${r.stderr}`);
      assert.equal(fs.existsSync(counter), false, `${option} ${value}: the counter was touched`);
    }
  });

  it('refuses a counter file that is not what it writes (digits and a newline) instead of counting on from another number', () => {
    const key = keyFile('ok.key', `${edHex}\n`);
    for (const text of ['12abc\n', '-1\n', ' 12\n', '12\n13\n', '+12\n', '\n']) {
      const counter = keyFile('bad.counter', text);
      // Port 9 (discard) has no MQTT broker: a program that read the counter fails to connect.
      const r = device(['--alg', 'ed25519', '--key', key, '--counter', counter, '--name', 'room-1', '--port', '9']);
      assert.equal(r.status, 1, `${JSON.stringify(text)}: exit ${r.status}`);
      assert.match(r.stderr, /^iotl-device: counter: /m, `${JSON.stringify(text)}: ${r.stderr}`);
      assert.equal(fs.readFileSync(counter, 'utf8'), text, 'the counter file is left as it was');
    }
  });
});
