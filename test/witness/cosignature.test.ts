import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import { fromBase64 } from '../../lib/encoding/bytes';
import { signCheckpoint } from '../../lib/note/checkpoint';
import { generateKey, privateKeyFromBytes } from '../../lib/crypto';
import { isLedgerError } from '../../lib/errors';
import { verifierKeyString } from '../../lib/note/note';
import { openNote } from '../../lib/note/note-open';
import {
  cosignLine,
  cosignatureVerifier,
  cosignerKeyId,
  logVerifier,
  parseWitnessKey,
  witnessVerifierKey,
} from '../../lib/witness/cosignature';

// An independent cosignature/v1 written from the C2SP tlog-cosignature text with node:crypto
// alone: key ID = SHA-256(name || "\n" || 0x04 || pubkey)[:4]; signature = key ID || u64be(time)
// || Ed25519(sk, "cosignature/v1\ntime <t>\n" || note text).
function specKeyId(name: string, pub: Buffer): Buffer {
  return crypto.createHash('sha256').update(Buffer.concat([Buffer.from(name, 'utf8'), Buffer.from([0x0a, 0x04]), pub])).digest().subarray(0, 4);
}
function specCosignature(text: string, name: string, seed: Buffer, time: number): string {
  const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  const sk = crypto.createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  const pub = Buffer.from(crypto.createPublicKey(sk).export({ format: 'jwk' }).x as string, 'base64url');
  const msg = Buffer.from(`cosignature/v1\ntime ${time}\n${text}`, 'utf8');
  const ts = Buffer.alloc(8);
  ts.writeBigUInt64BE(BigInt(time));
  const sig = crypto.sign(null, msg, sk);
  return `\u2014 ${name} ${Buffer.concat([specKeyId(name, pub), ts, sig]).toString('base64')}\n`;
}

const SEED = Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex'); // RFC 8032 test 1
const TEXT = 'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n';

describe('cosignature/v1 (C2SP tlog-cosignature)', () => {
  const key = privateKeyFromBytes('Ed25519', SEED);
  const cosigner = { name: 'witness.example.com/w1', key };

  it('matches an implementation written from the spec text, byte for byte', () => {
    for (const t of [0, 1, 1679315147, 2 ** 40 + 3]) assert.equal(cosignLine(TEXT, cosigner, t), specCosignature(TEXT, cosigner.name, SEED, t));
    const withExt = `${TEXT}example.com/ext line\n`;
    assert.equal(cosignLine(withExt, cosigner, 1700000000), specCosignature(withExt, cosigner.name, SEED, 1700000000));
  });

  it('derives the key ID with type 0x04, not the note type 0x01', () => {
    assert.deepEqual(Buffer.from(cosignerKeyId(cosigner.name, key)), specKeyId(cosigner.name, Buffer.from(key.publicKey)));
    const vkey = witnessVerifierKey(cosigner.name, key);
    const [, id, b64] = /^([^+]+)\+([0-9a-f]{8})\+(.+)$/.exec(vkey)!.slice(1);
    assert.notEqual(id, /\+([0-9a-f]{8})\+/.exec(verifierKeyString(cosigner.name, key))![1]);
    assert.equal(fromBase64(b64)[0], 0x04);
    const parsed = parseWitnessKey(vkey);
    assert.equal(parsed.name, cosigner.name);
    assert.deepEqual(parsed.key.publicKey, key.publicKey);
  });

  it('refuses witness keys with a wrong ID, type or length', () => {
    const vkey = witnessVerifierKey(cosigner.name, key);
    const [name, id, b64] = /^([^+]+)\+([0-9a-f]{8})\+(.+)$/.exec(vkey)!.slice(1);
    const bad = [
      `${name}+${id.replace(/.$/, (c) => (c === '0' ? '1' : '0'))}+${b64}`,
      verifierKeyString(cosigner.name, key), // a type 0x01 note key
      `${name}+${id}+${b64.slice(0, -4)}`,
      'no key',
      `bad name+${id}+${b64}`,
    ];
    for (const k of bad) assert.throws(() => parseWitnessKey(k), (e: unknown) => isLedgerError(e, 'ERR_MALFORMED_KEY'), k);
  });

  it('verifies through the note rules and reads the timestamp; a changed time or text fails', () => {
    const gw = generateKey('Ed25519');
    const note = signCheckpoint({ origin: 'gw.example/a', size: 3, root: new Uint8Array(32).fill(1), extensions: [] }, 'gw.example/a', gw);
    const text = note.slice(0, note.lastIndexOf('\n\n') + 1);
    const line = cosignLine(text, cosigner, 1234567);
    const log = logVerifier(verifierKeyString('gw.example/a', gw), 'gw.example/a');
    const v = cosignatureVerifier(parseWitnessKey(witnessVerifierKey(cosigner.name, key)));
    const opened = openNote(note + line, [log, v]);
    assert.equal(opened.verified.length, 2);
    assert.deepEqual(v.timestamps, [1234567]);
    // Changing the timestamp bytes breaks the signature: the time is signed.
    const blob = Buffer.from(line.trim().split(' ').pop()!, 'base64');
    blob[11] ^= 1;
    const tampered = `\u2014 ${cosigner.name} ${blob.toString('base64')}\n`;
    assert.throws(() => openNote(note + tampered, [log, v]), (e: unknown) => isLedgerError(e, 'ERR_BAD_SIGNATURE'));
    // A cosignature from the future is not counted when the caller says so; it is no bad signature.
    const strict = cosignatureVerifier(parseWitnessKey(witnessVerifierKey(cosigner.name, key)), { notAfter: 1000 });
    assert.equal(openNote(note + line, [log, strict]).verified.length, 2);
    assert.deepEqual(strict.timestamps, []);
    assert.deepEqual(strict.uncounted, [1234567n]);
  });
});
