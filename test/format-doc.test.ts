import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fromHex, fromUtf8, toBase64, toHex, utf8 } from '../lib/encoding/bytes';
import { CborTag, decodeCbor, encodeCbor } from '../lib/encoding/codec';
import { keyToDid } from '../lib/crypto';
import { didToKey } from '../lib/crypto/didkey';
import { signEnvelope, verifyEnvelope } from '../lib/envelope/envelope';
import { privateKeyFromBytes } from '../lib/crypto/keys';
import { verifySignature } from '../lib/crypto/signature';
import { scanRecord } from '../lib/audit/record-scan';
import { readRecord, RECORD_TYPE } from '../lib/audit/records';
import { TYPE_PATTERN } from '../lib/ledger/record';
import { sha256 } from '../lib/crypto/hash';
import { headerLine, openCheckpoint, signCheckpoint } from '../lib/note/checkpoint';
import { verifierKeyString } from '../lib/note/note';
import { encodeRecord, decodeRecord } from '../lib/ledger';
import { encodeHeader } from '../lib/ledger/blocks';
import { leafHash, nodeHash } from '../lib/merkle';
import { projectRoot } from './support/paths';

// docs/FORMAT.md is meant for independent verifiers: its worked example must stay true.
describe('docs/FORMAT.md worked example', () => {
  const doc = fs.readFileSync(path.join(projectRoot, 'docs', 'FORMAT.md'), 'utf8');
  const example = doc.slice(doc.indexOf('## Worked example'));
  const blocks = [...example.matchAll(/```\n([0-9a-f]+)\n(?:leaf|header) hash ([0-9a-f]{64})\n```/g)].map((m) => ({ bytes: fromHex(m[1]), hash: m[2] }));
  const json = [...example.matchAll(/ — `(\{.*?\})`:/g)].map((m) => m[1]);

  it('states two records and a header', () => {
    assert.equal(blocks.length, 3);
    assert.equal(json.length, 3);
  });

  it('records: the CBOR is the canonical encoding of the stated record and the leaf hashes follow', () => {
    for (const i of [0, 1]) {
      const stated = JSON.parse(json[i]) as Parameters<typeof encodeRecord>[0];
      assert.equal(toHex(encodeRecord(stated)), toHex(blocks[i].bytes));
      assert.deepEqual(decodeRecord(blocks[i].bytes), stated);
      assert.equal(toHex(leafHash(blocks[i].bytes)), blocks[i].hash);
    }
  });

  it('root and header: node hash, base64 root, header bytes and header hash', () => {
    const root = nodeHash(leafHash(blocks[0].bytes), leafHash(blocks[1].bytes));
    assert.ok(example.includes(`\`${toHex(root)}\``));
    assert.ok(example.includes(`\`${toBase64(root)}\``));
    const header = { v: 1 as const, height: 0, prev: new Uint8Array(32), first: 0, size: 2, root, time: 1764064802000 };
    assert.equal(toHex(encodeHeader(header)), toHex(blocks[2].bytes));
    assert.deepEqual(decodeCbor(blocks[2].bytes), header);
    assert.equal(toHex(sha256(blocks[2].bytes)), blocks[2].hash);
  });

  it('checkpoint: the signed note of block 0 with its header line, byte for byte', () => {
    const note = /```note\n([\s\S]*?)```/.exec(example)?.[1];
    assert.ok(note, 'the example states a checkpoint');
    const key = privateKeyFromBytes('Ed25519', Uint8Array.from({ length: 32 }, (_, i) => i));
    const name = 'example.com/cold-room';
    const vkey = verifierKeyString(name, key);
    assert.ok(example.includes(`\`${vkey}\``));
    const root = nodeHash(leafHash(blocks[0].bytes), leafHash(blocks[1].bytes));
    const expected = signCheckpoint({ origin: name, size: 2, root, extensions: [headerLine(0, sha256(blocks[2].bytes))] }, name, key);
    assert.equal(note, expected);
    assert.equal(openCheckpoint(note, vkey).extensions[0], `iot-ledger header 0 ${toBase64(sha256(blocks[2].bytes))}`);
  });
});

describe('docs/FORMAT.md COSE_Sign1 worked example', () => {
  const doc = fs.readFileSync(path.join(projectRoot, 'docs', 'FORMAT.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Device envelopes: COSE_Sign1'), doc.indexOf('## Merkle log'));
  const hexAfter = (label: string): Uint8Array => fromHex((section.match(new RegExp(`${label}\\n([0-9a-f]+)\\n`)) as RegExpMatchArray)[1]);
  const secret = (section.match(/secret `([0-9a-f]{64})`/) as RegExpMatchArray)[1];
  const did = (section.match(/did:key `(did:key:z[1-9A-HJ-NP-Za-km-z]+)`/) as RegExpMatchArray)[1];
  const payloadText = (section.match(/bytes of `(\{.*?\})`/) as RegExpMatchArray)[1];
  const cose = hexAfter('COSE_Sign1');
  const sigStructure = hexAfter('Sig_structure');

  it('the key, its did:key and the payload are what the text says', () => {
    const key = privateKeyFromBytes('Ed25519', fromHex(secret));
    assert.equal(keyToDid(key), did);
    assert.equal(utf8(payloadText).length, 52);
  });

  it('the Sig_structure is ["Signature1", protected, empty external_aad, payload]', () => {
    assert.deepEqual(decodeCbor(sigStructure), ['Signature1', fromHex('a10127'), new Uint8Array(0), utf8(payloadText)]);
  });

  it('the message is tag 18 over [protected, {4: kid}, payload, signature] and verifies with the did:key', () => {
    const msg = decodeCbor(cose) as CborTag;
    assert.ok(msg instanceof CborTag && msg.tag === 18);
    const [prot, unprot, payload, signature] = msg.value as [Uint8Array, Map<number, Uint8Array>, Uint8Array, Uint8Array];
    assert.deepEqual(decodeCbor(prot), new Map([[1, -8]]));
    assert.deepEqual([...unprot.keys()], [4]);
    assert.equal(fromUtf8(unprot.get(4) as Uint8Array), did);
    assert.equal(fromUtf8(payload), payloadText);
    assert.equal(signature.length, 64);
    const key = didToKey(did);
    assert.ok(verifySignature('Ed25519', key.publicKey, sigStructure, signature));
    const v = verifyEnvelope(cose, did);
    assert.equal(v.kid, did);
    assert.equal(fromUtf8(v.payload), payloadText);
  });

  it('signing the payload with the stated key gives exactly these bytes (Ed25519 is deterministic)', () => {
    const key = privateKeyFromBytes('Ed25519', fromHex(secret));
    assert.equal(toHex(signEnvelope(utf8(payloadText), key, { format: 'cose', kid: did }) as Uint8Array), toHex(cose));
  });
});

describe('docs/FORMAT.md rules for records: the writer and the audit follow the same ones', () => {
  const doc = fs.readFileSync(path.join(projectRoot, 'docs', 'FORMAT.md'), 'utf8');
  const recordWith = (bodyHex: string, type = 'note'): Uint8Array =>
    // {v: 1, body: <bodyHex>, time: 1, type: <type>} in deterministic key order
    fromHex(`a4617601646${'2'}6f6479${bodyHex}6474696d65016474797065${toHex(encodeCbor(type))}`);
  /** Accepted by the ledger's decoder, and by both of the audit's readers, alike. */
  const verdicts = (bytes: Uint8Array): { writer: boolean; audit: boolean; fast: boolean | undefined } => {
    let writer = true;
    try {
      decodeRecord(bytes);
    } catch {
      writer = false;
    }
    const fast = scanRecord(bytes);
    return { writer, audit: readRecord(bytes).record !== undefined, fast: fast === undefined ? undefined : true };
  };
  const agree = (bytes: Uint8Array, want: boolean, what: string): void => {
    const v = verdicts(bytes);
    assert.equal(v.writer, want, `${what}: ledger decoder`);
    assert.equal(v.audit, want, `${what}: audit reader`);
    if (!want) assert.equal(v.fast, undefined, `${what}: the audit's fast reader must not accept it`);
  };

  it('the type pattern in the document is the one the writer and the audit use', () => {
    assert.ok(doc.includes(`\`${TYPE_PATTERN.source}\``));
    assert.equal(RECORD_TYPE.source, TYPE_PATTERN.source);
    agree(recordWith('01', 'contract.reading'), true, 'a listed type');
    agree(recordWith('01', 'my-flow.thing_2'), true, 'a type of a flow\'s own');
    for (const t of ['Reading', '1note', 'a b', 'x'.repeat(65), 'é']) agree(recordWith('01', t), false, `type ${t}`);
    assert.throws(() => encodeRecord({ v: 1, type: 'Reading', time: 1 }), /type must match/);
  });

  it('a record may have no body', () => {
    const r = encodeRecord({ v: 1, type: 'note', time: 1 });
    assert.deepEqual(decodeRecord(r), { v: 1, type: 'note', time: 1 });
    assert.ok(readRecord(r).record);
  });

  it('numbers: integers up to 2^53-1 are integers, a float holding one is refused, larger values keep their kind', () => {
    const cases: [string, unknown, string, boolean][] = [
      ['2 written as a number', 2, '02', true],
      ['2.0 as a half float', undefined, 'f94000', false],
      ['2^53-1 as a double', undefined, 'fb433fffffffffffff', false],
      ['-1 as a half float', undefined, 'f9bc00', false],
      ['0.5', 0.5, 'f93800', true],
      ['-0', -0, 'f98000', true],
      ['2^60 written as a number', 2 ** 60, 'fa5d800000', true],
      ['2^60 written as a bigint', 2n ** 60n, '1b1000000000000000', true],
      ['2^64 written as a number', 2 ** 64, 'fa5f800000', true],
      ['1e20 written as a number', 1e20, 'fb4415af1d78b58c40', true],
      ['-2^64 written as a bigint', -(2n ** 64n), '3bffffffffffffffff', true],
      ['2^64-1 written as a bigint', 2n ** 64n - 1n, '1bffffffffffffffff', true],
      ['2^53 as a double (not the shortest)', undefined, 'fb4340000000000000', false],
      ['1.5 as a single (not the shortest)', undefined, 'fa3fc00000', false],
      ['NaN', undefined, 'f97e00', false],
      ['Infinity', undefined, 'f97c00', false],
    ];
    for (const [what, value, hex, valid] of cases) {
      if (value !== undefined) assert.equal(toHex(encodeRecord({ v: 1, type: 'note', time: 1, body: value as never })), toHex(recordWith(hex)), what);
      agree(recordWith(hex), valid, what);
    }
    assert.throws(() => encodeRecord({ v: 1, type: 'note', time: 1, body: -(2n ** 64n) - 1n }), /64-bit/);
    assert.throws(() => encodeRecord({ v: 1, type: 'note', time: 1, body: NaN }), /finite/);
  });
});
