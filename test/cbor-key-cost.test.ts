import * as assert from 'node:assert/strict';
import { decodeCbor, encodeCbor } from '../lib/encoding/codec';
import { isLedgerError } from '../lib/errors';
import { identifySigner } from '../lib/registry/verify-message';
import { DeviceRegistry } from '../lib/registry/devices';

// The lenient decoder (COSE envelopes and signed payloads, i.e. anything a publisher sends)
// compares composite map keys by value, re-encoding each. A map used as a key inside a map
// used as a key inside ... re-encoded everything below it once per level: a 60 KB message
// cost 64 times its size, on Node-RED's thread, before anything knew who had sent it.

function head(major: number, n: number): Buffer {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 0x100) return Buffer.from([(major << 5) | 24, n]);
  const b = Buffer.alloc(3);
  b[0] = (major << 5) | 25;
  b.writeUInt16BE(n, 1);
  return b;
}

/** `depth` maps, each the only key of the next (value 0), around a byte string of `size` bytes. */
function keyTower(depth: number, size: number): Buffer {
  let inner = Buffer.concat([head(2, size), Buffer.alloc(size)]);
  for (let i = 0; i < depth; i++) inner = Buffer.concat([Buffer.from([0xa1]), inner, Buffer.from([0x00])]);
  return inner;
}

describe('codec: comparing composite map keys costs at most a few times the input', () => {
  it('a tower of maps as keys is refused (ERR_MALFORMED_CBOR) after work linear in its size', () => {
    const tower = keyTower(62, 60_000);
    assert.throws(() => decodeCbor(tower, { canonical: false }), (err: unknown) => isLedgerError(err, 'ERR_MALFORMED_CBOR') && /composite map keys/.test(err.message));
  });

  it('as the unprotected header of a COSE_Sign1 that reaches Verify: refused as malformed, cheaply', () => {
    const prot = encodeCbor(new Map([[1, -8]]));
    const cose = Buffer.concat([Buffer.from([0xd2, 0x84]), head(2, prot.length), prot, keyTower(62, 60_000), Buffer.from([0x40, 0x40])]);
    assert.throws(() => identifySigner(cose, new DeviceRegistry()), (err: unknown) => isLedgerError(err, 'ERR_MALFORMED_ENVELOPE'));
  });

  it('composite keys a few levels deep, and their duplicates, are still read', () => {
    // {{[1]: 0}: 1, {[2]: 0}: 2} decodes; the same key twice (one with a longer length form) is a duplicate.
    const ok = decodeCbor(Buffer.from('a2a181010001a181020002', 'hex'), { canonical: false });
    assert.ok(ok instanceof Map && ok.size === 2);
    assert.throws(() => decodeCbor(Buffer.from('a2a181010001a19801010002', 'hex'), { canonical: false }), (err: unknown) => isLedgerError(err, 'ERR_MALFORMED_CBOR'));
    const small = decodeCbor(keyTower(4, 100), { canonical: false });
    assert.ok(small instanceof Map && small.size === 1);
  });
});
