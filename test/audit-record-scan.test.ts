// The audit's fast record reader must never accept what lib/encoding/codec's canonical decoder
// rejects, and must read the same fields when both accept.
import * as assert from 'node:assert/strict';
import * as fc from 'fast-check';
import { CborTag, encodeCbor, type CborValue } from '../lib/encoding/codec';
import { readRecord } from '../lib/audit/records';
import { scanRecord, validUtf8 } from '../lib/audit/record-scan';
import { leafHashOfTail, hashBytes } from '../lib/audit/sha';
import { leafHash } from '../lib/merkle';

const did = 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK';

const leaf: fc.Arbitrary<CborValue> = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.float().map((x) => x),
  fc.constantFrom(0.5, -0, 1.5, 65504, 65520, 2 ** -24, 2 ** -25, 5.960464477539063e-8, 1e300, Infinity, -Infinity, NaN),
  fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n - 1n }),
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.uint8Array({ maxLength: 40 }),
  fc.boolean(),
  fc.constant(null),
);

const value: fc.Arbitrary<CborValue> = fc.letrec<{ v: CborValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 6 }), tie('v'), { maxKeys: 4 }),
    tie('v').map((x) => new CborTag(1, x)),
    fc.array(fc.tuple(fc.integer({ min: -3, max: 3 }), tie('v')), { maxLength: 3 }).map((kv) => new Map<CborValue, CborValue>(kv)),
  ),
})).v;

const record = fc.record(
  {
    type: fc.constantFrom('reading', 'note', 'device.enrol', 'device.revoke', 'device.tofu', 'security', ''),
    time: fc.oneof(fc.nat(), fc.constant(1764000000000)),
    device: fc.constantFrom(did, 'not-a-did'),
    body: value,
    envelope: fc.oneof(fc.string(), fc.uint8Array({ maxLength: 30 })),
    extra: fc.string(),
  },
  { requiredKeys: ['type', 'time'] },
);

function encode(r: Record<string, unknown>, v: CborValue = 1): Uint8Array {
  const m: Record<string, CborValue> = { v };
  for (const [k, x] of Object.entries(r)) if (x !== undefined) m[k] = x as CborValue;
  return encodeCbor(m);
}

/** Fast and slow readers agree: the fast one answers only when the slow one accepts, with the same fields. */
function agree(bytes: Uint8Array): void {
  const fast = scanRecord(bytes);
  fromOffsetAgrees(bytes, fast);
  if (!fast) return;
  const slow = readRecord(bytes);
  assert.ok(slow.record, `fast path accepted what lib/encoding/codec rejects: ${Buffer.from(bytes).toString('hex')} (${slow.problem})`);
  assert.equal(fast.type, slow.record.type);
  assert.equal(fast.time, slow.record.time);
  assert.equal(fast.device, slow.record.device);
  assert.deepEqual(fast.envelope, slow.record.envelope);
  if (['device.enrol', 'device.tofu', 'device.revoke'].includes(fast.type)) assert.deepEqual(fast.body, slow.record.body);
}

/**
 * The audit scans a record in place, from the byte after a stored value's leaf hash: the same
 * answer as on the record alone, whatever the bytes before it, and the leaf hash of that tail.
 */
function fromOffsetAgrees(bytes: Uint8Array, alone: ReturnType<typeof scanRecord>): void {
  for (const before of [Uint8Array.of(0xa1), Uint8Array.of(0x00, 0xff, 0x61)]) {
    const tail = new Uint8Array(before.length + bytes.length);
    tail.set(before);
    tail.set(bytes, before.length);
    const at = scanRecord(tail, before.length);
    assert.equal(at === undefined, alone === undefined, 'scan from an offset and scan alone disagree on acceptance');
    if (at && alone) {
      assert.equal(at.type, alone.type);
      assert.equal(at.time, alone.time);
      assert.equal(at.device, alone.device);
      assert.deepEqual(at.envelope, alone.envelope);
      assert.deepEqual(at.body, alone.body);
      assert.deepEqual(at.bodyBytes && [...at.bodyBytes], alone.bodyBytes && [...alone.bodyBytes]);
    }
    const view = tail.subarray(before.length - 1);
    const last = view[0];
    assert.deepEqual(hashBytes(leafHashOfTail(view)), leafHash(bytes));
    assert.equal(view[0], last, 'the byte before the record is restored');
  }
}

describe('audit: fast record reader', () => {
  it('reads what the ledger writes, like lib/encoding/codec does', () => {
    fc.assert(
      fc.property(record, (r) => {
        const bytes = encode(r);
        agree(bytes);
        const slow = readRecord(bytes);
        if (slow.record) assert.ok(scanRecord(bytes) || r.body !== undefined, 'plain records take the fast path');
      }),
      { numRuns: 1500 },
    );
  });

  it('never accepts a damaged record that lib/encoding/codec rejects', () => {
    fc.assert(
      fc.property(record, fc.nat(), fc.integer({ min: 1, max: 255 }), fc.nat(4), (r, at, xor, op) => {
        const bytes = encode(r);
        const i = at % bytes.length;
        let damaged: Uint8Array;
        if (op === 0) damaged = Uint8Array.from(bytes.subarray(0, i)); // truncated
        else if (op === 1) damaged = Uint8Array.from([...bytes.subarray(0, i), xor, ...bytes.subarray(i)]); // inserted
        else if (op === 2) damaged = Uint8Array.from([...bytes.subarray(0, i), ...bytes.subarray(i + 1)]); // deleted
        else {
          damaged = Uint8Array.from(bytes);
          damaged[i] ^= xor;
        }
        agree(damaged);
      }),
      { numRuns: 4000 },
    );
  });

  it('agrees on every float width and value class', () => {
    const bodies: number[] = [0.1, -0, 0.5, 1.0000000596046448, 65504, 65520, 2 ** -24, 2 ** -14, 2 ** -25, 1e-40, 3.4028234663852886e38, NaN, Infinity];
    for (const x of bodies) {
      const base = encode({ type: 'reading', time: 1, body: x });
      agree(base);
      // Records hold finite numbers only (docs/FORMAT.md).
      assert.equal(Boolean(scanRecord(base)), Number.isFinite(x), `float ${x}`);
      assert.equal(Boolean(readRecord(base).record), Number.isFinite(x), `float ${x}`);
      // The same number in every width: only the shortest is canonical.
      for (const width of [0xf9, 0xfa, 0xfb]) {
        const enc = floatBytes(width, x);
        if (!enc) continue;
        const bytes = encode({ type: 'reading', time: 1, body: 0 });
        // body 0 is the byte 0x00 right after the "body" key; swap it for the float.
        const k = Buffer.from(bytes).indexOf(Buffer.from('dbody'));
        const swapped = Uint8Array.from([...bytes.subarray(0, k + 5), ...enc, ...bytes.subarray(k + 6)]);
        agree(swapped);
      }
    }
  });

  it('validates UTF-8 exactly as the fatal WHATWG decoder does', () => {
    const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
    const ok = (b: Uint8Array): boolean => {
      try {
        decoder.decode(b);
        return true;
      } catch {
        return false;
      }
    };
    const byte = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0x80, max: 0xbf }), fc.constantFrom(0xc0, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xa0, 0x9f, 0x90, 0x8f));
    fc.assert(
      fc.property(fc.array(byte, { maxLength: 12 }), (bytes) => {
        const b = Uint8Array.from(bytes);
        assert.equal(validUtf8(b, 0, b.length), ok(b), Buffer.from(b).toString('hex'));
      }),
      { numRuns: 20000 },
    );
  });

  it('rejects what lib/encoding/codec rejects in otherwise valid records', () => {
    const cases: Uint8Array[] = [
      Uint8Array.from(Buffer.from('a2617601647479706560', 'hex')), // text "" type, missing time
      encode({ type: 'reading', time: 1 }, 2), // version 2
      encode({ type: 'reading', time: -1 }), // negative time
      encode({ type: 'reading', time: 1.5 }), // float time
      encode({ type: 'reading', time: 1, device: 'x' }), // device not a did:key
      encode({ type: 'reading', time: 1, extra: 1 }), // unknown field
      encode({ type: 'reading', time: 1, body: new CborTag(1, 0) }), // a tag in the body
      encode({ type: 'reading', time: 1, body: [1, undefined] }), // undefined in the body
      encode({ type: 'reading', time: 1, body: new Map<CborValue, CborValue>([[1, 2]]) }), // a map with a number key
      encode({ type: 'reading', time: 1, body: { x: [Infinity] } }), // not finite
    ];
    for (const c of cases) {
      assert.equal(scanRecord(c), undefined, Buffer.from(c).toString('hex'));
      assert.ok(readRecord(c).problem, Buffer.from(c).toString('hex'));
    }
  });
});

function floatBytes(width: number, x: number): Uint8Array | undefined {
  if (width === 0xfb) {
    const b = Buffer.alloc(9);
    b[0] = 0xfb;
    b.writeDoubleBE(x, 1);
    return b;
  }
  if (width === 0xfa) {
    if (!Number.isNaN(x) && Math.fround(x) !== x) return undefined;
    const b = Buffer.alloc(5);
    b[0] = 0xfa;
    b.writeFloatBE(x, 1);
    return b;
  }
  const enc = encodeCbor(x);
  return enc[0] === 0xf9 ? enc : undefined;
}
