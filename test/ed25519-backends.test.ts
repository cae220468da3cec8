// The two Ed25519 verifiers (lib/crypto/ed25519.ts) must give the same verdict on every input:
// a ledger audits the same wherever it is checked. libsodium (sodium-native) is installed on
// this kind of machine (x64, glibc), so both are exercised here.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, verify as nodeVerify, createPublicKey } from 'node:crypto';
import * as path from 'node:path';
import { ED25519_ENV, ed25519Backend, verifyEd25519With, type Ed25519Backend } from '../lib/crypto/ed25519';
import { ED25519_SMALL_ORDER_KEYS } from '../lib/crypto/small-order';
import { generateKey, sign, verifySignature } from '../lib/crypto';
import { fromHex, utf8 } from '../lib/encoding/bytes';
import { ed25519 } from '../lib/vendor/esm-only';
import { readVector } from './support/paths';

const BACKENDS: Ed25519Backend[] = ['libsodium', 'node:crypto'];
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

function both(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  const [a, b] = BACKENDS.map((backend) => verifyEd25519With(backend, publicKey, message, signature));
  assert.equal(a, b, `libsodium says ${String(a)}, node:crypto ${String(b)}`);
  return a;
}

const littleEndian = (n: bigint): Uint8Array => Uint8Array.from({ length: 32 }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn));
const fromLittleEndian = (b: Uint8Array): bigint => b.reduceRight((acc, byte) => (acc << 8n) | BigInt(byte), 0n);

/** OpenSSL's own verdict, without the shared checks. */
function opensslAlone(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), publicKey]);
  return nodeVerify(null, message, createPublicKey({ key: spki, format: 'der', type: 'spki' }), signature);
}

describe('Ed25519: libsodium and node:crypto give the same verdicts', () => {
  it('libsodium verifies in this process (sodium-native is installed here)', () => {
    assert.deepEqual(ed25519Backend(), { backend: 'libsodium' });
  });

  it(`${ED25519_ENV}=node-crypto makes a process verify with node:crypto`, () => {
    const script = `process.stdout.write(JSON.stringify(require(${JSON.stringify(path.join(__dirname, '../lib/crypto/ed25519'))}).ed25519Backend()))`;
    const out = execFileSync(process.execPath, ['-e', script], { env: { ...process.env, [ED25519_ENV]: 'node-crypto' }, encoding: 'utf8' });
    assert.deepEqual(JSON.parse(out), { backend: 'node:crypto', why: `${ED25519_ENV}=node-crypto` });
  });

  it("agree on Wycheproof's Ed25519 cases, and match each case's expected result", () => {
    const data = readVector<{ testGroups: { publicKey: { pk: string }; tests: { tcId: number; msg: string; sig: string; result: string }[] }[] }>(
      'wycheproof',
      'ed25519_test.json',
    );
    let cases = 0;
    for (const group of data.testGroups) {
      const pk = fromHex(group.publicKey.pk);
      for (const t of group.tests) {
        const got = both(pk, fromHex(t.msg), fromHex(t.sig));
        if (t.result !== 'acceptable') assert.equal(got, t.result === 'valid', `tcId ${t.tcId}`);
        cases++;
      }
    }
    assert.ok(cases > 100, `only ${cases} cases`);
  });

  it('refuse a signature whose R is the identity, made with the private key (OpenSSL alone accepts it)', () => {
    const seed = createHash('sha256').update('identity R').digest();
    const { scalar, pointBytes } = ed25519.utils.getExtendedPublicKey(seed);
    const message = utf8('a reading');
    const r = fromHex(ED25519_SMALL_ORDER_KEYS[0]); // the identity, canonical
    const k = fromLittleEndian(createHash('sha512').update(r).update(pointBytes).update(message).digest()) % L;
    const signature = new Uint8Array(64);
    signature.set(r);
    signature.set(littleEndian((k * scalar) % L), 32);
    assert.equal(opensslAlone(pointBytes, message, signature), true, 'the signature is valid for OpenSSL');
    assert.equal(both(pointBytes, message, signature), false);
    assert.equal(verifySignature('Ed25519', pointBytes, message, signature), false);
  });

  it('refuse every small-order R and key encoding, and a non-canonical key, before either library runs', () => {
    const key = generateKey('Ed25519');
    const message = utf8('m');
    const good = sign(key, message);
    assert.equal(both(key.publicKey, message, good), true);
    for (const hex of ED25519_SMALL_ORDER_KEYS) {
      const small = fromHex(hex);
      const withR = Uint8Array.from(good);
      withR.set(small);
      assert.equal(both(key.publicKey, message, withR), false, `R ${hex}`);
      assert.equal(both(small, message, good), false, `key ${hex}`);
    }
    const nonCanonical = fromHex('f0ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f');
    assert.equal(both(nonCanonical, message, good), false);
  });

  it('refuse S = L and S + L (the same signature, malleated)', () => {
    const key = generateKey('Ed25519');
    const message = utf8('m');
    const good = sign(key, message);
    const s = fromLittleEndian(good.subarray(32));
    for (const bad of [L, s + L]) {
      const sig = Uint8Array.from(good);
      sig.set(littleEndian(bad), 32);
      assert.equal(both(key.publicKey, message, sig), false);
    }
  });

  it('agree on valid signatures and on every one-bit change of them (keys, messages, signatures)', () => {
    let accepted = 0;
    for (let n = 0; n < 40; n++) {
      const key = generateKey('Ed25519');
      const message = createHash('sha256').update(String(n)).digest().subarray(0, n % 33);
      const signature = sign(key, message);
      if (both(key.publicKey, message, signature)) accepted++;
      for (let bit = n % 8; bit < 512; bit += 37) {
        const sig = Uint8Array.from(signature);
        sig[bit >> 3] ^= 1 << (bit & 7);
        assert.equal(both(key.publicKey, message, sig), false, `signature bit ${bit}`);
      }
      for (let bit = n % 8; bit < 256; bit += 41) {
        const pk = Uint8Array.from(key.publicKey);
        pk[bit >> 3] ^= 1 << (bit & 7);
        assert.equal(both(pk, message, signature), false, `key bit ${bit}`);
      }
      if (message.length > 0) {
        const m = Uint8Array.from(message);
        m[0] ^= 1;
        assert.equal(both(key.publicKey, m, signature), false, 'message');
      }
    }
    assert.equal(accepted, 40);
  });

  it('refuse keys and signatures of the wrong length without throwing', () => {
    const key = generateKey('Ed25519');
    const sig = sign(key, utf8('m'));
    assert.equal(both(key.publicKey.subarray(0, 31), utf8('m'), sig), false);
    assert.equal(both(key.publicKey, utf8('m'), sig.subarray(0, 63)), false);
    assert.equal(both(key.publicKey, utf8('m'), new Uint8Array(65)), false);
  });
});
