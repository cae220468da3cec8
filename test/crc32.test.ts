import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { crc32, crc32Js } from '../lib/encoding/crc32';
import { referenceCrc32 } from './support/crc32-reference';

// The JavaScript CRC-32 runs where zlib.crc32 is missing (Node before 20.15, e.g. the armv7l
// Node 20.11 of Raspberry Pi OS 32-bit); the ledger's stored checks must not depend on which.
describe('crc32: zlib.crc32 where Node has it, the same function in JavaScript where not', () => {
  it('the IEEE 802.3 check value of "123456789" is 0xcbf43926; of nothing, 0', () => {
    for (const f of [crc32, crc32Js]) {
      assert.equal(f(Buffer.from('123456789')), 0xcbf43926);
      assert.equal(f(new Uint8Array(0)), 0);
    }
  });

  it('empty input continues the value it is given, also for a Buffer over a zero-length ArrayBuffer', () => {
    for (const f of [crc32, crc32Js]) {
      assert.equal(f(randomBytes(0), 0x12345678), 0x12345678);
      assert.equal(f(new Uint8Array(0), 0xcbf43926), 0xcbf43926);
    }
  });

  it('both agree with zlib (a gzip trailer) on random inputs, also continued from a previous value', () => {
    for (let i = 0; i < 200; i++) {
      const a = randomBytes(i * 7);
      const b = randomBytes(i % 37);
      const whole = referenceCrc32(Buffer.concat([a, b]));
      for (const f of [crc32, crc32Js]) {
        assert.equal(f(a), referenceCrc32(a));
        assert.equal(f(b, f(a)), whole);
      }
    }
  });
});
