import assert from 'node:assert/strict';
import { GrowingBytes } from '../lib/encoding/growing-bytes';

describe('GrowingBytes', () => {
  it('appends values past its initial size and returns where each ends', () => {
    const bytes = new GrowingBytes(4);
    const values = [Uint8Array.of(1, 2, 3), Uint8Array.of(), Uint8Array.of(4, 5, 6, 7, 8), Uint8Array.from({ length: 20 }, (_, i) => 100 + i)];
    const ends = values.map((v) => bytes.append(v));
    assert.deepEqual(ends, [3, 3, 8, 28]);
    assert.equal(bytes.length, 28);
    const expected = Uint8Array.from(values.flatMap((v) => [...v]));
    assert.deepEqual(new Uint8Array(bytes.copy()), expected);
    assert.deepEqual(bytes.backing.subarray(0, bytes.length), expected);
  });

  it('copies into an ArrayBuffer of exactly the bytes appended, apart from its own buffer', () => {
    const bytes = new GrowingBytes();
    bytes.append(Uint8Array.of(9, 8, 7));
    const copy = bytes.copy();
    assert.equal(copy.byteLength, 3);
    assert.notEqual(copy, bytes.backing.buffer);
    bytes.append(Uint8Array.of(6));
    assert.deepEqual(new Uint8Array(copy), Uint8Array.of(9, 8, 7));
  });
});
