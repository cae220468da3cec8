import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { toHex } from '../../lib/encoding/bytes';
import { encodeCbor, type CborValue } from '../../lib/encoding/codec';
import { generateKey, keyToDid, privateKeyFromBytes, type Alg } from '../../lib/crypto';
import { signEnvelope, verifyEnvelope } from '../../lib/envelope/envelope';
import { decodePayload } from '../../lib/envelope/payload';
import { freshnessOf } from '../../lib/registry/freshness';
import { iotlTool, iotlToolStatus } from '../support/devices';

// The C library in devices/ against this project's own TypeScript: the same did:key ids,
// envelopes the gateway's verifyEnvelope accepts, Ed25519 envelopes equal byte for byte,
// a counter that survives restarts, and random readings that verify or fail as predicted.

const ALG_NAME: Record<Alg, string> = { Ed25519: 'ed25519', ES256: 'es256' };
const hex = (b: Uint8Array): string => toHex(b);
const cose = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, 'hex'));

/** {fields..., counter, ts} as RFC 8785 writes a flat object: keys by UTF-16 code units. */
function canonicalJson(entries: [string, unknown][]): string {
  const sorted = [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${sorted.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`;
}

function scratch(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'iotl-c-'));
}

describe('devices/: the C signing library', function () {
  this.timeout(120_000);

  it('computes the same did:key as the TypeScript library for the same keys', () => {
    for (const alg of ['Ed25519', 'ES256'] as Alg[]) {
      for (let i = 0; i < 8; i++) {
        const key = generateKey(alg);
        assert.equal(iotlTool('did', ALG_NAME[alg], hex(key.secretKey)), keyToDid(key), `${alg} key ${i}`);
      }
    }
  });

  it('signs Ed25519 envelopes byte for byte as signEnvelope does (JWS and COSE_Sign1)', () => {
    const key = generateKey('Ed25519');
    const did = keyToDid(key);
    const payload = Buffer.from(canonicalJson([['temperature', -21.4], ['counter', 3], ['ts', 1764066000000]]));
    assert.equal(iotlTool('jws', 'ed25519', hex(key.secretKey), hex(payload), '-'), signEnvelope(payload, key, { kid: did }));
    assert.equal(iotlTool('jws', 'ed25519', hex(key.secretKey), hex(payload)), signEnvelope(payload, key));
    const c = iotlTool('cose', 'ed25519', hex(key.secretKey), hex(payload), '-');
    assert.equal(c, hex(signEnvelope(payload, key, { kid: did, format: 'cose' }) as Uint8Array));
  });

  it('makes ES256 envelopes that verifyEnvelope accepts, and a changed byte it refuses', () => {
    const key = generateKey('ES256');
    const did = keyToDid(key);
    for (const format of ['jws', 'cose-json', 'cose-cbor']) {
      const dir = scratch();
      const [kid, counter, envelope] = iotlTool(
        'sign', 'es256', hex(key.secretKey), format, path.join(dir, 'counter'), '1', '1764066000000',
        'temperature=m:-214/1', 'door=b:0', 'room=s:cold-room-1',
      ).split(' ');
      assert.equal(kid, did);
      assert.equal(counter, '1');
      const env = format === 'jws' ? envelope : cose(envelope);
      const v = verifyEnvelope(env, did);
      assert.equal(v.alg, 'ES256');
      assert.equal(v.kid, did);
      const want = { counter: 1, door: false, room: 'cold-room-1', temperature: -21.4, ts: 1764066000000 };
      assert.deepEqual(decodePayload(v.payload), want, format);
      const bytes = format === 'cose-cbor' ? encodeCbor(want) : Buffer.from(canonicalJson(Object.entries(want)));
      assert.equal(hex(v.payload), hex(bytes), `${format}: canonical payload bytes`);
      // The signature covers the payload: one changed byte and the gateway refuses it.
      const tampered = format === 'jws' ? envelope.replace(/\.(.)/, (_m, c: string) => `.${c === 'e' ? 'f' : 'e'}`) : env;
      if (format !== 'jws') (tampered as Uint8Array)[(tampered as Uint8Array).length - 70] ^= 1;
      assert.throws(() => verifyEnvelope(tampered, did), /ERR_BAD_SIGNATURE|ERR_MALFORMED|signature/);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps the counter rising across restarts of the signing program (persisted in a file)', () => {
    const key = generateKey('Ed25519');
    const dir = scratch();
    const file = path.join(dir, 'counter');
    const run = (step: number) => {
      const [, counter, jws] = iotlTool('sign', 'ed25519', hex(key.secretKey), 'jws', file, String(step), '-', 't=i:1').split(' ');
      const payload = decodePayload(verifyEnvelope(jws, keyToDid(key)).payload);
      assert.equal(freshnessOf(payload).counter, Number(counter));
      return Number(counter);
    };
    // Each run is a separate process: a reboot.
    assert.deepEqual([run(1), run(1), run(1)], [1, 2, 3]);
    assert.equal(fs.readFileSync(file, 'utf8').trim(), '3');
    // Reserving 10 per write: 4 is used, 13 stored; the next boot starts above 13.
    assert.equal(run(10), 4);
    assert.equal(fs.readFileSync(file, 'utf8').trim(), '13');
    assert.equal(run(10), 14);
    fs.writeFileSync(file, 'not a number');
    const broken = iotlToolStatus('sign', 'ed25519', hex(key.secretKey), 'jws', file, '1', '-', 't=i:1');
    assert.notEqual(broken.status, 0);
    assert.match(broken.stderr, /counter storage failed/);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('fuzz: random field names and values', () => {
    for (const seed of [1, 2]) {
      it(`seed ${seed}: each envelope verifies with the predicted payload, or the call returned the predicted error`, () => {
        const lines = iotlTool('fuzz', String(seed), '400').split('\n');
        assert.equal(lines.length, 400);
        let signed = 0;
        for (const line of lines) signed += checkFuzzLine(line) ? 1 : 0;
        assert.ok(signed > 150, `only ${signed} of 400 readings were signed`);
      });
    }
  });
});

// ------------------------------------------------------------------------------ the fuzz checker

const OK = 0;
const ERR_ARG = -1;
const ERR_SPACE = -2;
const ERR_NAME = -3;
const ERR_VALUE = -4;
const ERR_TOO_MANY = -5;
const ERR_COUNTER = -8;
const MAX_FIELDS = 21;
const FUZZ_KEYS: Record<string, string> = {
  ed25519: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
  es256: 'c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721',
};
const utf8 = new TextDecoder('utf-8', { fatal: true });

function text(field: string): string | undefined {
  try {
    return utf8.decode(Buffer.from(field.slice(1), 'hex'));
  } catch {
    return undefined;
  }
}

/** The value a field spec stands for, or the error the library must give for it. */
function fieldValue(kind: string, v: string): { value?: number | boolean | string | null; error?: number } {
  switch (kind) {
    case 'i': {
      const n = BigInt(v);
      return n > BigInt(Number.MAX_SAFE_INTEGER) || n < -BigInt(Number.MAX_SAFE_INTEGER) ? { error: ERR_VALUE } : { value: Number(n) };
    }
    case 'm': {
      const [m, d] = v.split('/');
      const mant = BigInt(m);
      if (Number(d) > 6 || mant >= 10n ** 15n || mant <= -(10n ** 15n)) return { error: ERR_VALUE };
      return { value: Number(mant) / 10 ** Number(d) };
    }
    case 'd': {
      const x = Buffer.from(v, 'hex').readDoubleBE(0);
      return Number.isFinite(x) ? { value: x } : { error: ERR_VALUE };
    }
    case 'b':
      return { value: v === '1' };
    case 'n':
      return { value: null };
    default: {
      const s = text(v);
      return s === undefined ? { error: ERR_VALUE } : { value: s };
    }
  }
}

const byteLength = (s: string): number => Buffer.byteLength(s, 'utf8');

/** Bytes one field takes in the reading's buffer: raw name, NUL, encoded entry. */
function entrySize(name: string, value: CborValue, json: boolean): number {
  const encoded = json ? byteLength(`${JSON.stringify(name)}:${JSON.stringify(value)}`) : encodeCbor(name).length + encodeCbor(value).length;
  return byteLength(name) + 1 + encoded;
}

function cborHeadLength(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
}

/** Checks one line of `iotl_tool fuzz`; true when the reading was signed. */
function checkFuzzLine(line: string): boolean {
  const [alg, format, rcapText, ocapText, counterText, tsText, ...rest] = line.split(' ');
  const eq = rest.indexOf('=');
  const fields = rest.slice(0, eq);
  const signRc = Number(rest[eq + 1]);
  const envelope = rest[eq + 2];
  const json = format !== 'cose-cbor';
  const rcap = Number(rcapText);
  const entries: [string, CborValue][] = [];
  let used = 0;
  for (const f of fields) {
    const [kind, nameHex, value, rcText] = f.split(':');
    const rc = Number(rcText);
    const name = text(nameHex);
    const v = fieldValue(kind, value);
    let want: number;
    if (v.error !== undefined) want = v.error;
    else if (name === undefined || name === '' || name === 'counter' || name === 'ts') want = ERR_NAME;
    else if (entries.length >= MAX_FIELDS) want = ERR_TOO_MANY;
    else if (entries.some(([n]) => n === name)) want = ERR_NAME;
    else if (used + entrySize(name, v.value, json) > rcap) want = ERR_SPACE;
    else want = OK;
    assert.equal(rc, want, `field ${f} in: ${line.slice(0, 300)}`);
    if (rc === OK) {
      entries.push([name!, v.value]);
      used += entrySize(name!, v.value, json);
    }
  }
  const counter = Number(counterText);
  const ts = tsText === '-' ? undefined : Number(tsText);
  const stamped: [string, CborValue][] = [...entries, ['counter', counter]];
  if (ts !== undefined) stamped.push(['ts', ts]);
  const payload = json ? Buffer.from(canonicalJson(stamped)) : encodeCbor(new Map(stamped));
  const key = privateKeyFromBytes(alg === 'es256' ? 'ES256' : 'Ed25519', Buffer.from(FUZZ_KEYS[alg], 'hex'));
  const did = keyToDid(key);
  let want: number;
  if (ts !== undefined && ts > Number.MAX_SAFE_INTEGER) want = ERR_ARG;
  else if (counter > Number.MAX_SAFE_INTEGER) want = ERR_COUNTER;
  else {
    const jwsLength = (s: number): number => Math.ceil((s * 4) / 3);
    const header = byteLength(JSON.stringify({ alg: alg === 'es256' ? 'ES256' : 'EdDSA', kid: did }));
    const need =
      format === 'jws'
        ? jwsLength(header) + 1 + jwsLength(payload.length) + 1 + 86 + 1
        : 6 + 2 + cborHeadLength(did.length) + did.length + cborHeadLength(payload.length) + payload.length + 66;
    want = need > Number(ocapText) ? ERR_SPACE : OK;
  }
  assert.equal(signRc, want, `sign: ${line.slice(0, 300)}`);
  if (signRc !== OK) return false;

  const env = format === 'jws' ? envelope : cose(envelope);
  const v = verifyEnvelope(env, did);
  assert.equal(hex(v.payload), hex(payload), `payload bytes: ${line.slice(0, 300)}`);
  const decoded = decodePayload(v.payload) as Record<string, unknown>;
  assert.deepEqual(freshnessOf(decoded), ts === undefined ? { counter } : { counter, time: ts });
  if (alg === 'ed25519') {
    // Deterministic signatures: the TypeScript signer gives the very same envelope.
    const ts2 = signEnvelope(payload, key, { kid: did, format: format === 'jws' ? 'jws' : 'cose' });
    assert.equal(typeof ts2 === 'string' ? ts2 : hex(ts2), envelope);
  }
  return true;
}
