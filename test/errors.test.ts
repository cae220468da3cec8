import * as assert from 'node:assert/strict';
import { decodeCbor } from '../lib/encoding/codec';
import { verifyEnvelope } from '../lib/envelope/envelope';
import { asLedgerError, isLedgerError, LedgerError } from '../lib/errors';
import { nodeError } from '../nodes/lib/errors';

// A wrapped error keeps what it wraps as `cause`, so a stack trace in a log or a debugger
// still reaches the original failure; flows keep seeing only the typed code and message.
describe('errors: wrapping keeps the cause', () => {
  it('asLedgerError wraps a foreign error with it as cause, and passes typed errors through unchanged', () => {
    const original = new RangeError('offset out of range');
    const wrapped = asLedgerError(original, 'ERR_MALFORMED_CBOR', 'cannot decode CBOR');
    assert.equal(wrapped.code, 'ERR_MALFORMED_CBOR');
    assert.equal(wrapped.cause, original);
    assert.match(wrapped.message, /offset out of range/);
    const typed = new LedgerError('ERR_REPLAY', 'old');
    assert.equal(asLedgerError(typed, 'ERR_INTERNAL', 'x'), typed);
    assert.equal(new LedgerError('ERR_INTERNAL', 'no cause').cause, undefined);
    assert.equal(Object.prototype.hasOwnProperty.call(new LedgerError('ERR_INTERNAL', 'no cause'), 'cause'), false);
  });

  it('nodeError turns an untyped error into ERR_INTERNAL that keeps it as cause', () => {
    const original = new TypeError("Cannot read properties of undefined (reading 'x')");
    const err = nodeError(original);
    assert.ok(isLedgerError(err, 'ERR_INTERNAL'));
    assert.equal(err.cause, original);
    assert.equal(err.message, original.message);
    const typed = new LedgerError('ERR_BAD_SIGNATURE', 'no', undefined, original);
    assert.equal(nodeError(typed), typed);
    assert.equal(nodeError(typed).cause, original);
  });

  it('a malformed COSE envelope carries the CBOR decoder error as its cause', () => {
    let caught: unknown;
    try {
      verifyEnvelope(Uint8Array.of(0xd2, 0x84, 0x40, 0xa0, 0x40), 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK');
    } catch (e) {
      caught = e;
    }
    assert.ok(isLedgerError(caught, 'ERR_MALFORMED_ENVELOPE'));
    assert.ok(isLedgerError(caught.cause, 'ERR_MALFORMED_CBOR'), String(caught.cause));
    assert.throws(() => decodeCbor(Uint8Array.of(0x84, 0x40, 0xa0, 0x40)), (e: unknown) => isLedgerError(e, 'ERR_MALFORMED_CBOR'));
  });
});
