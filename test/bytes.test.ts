import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { bytesEqual, concatBytes, fromBase64UrlNode as fromBase64Url, fromHex, fromUtf8, toBase64Url, toHex, utf8 } from '../lib/encoding/bytes';
import { base64urlnopad } from '../lib/vendor/esm-only';
import { LedgerError, isLedgerError } from '../lib/errors';

describe('bytes', () => {
  it('round-trips hex and concatenates', () => {
    const b = concatBytes(fromHex('00ff'), utf8('a'));
    assert.equal(toHex(b), '00ff61');
    assert.ok(bytesEqual(b, fromHex('00FF61')));
    assert.ok(!bytesEqual(b, fromHex('00ff62')));
  });
  it('rejects invalid UTF-8 instead of replacing it', () => {
    assert.throws(() => fromUtf8(new Uint8Array([0xc3, 0x28])));
  });
  it('decodes base64url with Node exactly as strictly as the reference decoder (Node decodes, its lenient results are refused)', () => {
    const decode = (f: (s: string) => Uint8Array, s: string): string => {
      try {
        return toHex(f(s));
      } catch {
        return 'refused';
      }
    };
    for (const s of ['', 'AA', 'AAA', 'AQ', 'AR', 'A', 'AA==', 'A+/_', 'AA AA', 'YWJj', 'YWJjZA', 'YWJjZB', '_-8'])
      assert.equal(decode(fromBase64Url, s), decode((x) => base64urlnopad.decode(x), s), JSON.stringify(s));
    const chars = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/= .'.split(''));
    fc.assert(
      fc.property(fc.array(chars, { maxLength: 24 }), (cs) => {
        const s = cs.join('');
        assert.equal(decode(fromBase64Url, s), decode((x) => base64urlnopad.decode(x), s));
      }),
      { numRuns: 5000 },
    );
    fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), (b) => assert.deepEqual(fromBase64Url(toBase64Url(b)), b)));
  });
  it('typed errors carry their code', () => {
    const e = new LedgerError('ERR_BAD_SIGNATURE', 'nope');
    assert.ok(isLedgerError(e, 'ERR_BAD_SIGNATURE'));
    assert.ok(!isLedgerError(e, 'ERR_REPLAY'));
  });
});
