import * as assert from 'node:assert/strict';
import { createHash, createPublicKey, verify as nodeVerify } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ed25519 } from '../lib/vendor/esm-only';
import { parseTrustedKey } from '../lib/audit/trust';
import { concatBytes, fromHex, toBase58, toBase64, toBase64Url, toHex, utf8 } from '../lib/encoding/bytes';
import { validateTerms } from '../lib/contracts';
import { didToKey, generateKey, jwkToKey, keyToDid, publicKeyFromBytes, verifySignature, type PublicKey } from '../lib/crypto';
import { verifyEnvelope } from '../lib/envelope/envelope';
import { isLedgerError } from '../lib/errors';
import { checkVendor, FirmwareState, isFirmwareRejection } from '../lib/firmware';
import { Gateway } from '../lib/gateway';
import { readKeyFile } from '../lib/crypto/keyfile';
import { parseVerifierKey } from '../lib/note/note';
import { enrolBody } from '../lib/registry/devices';
import { ED25519_SMALL_ORDER_KEYS } from '../lib/crypto/small-order';
import { runCli } from './support/cli';
import { tempDir } from './support/ledger';

// An Ed25519 public key A of small order makes [h]A the identity whenever its order divides h,
// so the signature R = identity, S = 0 "verifies" (for every message with the identity key).

type Point = InstanceType<typeof ed25519.Point>;
const Point = ed25519.Point;
const { p, n } = Point.CURVE();

function times(pt: Point, k: bigint): Point {
  let acc = Point.ZERO;
  for (let add = pt; k > 0n; k >>= 1n, add = add.double()) if (k & 1n) acc = acc.add(add);
  return acc;
}

function littleEndian(v: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
}

/**
 * Derives every 32-byte string that a lax decoder reads as a point of order 1, 2, 4 or 8:
 * [n]P of a point P with a torsion part generates the torsion group; each of its points is
 * then written with y and (when it still fits in 255 bits) y + p, and with both sign bits.
 */
function deriveSmallOrderEncodings(): Set<string> {
  let torsion: Point | undefined;
  for (let i = 0; !torsion; i++) {
    let pt: Point;
    try {
      pt = Point.fromBytes(createHash('sha256').update(`point ${i}`).digest());
    } catch {
      continue;
    }
    const t = times(pt, n);
    if (!t.double().double().equals(Point.ZERO)) torsion = t; // order 8
  }
  const group: Point[] = [];
  for (let k = 0n, q = Point.ZERO; k < 8n; k++, q = q.add(torsion)) group.push(q);
  assert.equal(new Set(group.map((q) => toHex(q.toBytes()))).size, 8);
  for (const q of group) assert.ok(times(q, 8n).equals(Point.ZERO));

  const out = new Set<string>();
  for (const q of group) {
    const { x, y } = q.toAffine();
    for (const yy of [y, y + p]) {
      if (yy >= 2n ** 255n) continue;
      for (const sign of [0, 0x80]) {
        const bytes = littleEndian(yy);
        bytes[31] |= sign;
        // a lax decoder: y taken mod p, x recovered from y, a set sign bit with x = 0 ignored
        let decoded: Point | undefined;
        if (x === 0n) decoded = q;
        else {
          try {
            decoded = Point.fromBytes(bytes, true);
          } catch {
            decoded = undefined;
          }
        }
        if (decoded && group.some((g) => g.equals(decoded))) out.add(toHex(bytes));
      }
    }
  }
  return out;
}

const forged = new Uint8Array(64);
forged[0] = 1; // R = the identity (y = 1), S = 0

const didOf = (raw: Uint8Array): string => `did:key:z${toBase58(concatBytes(Uint8Array.of(0xed, 0x01), raw))}`;
const jwkOf = (raw: Uint8Array) => ({ kty: 'OKP', crv: 'Ed25519', x: toBase64Url(raw) });
const weak = (e: unknown): boolean => isLedgerError(e, 'ERR_WEAK_KEY');

/** What node:crypto says on its own, with no check of ours in front of it. */
function rawNodeVerify(raw: Uint8Array, msg: Uint8Array): boolean {
  const spki = concatBytes(fromHex('302a300506032b6570032100'), raw);
  return nodeVerify(null, msg, createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }), forged);
}

function forgedJws(raw: Uint8Array, payload: object): string {
  const header = toBase64Url(utf8(JSON.stringify({ alg: 'EdDSA', kid: didOf(raw) })));
  return `${header}.${toBase64Url(utf8(JSON.stringify(payload)))}.${toBase64Url(forged)}`;
}

describe('weak keys: Ed25519 public keys of small order', () => {
  const derived = deriveSmallOrderEncodings();
  const keys = [...derived].map((h) => fromHex(h));

  it('the refused list is exactly the 8 canonical encodings and their 6 non-canonical twins', () => {
    assert.equal(derived.size, 14);
    assert.deepEqual([...ED25519_SMALL_ORDER_KEYS].sort(), [...derived].sort());
    const canonical = keys.filter((k) => {
      try {
        return toHex(Point.fromBytes(k).toBytes()) === toHex(k);
      } catch {
        return false;
      }
    });
    assert.equal(canonical.length, 8);
  });

  it('each of them, handed straight to node:crypto, accepts R = identity, S = 0 for some message (the identity for all)', () => {
    for (const k of keys) {
      const messages = Array.from({ length: 128 }, (_, i) => utf8(`{"temperature":-21,"counter":${i}}`));
      const accepted = messages.filter((m) => rawNodeVerify(k, m)).length;
      assert.ok(accepted > 0, `${toHex(k)} accepted no forged signature`);
      if (times(Point.fromBytes(k, true), 1n).equals(Point.ZERO)) assert.equal(accepted, messages.length);
    }
  });

  it('are refused with ERR_WEAK_KEY by every parser: raw bytes, did:key, JWK, key files, key objects, verifier keys', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weak-keys-'));
    try {
      for (const k of keys) {
        const what = toHex(k);
        assert.throws(() => publicKeyFromBytes('Ed25519', k), weak, what);
        assert.throws(() => didToKey(didOf(k)), weak, what);
        assert.throws(() => didToKey(`${didOf(k)}#z${didOf(k).slice(9)}`), weak, what);
        assert.throws(() => jwkToKey(jwkOf(k)), weak, what);
        assert.throws(() => jwkToKey({ ...jwkOf(k), d: toBase64Url(new Uint8Array(32).fill(7)) }), weak, what);
        const file = path.join(dir, `${what}.jwk`);
        fs.writeFileSync(file, JSON.stringify(jwkOf(k)));
        assert.throws(() => readKeyFile(file), weak, what);
        const obj: PublicKey = { alg: 'Ed25519', publicKey: k };
        assert.throws(() => keyToDid(obj), weak, what);
        assert.throws(() => parseTrustedKey(didOf(k), 'gw'), weak, what);
        const vkey = `gw+${toHex(createHash('sha256').update(concatBytes(utf8('gw'), Uint8Array.of(0x0a, 1), k)).digest().subarray(0, 4))}+${toBase64(concatBytes(Uint8Array.of(1), k))}`;
        assert.throws(() => parseVerifierKey(vkey), weak, what);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('cannot verify a forged envelope, whichever way the key is given', () => {
    for (const k of keys) {
      const jws = forgedJws(k, { temperature: -21, counter: 1 });
      assert.throws(() => verifyEnvelope(jws, didOf(k)), weak);
      assert.throws(() => verifyEnvelope(jws, jwkOf(k)), weak);
      assert.throws(() => verifyEnvelope(jws, { alg: 'Ed25519', publicKey: k }), weak);
      // the raw primitive refuses it too, so nothing that skips the parsers can use one
      assert.equal(verifySignature('Ed25519', k, utf8('any message'), forged), false);
    }
  });

  it('cannot be enrolled, trusted as a vendor key or named as a contract party', () => {
    const state = new FirmwareState();
    for (const k of keys) {
      assert.throws(() => enrolBody({ did: didOf(k), name: 'mallory' }), weak);
      assert.throws(() => checkVendor(state, { vendor: 'acme', did: didOf(k), action: 'trust' }), (e: unknown) => isFirmwareRejection(e, 'weak-key'));
      const terms = { id: 't', version: 1, title: 't', subjects: 'any', metric: 'temperature', rule: { op: '<', limit: 8 }, alarm: { mode: 'instant' } };
      assert.throws(() => validateTerms({ ...terms, parties: [didOf(k)] }), weak);
    }
  });

  it('a gateway refuses to enrol one, and trust on first use of one fails typed (nothing recorded)', async () => {
    const tmp = tempDir();
    const gw = await Gateway.open(tmp.dir, { name: 'weak', gatewayKey: generateKey('Ed25519'), blockSeconds: 0 });
    try {
      const identity = fromHex('0100000000000000000000000000000000000000000000000000000000000000');
      await assert.rejects(gw.enrol({ did: didOf(identity), name: 'mallory' }), { code: 'ERR_WEAK_KEY' });
      await assert.rejects(gw.verify(forgedJws(identity, { temperature: 99, counter: 1 }), { tofu: true }), { code: 'ERR_WEAK_KEY' });
      assert.equal(gw.devices.list().length, 0);
      assert.equal(gw.ledger.size, 0);
    } finally {
      await gw.close();
      tmp.cleanup();
    }
  });

  it('iot-ledger check refuses the key with ERR_WEAK_KEY instead of reporting the forgery valid', () => {
    const identity = fromHex('0100000000000000000000000000000000000000000000000000000000000000');
    const r = runCli(['check', forgedJws(identity, { temperature: 99, counter: 1 }), '--key', didOf(identity)]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr + r.stdout, /ERR_WEAK_KEY/);
    assert.doesNotMatch(r.stdout, /^valid/m);
  });
});
