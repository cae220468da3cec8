import * as assert from 'node:assert/strict';
import { bytesEqual, concatBytes, fromHex, fromUtf8, toHex, utf8 } from '../lib/encoding/bytes';
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
  it('typed errors carry their code', () => {
    const e = new LedgerError('ERR_BAD_SIGNATURE', 'nope');
    assert.ok(isLedgerError(e, 'ERR_BAD_SIGNATURE'));
    assert.ok(!isLedgerError(e, 'ERR_REPLAY'));
  });
});
