import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { keyToDid, keyToJwk, readPrivateKeyFile } from '../lib/index';
import { encodeCbor } from '../lib/encoding/codec';
import { signEnvelope } from '../lib/envelope/envelope';
import { runCli } from './support/cli';

// `iot-ledger sign`: a device's signature by hand (mosquitto_pub -m "$(iot-ledger sign ...)").
describe('CLI: sign', () => {
  let dir: string;
  const keys: Record<string, { file: string; did: string }> = {};
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iot-ledger-cli-sign-'));
    for (const alg of ['ed25519', 'p256']) {
      const file = path.join(dir, `${alg}.jwk`);
      const r = runCli(['keygen', '--alg', alg, '--out', file]);
      assert.equal(r.status, 0, r.stderr);
      keys[alg] = { file, did: r.stdout.trim() };
    }
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const checked = (envelope: string, did: string) => {
    const r = runCli(['check', envelope, '--key', did, '--json']);
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    return JSON.parse(r.stdout) as { valid: boolean; format: string; kid: string; payload: Record<string, unknown> };
  };

  for (const alg of ['ed25519', 'p256']) {
    it(`${alg}: a JWS of the payload stamped with a strictly increasing counter and a ts, kid = the did:key`, () => {
      const { file, did } = keys[alg];
      const before = Date.now();
      const first = runCli(['sign', '{"temperature":-21}', '--key', file]);
      assert.equal(first.status, 0, first.stderr);
      assert.equal(first.stdout.split('\n').length, 2, 'one line');
      const a = checked(first.stdout.trim(), did);
      assert.equal(a.format, 'jws');
      assert.equal(a.kid, did);
      assert.deepEqual(Object.keys(a.payload), ['temperature', 'counter', 'ts']);
      assert.equal(a.payload.temperature, -21);
      assert.ok(Number(a.payload.ts) >= before && Number(a.payload.ts) <= Date.now());
      const b = checked(runCli(['sign', '{"temperature":-20.5}', '--key', file]).stdout.trim(), did);
      assert.ok(Number(b.payload.counter) > Number(a.payload.counter), 'the next signature has a higher counter');
      // The private key never leaves the file.
      const d = (JSON.parse(fs.readFileSync(file, 'utf8')) as { d: string }).d;
      assert.ok(!first.stdout.includes(d) && !first.stderr.includes(d));
    });
  }

  it('COSE_Sign1: hex on standard output, raw bytes with --out; payload from a file or standard input', () => {
    const { file, did } = keys.p256;
    const payloadFile = path.join(dir, 'reading.json');
    fs.writeFileSync(payloadFile, '{"temperature": -19.5, "door": "open"}\n');
    const hex = runCli(['sign', payloadFile, '--key', file, '--format', 'cose']);
    assert.equal(hex.status, 0, hex.stderr);
    assert.match(hex.stdout.trim(), /^d2[0-9a-f]+$/);
    const v = checked(hex.stdout.trim(), did);
    assert.equal(v.format, 'cose');
    assert.equal(v.payload.door, 'open');

    const out = path.join(dir, 'reading.cose');
    const raw = runCli(['sign', '-', '--key', file, '--format', 'cose', '--out', out], '{"temperature": -22}');
    assert.equal(raw.status, 0, raw.stderr);
    assert.equal(raw.stdout, '');
    assert.equal(fs.readFileSync(out)[0], 0xd2, 'a tagged COSE_Sign1');
    assert.equal(checked(out, did).payload.temperature, -22);
  });

  it('--counter and --ts set the stamp; --no-stamp signs the payload exactly as given', () => {
    const { file, did } = keys.ed25519;
    const fixed = checked(runCli(['sign', '{"t":1}', '--key', file, '--counter', '7', '--ts', '1000']).stdout.trim(), did);
    assert.deepEqual(fixed.payload, { t: 1, counter: 7, ts: 1000 });
    const terms = { contract: 'cold-room-1', version: 1, termsHash: 'ab'.repeat(32) };
    const plain = checked(runCli(['sign', JSON.stringify(terms), '--key', file, '--no-stamp']).stdout.trim(), did);
    assert.deepEqual(plain.payload, terms);
    // Stamped as the Sign node does it for a non-object payload.
    assert.deepEqual(checked(runCli(['sign', '21.5', '--key', file, '--counter', '3', '--ts', '5']).stdout.trim(), did).payload, { data: 21.5, counter: 3, ts: 5 });
  });

  it('check shows the fields of a COSE_Sign1 with a CBOR payload (the C library with IOTL_CBOR), as Verify records them', () => {
    const key = readPrivateKeyFile(keys.p256.file);
    const did = keyToDid(key);
    const fields = { counter: 7, door: false, note: 'hi', temperature: -21.4, ts: 1764066000000, raw: Uint8Array.of(1, 2) };
    const cose = signEnvelope(encodeCbor(fields), key, { format: 'cose', kid: did }) as Uint8Array;
    const v = checked(Buffer.from(cose).toString('hex'), did);
    assert.equal(v.format, 'cose');
    assert.deepEqual(v.payload, { ...fields, raw: { hex: '0102' } });
    const text = runCli(['check', Buffer.from(cose).toString('hex'), '--key', did]);
    assert.equal(text.status, 0, text.stderr);
    const line = text.stdout.split('\n').find((l) => l.startsWith('payload: ')) ?? '';
    assert.deepEqual(JSON.parse(line.slice('payload: '.length)), { ...fields, raw: { hex: '0102' } });
    // Bytes that are neither UTF-8 nor CBOR still show as hex.
    const junk = signEnvelope(Uint8Array.of(0xff, 0xfe), key, { format: 'cose', kid: did }) as Uint8Array;
    assert.deepEqual(checked(Buffer.from(junk).toString('hex'), did).payload, { hex: 'fffe' });
  });

  it('refuses a public key, a payload that is not JSON and bad options (exit 2, nothing on standard output)', () => {
    const pub = path.join(dir, 'public.jwk');
    fs.writeFileSync(pub, JSON.stringify(keyToJwk(readPrivateKeyFile(keys.ed25519.file))));
    for (const [args, message] of [
      [['sign', '{"t":1}', '--key', pub], /holds a public key/],
      [['sign', 'temperature=-21', '--key', keys.ed25519.file], /not JSON/],
      [['sign', '{"t":1}', '--key', keys.ed25519.file, '--format', 'cbor'], /--format must be jws or cose/],
      [['sign', '{"t":1}', '--key', keys.ed25519.file, '--counter', '-1'], /--counter must be a whole number/],
      [['sign', '{"t":1}', '--key', keys.ed25519.file, '--no-stamp', '--counter', '2'], /leave out --no-stamp/],
      [['sign', '{"t":1}'], /usage: iot-ledger sign/],
    ] as const) {
      const r = runCli([...args]);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, message);
    }
  });

  it('sign - and check - read standard input only up to the largest envelope: /dev/zero is ERR_PAYLOAD_TOO_LARGE (exit 2)', () => {
    // Without the bound each command reads /dev/zero until it runs out of memory (or runCli's 120 s pass).
    for (const args of [
      ['sign', '-', '--key', keys.ed25519.file],
      ['check', '-', '--key', keys.ed25519.did],
    ]) {
      const r = runCli(args, { file: '/dev/zero' });
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /on standard input is larger than \d+ bytes \(ERR_PAYLOAD_TOO_LARGE\)/, args.join(' '));
    }
  });
});
