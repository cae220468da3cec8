import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateKey, keyToDid } from '../lib/crypto';
import { parseEnvelopeInput, peekEnvelope, signEnvelope, verifyEnvelope } from '../lib/envelope/envelope';
import { isLedgerError } from '../lib/errors';
import { jsonDepth, MAX_ENVELOPE_BYTES, MAX_PAYLOAD_DEPTH } from '../lib/guards/limits';
import { decodePayload, toRecordBody } from '../lib/envelope/payload';
import { boundMessage, cloneRisk, MAX_CLONE_DEPTH, summarize } from '../lib/guards/safe-value';
import { toBase64Url, utf8 } from '../lib/encoding/bytes';
import { runCli } from './support/cli';

const deepJson = (n: number): string => '['.repeat(n) + ']'.repeat(n);
function deepValue(n: number): unknown {
  let v: unknown = [];
  for (let i = 1; i < n; i++) v = [v];
  return v;
}
const code = (c: string) => (err: unknown) => isLedgerError(err) && err.code === c;

describe('limits on untrusted input', () => {
  it('jsonDepth counts brackets outside strings and stops past the limit', () => {
    assert.equal(jsonDepth('{"a":[1,{"b":[]}]}'), 4);
    assert.equal(jsonDepth('{"a":"[[[[[[\\"[[["}'), 1);
    assert.equal(jsonDepth('"no brackets"'), 0);
    assert.equal(jsonDepth(deepJson(100_000), 64), 65);
  });

  it('decodePayload refuses JSON or CBOR nested past the limit with ERR_PAYLOAD_TOO_DEEP, and keeps what is within it', () => {
    assert.throws(() => decodePayload(utf8(deepJson(30_000))), code('ERR_PAYLOAD_TOO_DEEP'));
    assert.throws(() => decodePayload(utf8(deepJson(100_000))), code('ERR_PAYLOAD_TOO_LARGE'));
    assert.throws(() => decodePayload(utf8(`{"counter":1,"x":${deepJson(MAX_PAYLOAD_DEPTH)}}`)), code('ERR_PAYLOAD_TOO_DEEP'));
    assert.deepEqual(decodePayload(utf8(`{"counter":1,"x":${deepJson(MAX_PAYLOAD_DEPTH - 1)}}`)), {
      counter: 1,
      x: JSON.parse(deepJson(MAX_PAYLOAD_DEPTH - 1)),
    });
    // CBOR: 0x81 is an array of one item; 1000 of them then 0x80 (an empty array).
    const cbor = new Uint8Array(1001).fill(0x81);
    cbor[1000] = 0x80;
    assert.throws(() => decodePayload(cbor), code('ERR_PAYLOAD_TOO_DEEP'));
    // Text that is not JSON keeps its brackets.
    assert.equal(decodePayload(utf8('hello [[[[[[')), 'hello [[[[[[');
  });

  it('decodePayload and parseEnvelopeInput refuse input over the size limit with ERR_PAYLOAD_TOO_LARGE', () => {
    assert.throws(() => decodePayload(new Uint8Array(MAX_ENVELOPE_BYTES + 1).fill(0x20)), code('ERR_PAYLOAD_TOO_LARGE'));
    assert.throws(() => parseEnvelopeInput('a'.repeat(MAX_ENVELOPE_BYTES + 1)), code('ERR_PAYLOAD_TOO_LARGE'));
    assert.throws(() => parseEnvelopeInput(Buffer.alloc(MAX_ENVELOPE_BYTES + 1, 0x84)), code('ERR_PAYLOAD_TOO_LARGE'));
    assert.equal(parseEnvelopeInput('a.b.c').format, 'jws');
  });

  it('a JWS header nested past the limit is refused before it is parsed', () => {
    const header = toBase64Url(utf8(`{"alg":"EdDSA","x":${deepJson(200)}}`));
    assert.throws(() => peekEnvelope(`${header}.e30.AAAA`), code('ERR_PAYLOAD_TOO_DEEP'));
  });

  it('a valid signature over a deep payload verifies (the envelope is fine) but its payload is refused', () => {
    const key = generateKey('Ed25519');
    const jws = signEnvelope(deepJson(20_000), key, { kid: keyToDid(key) });
    const v = verifyEnvelope(jws, keyToDid(key));
    assert.throws(() => decodePayload(v.payload), code('ERR_PAYLOAD_TOO_DEEP'));
  });

  it('toRecordBody refuses a deep value with ERR_PAYLOAD_TOO_DEEP instead of overflowing', () => {
    assert.throws(() => toRecordBody({ x: deepValue(100_000) }), code('ERR_PAYLOAD_TOO_DEEP'));
    assert.deepEqual(toRecordBody({ x: [[1]] }), { x: [[1]] });
  });
});

describe('safe values for Node-RED', () => {
  it('cloneRisk finds deep and huge values without recursion, and passes shared and cyclic ones', () => {
    assert.equal(cloneRisk(deepValue(100_000)), 'deep');
    assert.equal(cloneRisk(deepValue(MAX_CLONE_DEPTH)), undefined);
    assert.equal(cloneRisk(deepValue(MAX_CLONE_DEPTH + 1)), 'deep');
    assert.equal(cloneRisk(new Array(2_000_000).fill(0)), 'large');
    const shared = { a: 1 };
    const cyclic: Record<string, unknown> = { shared, again: shared };
    cyclic.self = cyclic;
    assert.equal(cloneRisk(cyclic), undefined);
    assert.equal(cloneRisk('x'.repeat(1_000_000)), undefined);
    assert.equal(cloneRisk(Buffer.alloc(10)), undefined);
    const m = new Map<unknown, unknown>([['k', deepValue(500)]]);
    assert.equal(cloneRisk(m), 'deep');
  });

  it('summarize is flat and bounded for any value', () => {
    const s = summarize(deepValue(100_000), 'ERR_PAYLOAD_TOO_DEEP');
    assert.equal(s.type, 'array');
    assert.equal(s.size, 1);
    assert.equal(s.head, '['.repeat(64));
    assert.equal(cloneRisk(s), undefined);
    assert.deepEqual(summarize(Buffer.from('0102ff', 'hex'), 'r'), { refused: 'r', type: 'buffer', size: 3, head: '0102ff' });
    const t = summarize('y'.repeat(10_000), 'r');
    assert.equal(t.size, 10_000);
    assert.equal(t.head.length, 64);
    assert.equal(summarize({ a: { b: 2 }, c: 3 }, 'r').head, '{"a":{"b":2},…}');
  });

  it('boundMessage replaces a refused payload and anything unsafe to clone, and nothing else', () => {
    const msg: Record<string, unknown> = { topic: 't', payload: 'an envelope', other: deepValue(1000), fine: { a: [1] } };
    assert.deepEqual(boundMessage(msg), ['other']);
    assert.equal(msg.payload, 'an envelope');
    assert.equal((msg.other as { refused: string }).refused, 'ERR_PAYLOAD_TOO_DEEP');
    assert.deepEqual(boundMessage(msg, 'ERR_BAD_SIGNATURE'), []);
    assert.deepEqual(boundMessage(msg, 'ERR_PAYLOAD_TOO_LARGE'), ['payload']);
    assert.deepEqual(msg.payload, { refused: 'ERR_PAYLOAD_TOO_LARGE', type: 'string', size: 11, head: 'an envelope' });
    assert.deepEqual(msg.fine, { a: [1] });
  });
});

describe('CLI: check on a payload nested 100 000 levels deep', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iot-ledger-deep-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const [depth, want] of [
    [100_000, 'ERR_PAYLOAD_TOO_LARGE'],
    [20_000, 'ERR_PAYLOAD_TOO_DEEP'],
  ] as const) {
    it(`a valid JWS over ${depth} nested arrays exits 1 with ${want}, not 2 with a stack overflow`, () => {
      const key = generateKey('Ed25519');
      const file = path.join(dir, `deep-${depth}.jws`);
      fs.writeFileSync(file, signEnvelope(deepJson(depth), key, { kid: keyToDid(key) }));
      for (const json of [true, false]) {
        const r = runCli(['check', file, '--key', keyToDid(key), ...(json ? ['--json'] : [])]);
        assert.equal(r.status, 1, `exit ${r.status}: ${r.stderr.slice(0, 300)}`);
        if (json) assert.equal(JSON.parse(r.stdout).code, want);
        else assert.match(r.stdout, new RegExp(`\\(${want}\\)`));
      }
    });
  }
});
