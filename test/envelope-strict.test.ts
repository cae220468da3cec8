import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { p256 } from '../lib/vendor/esm-only';
import { fromBase64Url, fromHex, toBase64Url, toHex, utf8 } from '../lib/encoding/bytes';
import { CborTag, encodeCbor, type CborValue } from '../lib/encoding/codec';
import { generateKey, keyToDid, keyToJwk, sign, type PrivateKey } from '../lib/crypto';
import { signEnvelope, verifyEnvelope } from '../lib/envelope/envelope';
import { isLedgerError } from '../lib/errors';
import { Gateway } from '../lib/gateway';
import { runCli } from './support/cli';
import { tempDir } from './support/ledger';
import { projectRoot, readVector } from './support/paths';

const hasCode = (code: string, text?: RegExp) => (e: unknown) => isLedgerError(e, code as never) && (!text || text.test(e.message));

/** A COSE_Sign1 built by hand: the protected bytes exactly as given, signed as given. */
function cose(key: PrivateKey, protectedBytes: Uint8Array, unprotected: Map<CborValue, CborValue>, payload = utf8('{"counter":1}'), signedProtected = protectedBytes): Uint8Array {
  const toSign = encodeCbor(['Signature1', signedProtected, new Uint8Array(0), payload]);
  return encodeCbor(new CborTag(18, [protectedBytes, unprotected, payload, sign(key, toSign)]));
}

describe('envelope: COSE_Sign1 headers are strict', () => {
  const key = generateKey('Ed25519');
  const did = keyToDid(key);
  const kid = (): Map<CborValue, CborValue> => new Map<CborValue, CborValue>([[4, utf8(did)]]);

  it('accepts the canonical protected header {1: -8}', () => {
    const ok = cose(key, fromHex('a10127'), kid());
    assert.equal(verifyEnvelope(ok, did).headerAlg, -8);
  });

  it('takes the algorithm from the protected header only: an unprotected alg is refused', () => {
    const unprot = kid();
    unprot.set(1, -8);
    assert.throws(() => verifyEnvelope(cose(key, new Uint8Array(0), unprot), did), hasCode('ERR_MALFORMED_ENVELOPE', /alg must be in the protected header/));
  });

  it('refuses crit in the unprotected header', () => {
    const unprot = kid();
    unprot.set(2, [4]);
    assert.throws(() => verifyEnvelope(cose(key, fromHex('a10127'), unprot), did), hasCode('ERR_MALFORMED_ENVELOPE', /crit/));
  });

  it("refuses an empty protected header written h'A0', whether signed over h'A0' or h''", () => {
    const unprot = kid();
    unprot.set(1, -8); // the only place left for alg: refused anyway, but the header is refused first
    for (const signed of [fromHex('a0'), new Uint8Array(0)]) {
      const msg = cose(key, fromHex('a0'), unprot, utf8('{"counter":1}'), signed);
      assert.throws(() => verifyEnvelope(msg, did), hasCode('ERR_MALFORMED_ENVELOPE', /h''/));
    }
  });

  it('refuses protected headers that are not deterministic CBOR (long-form integer, unsorted keys)', () => {
    const longForm = fromHex('a1013807'); // {1: -8} with -8 in a one-byte argument
    const unsorted = concat(fromHex('a2'), fromHex('04'), encodeCbor(utf8(did)), fromHex('0127')); // {4: kid, 1: -8}
    for (const prot of [longForm, unsorted]) {
      assert.throws(() => verifyEnvelope(cose(key, prot, new Map()), did), hasCode('ERR_MALFORMED_ENVELOPE', /deterministic/), toHex(prot));
    }
  });
});

function concat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((p) => [...p]));
}

describe('envelope: the kid is bound to the verification key', () => {
  for (const alg of ['Ed25519', 'ES256'] as const) {
    for (const format of ['jws', 'cose'] as const) {
      it(`${alg} ${format}: a kid naming another did:key is ERR_KID_MISMATCH, even with a valid signature`, () => {
        const signer = generateKey(alg);
        const other = generateKey(alg);
        const env = signEnvelope({ counter: 1 }, signer, { format, kid: keyToDid(other) });
        assert.throws(() => verifyEnvelope(env, keyToDid(signer)), hasCode('ERR_KID_MISMATCH'));
        assert.throws(() => verifyEnvelope(env, keyToJwk(signer)), hasCode('ERR_KID_MISMATCH'));
        assert.throws(() => verifyEnvelope(env, signer), hasCode('ERR_KID_MISMATCH'));
        // the kid's own fragment is fine; a fragment naming another key is not
        const own = keyToDid(signer);
        const withFragment = signEnvelope({ counter: 1 }, signer, { format, kid: `${own}#${own.slice('did:key:'.length)}` });
        assert.equal(verifyEnvelope(withFragment, own).alg, alg);
        const otherFragment = signEnvelope({ counter: 1 }, signer, { format, kid: `${own}#${keyToDid(other).slice('did:key:'.length)}` });
        assert.throws(() => verifyEnvelope(otherFragment, own), hasCode('ERR_KID_MISMATCH'));
      });
    }
  }

  it('an opaque kid must equal the JWK kid when the key has one, and is left to the caller otherwise', () => {
    const signer = generateKey('Ed25519');
    const env = signEnvelope({ counter: 1 }, signer, { kid: 'sensor-7' });
    assert.equal(verifyEnvelope(env, keyToDid(signer)).kid, 'sensor-7');
    assert.equal(verifyEnvelope(env, { ...keyToJwk(signer), kid: 'sensor-7' }).kid, 'sensor-7');
    assert.throws(() => verifyEnvelope(env, { ...keyToJwk(signer), kid: 'sensor-8' }), hasCode('ERR_KID_MISMATCH'));
  });

  it('iot-ledger check refuses a kid naming another key (exit 1, ERR_KID_MISMATCH), with a did:key or a JWK file', () => {
    const signer = generateKey('ES256');
    const other = generateKey('ES256');
    const env = signEnvelope({ counter: 1 }, signer, { kid: keyToDid(other) }) as string;
    const byDid = runCli(['check', env, '--key', keyToDid(signer), '--json']);
    assert.equal(byDid.status, 1, byDid.stderr);
    assert.equal((JSON.parse(byDid.stdout) as { code: string }).code, 'ERR_KID_MISMATCH');
    const tmp = tempDir();
    try {
      const file = path.join(tmp.dir, 'key.jwk');
      fs.writeFileSync(file, JSON.stringify({ ...keyToJwk(signer), kid: 'freezer-2' }));
      const named = signEnvelope({ counter: 1 }, signer, { kid: 'freezer-3' }) as string;
      const byFile = runCli(['check', named, '--key', file, '--json']);
      assert.equal(byFile.status, 1, byFile.stderr);
      assert.equal((JSON.parse(byFile.stdout) as { code: string }).code, 'ERR_KID_MISMATCH');
      const good = signEnvelope({ counter: 1 }, signer, { kid: 'freezer-2' }) as string;
      assert.equal(runCli(['check', good, '--key', file]).status, 0);
    } finally {
      tmp.cleanup();
    }
  });
});

// Decision (docs/FORMAT.md "Signed envelopes"): ES256 signatures with a high S are accepted,
// as Wycheproof and RFC 7518 / 9053 do. (r, n - s) is a second valid signature of the same
// message; the ledger never names a message by its signature bytes, and a re-sent message is
// caught by the device's counter, so the copy changes nothing.
describe('envelope: ECDSA high-S signatures are accepted (pinned decision)', () => {
  const n = p256.Point.CURVE().n;
  const flipS = (sig: Uint8Array): Uint8Array => {
    const s = BigInt(`0x${toHex(sig.subarray(32))}`);
    return concat(sig.subarray(0, 32), fromHex((n - s).toString(16).padStart(64, '0')));
  };
  const isHigh = (sig: Uint8Array): boolean => BigInt(`0x${toHex(sig.subarray(32))}`) > n / 2n;

  it("the cose-wg ES256 example's signature is high-S and verifies", () => {
    const v = readVector<{ input: { sign0: { key: { x: string; y: string } } }; output: { cbor: string } }>('cose', 'ecdsa-sig-01.json');
    const bytes = fromHex(v.output.cbor);
    assert.ok(isHigh(bytes.subarray(bytes.length - 64)));
    const k = v.input.sign0.key;
    assert.equal(verifyEnvelope(bytes, { kty: 'EC', crv: 'P-256', x: k.x, y: k.y }).alg, 'ES256');
  });

  it('both (r, s) and (r, n - s) verify in JWS, and the gateway takes the second copy for a replay', async () => {
    const device = generateKey('ES256');
    const did = keyToDid(device);
    const jws = signEnvelope({ temperature: -21, counter: 5 }, device, { kid: did }) as string;
    const [h, p, s] = jws.split('.');
    const twin = `${h}.${p}.${toBase64Url(flipS(fromBase64Url(s)))}`;
    assert.notEqual(twin, jws);
    assert.equal(isHigh(fromBase64Url(s)), !isHigh(fromBase64Url(twin.split('.')[2])));
    assert.equal(verifyEnvelope(jws, did).alg, 'ES256');
    assert.equal(verifyEnvelope(twin, did).alg, 'ES256');

    const tmp = tempDir();
    const gw = await Gateway.open(tmp.dir, { name: 'high-s', gatewayKey: generateKey('Ed25519'), blockSeconds: 0 });
    try {
      await gw.enrol({ did, name: 'freezer' });
      const v = await gw.verify(jws);
      await gw.record({ type: 'reading', device: did, body: v.payload as never, envelope: jws });
      await assert.rejects(gw.verify(twin), { code: 'ERR_REPLAY' });
    } finally {
      await gw.close();
      tmp.cleanup();
    }
  });

  it('the decision is written down in docs/FORMAT.md and the README security section', () => {
    const format = fs.readFileSync(path.join(projectRoot, 'docs', 'FORMAT.md'), 'utf8');
    const readme = fs.readFileSync(path.join(projectRoot, 'README.md'), 'utf8');
    assert.match(format, /high-S/);
    assert.match(readme.slice(readme.indexOf('## Security model')), /high-S/);
  });
});
