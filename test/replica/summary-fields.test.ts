import * as assert from 'node:assert/strict';
import { generateKey, keyToDid } from '../../lib/crypto';
import { encodeCbor, type CborValue } from '../../lib/encoding/codec';
import { isLedgerError } from '../../lib/errors';
import { decodeRecord, encodeRecord, MAX_BODY_DEPTH } from '../../lib/ledger/record';
import type { SummaryFields } from '../../lib/ledger/summary';
import { summaryFields } from '../../lib/replica/summary-fields';

// A replica reads the summary fields of each record it stores without building the body.
// Whatever the bytes, it must accept exactly what decodeRecord accepts, with the same fields.

function outcome(read: () => SummaryFields): string {
  try {
    const r = read();
    return JSON.stringify({ type: r.type, time: r.time, device: r.device ?? null });
  } catch (err) {
    return isLedgerError(err) ? err.code : `not a LedgerError: ${String(err)}`;
  }
}

function agrees(bytes: Uint8Array): string {
  const want = outcome(() => decodeRecord(bytes));
  assert.equal(outcome(() => summaryFields(bytes)), want, Buffer.from(bytes).toString('hex'));
  return want;
}

const did = keyToDid(generateKey('Ed25519'));
const p256 = keyToDid(generateKey('ES256'));

/** Record bytes encoded as given, without encodeRecord's checks. */
const raw = (fields: Record<string, CborValue>): Uint8Array => encodeCbor({ v: 1, type: 'reading', time: 1764000000000, ...fields });

function nested(depth: number, container: 'array' | 'map', inner: CborValue = 1): CborValue {
  let v: CborValue = inner;
  for (let i = 0; i < depth; i++) v = container === 'array' ? [v] : { k: v };
  return v;
}

/** A record whose body is `depth` containers around `inner`, written byte by byte (deeper than any encoder here writes). */
function deepRecord(depth: number, container: 'array' | 'map', inner: 'one' | 'empty'): Uint8Array {
  const marker = Buffer.from(raw({ body: new Uint8Array([0xab, 0xcd, 0xef]) }));
  const at = marker.indexOf(Buffer.from([0x43, 0xab, 0xcd, 0xef]));
  const open = container === 'array' ? [0x81] : [0xa1, 0x61, 0x6b]; // [x] or {"k": x}
  const innermost = inner === 'one' ? [0x01] : [container === 'array' ? 0x80 : 0xa0];
  const body = [...Array.from({ length: depth }, () => open).flat(), ...innermost];
  return Buffer.concat([marker.subarray(0, at), Buffer.from(body), marker.subarray(at + 4)]);
}

/** A small deterministic generator (xorshift32). */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}

describe('replica summary fields (the scanner, checked against decodeRecord)', () => {
  it('reads type, time and device of valid records as decodeRecord does', () => {
    const records = [
      { v: 1 as const, type: 'reading', time: 0 },
      { v: 1 as const, type: 'reading', time: 1764000000000, device: did, body: { temperature: -21.5, door: false, seq: 2n ** 63n, raw: new Uint8Array([1, 2]) } },
      { v: 1 as const, type: 'contract.verdict', time: 5, device: p256, body: [null, 'text', 1.5, -7, { a: [] }] },
      { v: 1 as const, type: 'security', time: 7, body: { code: 'ERR_BAD_SIGNATURE', count: 3 } },
      { v: 1 as const, type: 'reading', time: 9, device: did, body: { t: 1 }, envelope: 'eyJhbGciOiJFZERTQSJ9.eyJ0IjoxfQ.c2ln' },
    ];
    for (const r of records) assert.equal(JSON.parse(agrees(encodeRecord(r))).type, r.type);
  });

  it('refuses bodies nested deeper than decodeRecord allows, at every depth around the limit', () => {
    const verdicts: string[] = [];
    for (let depth = MAX_BODY_DEPTH - 2; depth <= MAX_BODY_DEPTH + 6; depth++) {
      for (const container of ['array', 'map'] as const) {
        for (const inner of ['one', 'empty'] as const) verdicts.push(agrees(deepRecord(depth, container, inner)));
      }
    }
    // Both sides of the limit were reached: some accepted, some refused.
    assert.ok(verdicts.includes('ERR_MALFORMED_RECORD') && verdicts.some((v) => v.startsWith('{')), verdicts.join());
  });

  it('refuses what decodeRecord refuses: a did:key that does not decode, a fragment, unknown fields, a wrong version or time', () => {
    const refused = [
      raw({ device: 'did:key:z6MkBAD' }),
      raw({ device: `${did}#key-1` }),
      raw({ device: 'did:web:example.com' }),
      raw({ extra: 1 }),
      encodeCbor({ v: 2, type: 'reading', time: 1 }),
      raw({ time: -1 }),
      raw({ time: 1.5 }),
      raw({ type: 'Reading' }),
      raw({ envelope: 5 }),
      deepRecord(MAX_BODY_DEPTH + 1, 'map', 'one'),
    ];
    for (const bytes of refused) assert.equal(agrees(bytes), 'ERR_MALFORMED_RECORD');
  });

  it('agrees with decodeRecord on every byte-level change of valid records', () => {
    const next = random(0x5eed1);
    const bases = [
      encodeRecord({ v: 1, type: 'reading', time: 1764000000000, device: did, body: { temperature: -21.5, n: 300, tags: ['a', 'b'], ok: true } }),
      encodeRecord({ v: 1, type: 'firmware.report', time: 12, device: p256, body: { version: '1.2.3', digest: new Uint8Array(32).fill(7) } }),
      encodeRecord({ v: 1, type: 'reading', time: 3, body: { deep: nested(MAX_BODY_DEPTH - 1, 'array') } }),
      encodeRecord({ v: 1, type: 'reading', time: 4, device: did, body: { x: 1.5e300, y: -0.25, z: 65536 }, envelope: 'eyJhbGciOiJFZERTQSJ9.eyJ0IjoxfQ.c2ln' }),
    ];
    const verdicts = new Set<string>();
    for (const base of bases) {
      for (let i = 0; i < 1500; i++) {
        const bytes = Uint8Array.from(base);
        const edits = 1 + Math.floor(next() * 3);
        for (let e = 0; e < edits; e++) {
          const at = Math.floor(next() * bytes.length);
          bytes[at] = next() < 0.5 ? Math.floor(next() * 256) : bytes[at] ^ (1 << Math.floor(next() * 8));
        }
        const cut = next() < 0.1 ? bytes.subarray(0, Math.floor(next() * bytes.length)) : bytes;
        verdicts.add(agrees(cut).startsWith('{') ? 'accepted' : 'refused');
      }
    }
    assert.deepEqual([...verdicts].sort(), ['accepted', 'refused']);
  });
});
