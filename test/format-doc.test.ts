import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fromHex, toBase64, toHex } from '../lib/bytes';
import { decodeCbor } from '../lib/codec';
import { sha256 } from '../lib/hash';
import { headerLine, openCheckpoint, signCheckpoint } from '../lib/checkpoint';
import { privateKeyFromBytes } from '../lib/keys';
import { verifierKeyString } from '../lib/note';
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
