import * as assert from 'node:assert/strict';
import * as vm from 'node:vm';
import fc from 'fast-check';
import { fromHex, toHex } from '../lib/encoding/bytes';
import { CborTag, CborValue, decodeCbor, decodeCborPrefix, encodeCbor, encodeCborWithRoom, encodeKnownMapWithRoom, KnownKeys } from '../lib/encoding/codec';
import { createHash } from 'node:crypto';
import { sha256 } from '../lib/crypto/hash';
import { ErrorCode, LedgerError } from '../lib/errors';
import { listVectors, readVector } from './support/paths';

function assertCode(fn: () => unknown, code: ErrorCode): LedgerError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof LedgerError, `expected a LedgerError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ${code}, but nothing was thrown`);
}

const hexOf = (v: CborValue): string => toHex(encodeCbor(v));
const strict = (hex: string): CborValue => decodeCbor(fromHex(hex));
const lenient = (hex: string): CborValue => decodeCbor(fromHex(hex), { canonical: false });
const nested = (open: string, depth: number, leaf = '00'): string => open.repeat(depth) + leaf;

describe('codec', () => {
  it('encodeCborWithRoom gives `room` free bytes, then exactly what encodeCbor gives', () => {
    const values: CborValue[] = [0, 'x', { v: 1, type: 'reading', body: { seq: 7, data: new Uint8Array(183).fill(3) } }, [1, [2, { a: null }]], 'é'.repeat(300)];
    for (const v of values)
      for (const room of [0, 1, 32]) {
        const out = encodeCborWithRoom(v, room);
        assert.equal(toHex(out.subarray(room)), toHex(encodeCbor(v)));
        assert.equal(out.length, room + encodeCbor(v).length);
      }
  });

  it('encodeKnownMapWithRoom gives the bytes encodeCborWithRoom gives, for any subset of the known keys in any order', () => {
    const known = new KnownKeys(['v', 'type', 'time', 'device', 'body', 'envelope', 'é', 'aa']);
    assert.deepEqual(known.names, ['v', 'aa', 'é', 'body', 'time', 'type', 'device', 'envelope']);
    const value = fc.oneof(fc.constant(undefined), fc.integer(), fc.string(), fc.uint8Array({ maxLength: 40 }), fc.dictionary(fc.string({ maxLength: 3 }), fc.integer()));
    fc.assert(
      fc.property(fc.shuffledSubarray([...known.names]), fc.array(value, { minLength: 8, maxLength: 8 }), fc.nat(40), (keys, values, room) => {
        const m: Record<string, CborValue | undefined> = {};
        keys.forEach((k, i) => (m[k] = values[i]));
        const defined = Object.fromEntries(Object.entries(m).filter(([, v]) => v !== undefined)) as CborValue;
        const out = encodeKnownMapWithRoom(m, known, room);
        assert.equal(out.length - room, encodeCbor(defined).length);
        assert.equal(toHex(out.subarray(room)), toHex(encodeCborWithRoom(defined, room).subarray(room)));
      }),
    );
    assert.throws(() => new KnownKeys(['a', 'a']), /duplicate/);
  });

  it('sha256 (digest read back as latin1) equals node:crypto for inputs of 0 to 1100 bytes and of several parts', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 400 }), { maxLength: 4 }), (parts) => {
        const h = createHash('sha256');
        for (const p of parts) h.update(p);
        const got = sha256(...parts);
        assert.equal(Object.getPrototypeOf(got), Uint8Array.prototype);
        assert.equal(toHex(got), h.digest('hex'));
      }),
    );
  });

  describe('RFC 8949 Appendix A (deterministic examples)', () => {
    const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);
    const examples: [string, CborValue, string][] = [
      ['0', 0, '00'],
      ['1', 1, '01'],
      ['10', 10, '0a'],
      ['23', 23, '17'],
      ['24', 24, '1818'],
      ['25', 25, '1819'],
      ['100', 100, '1864'],
      ['1000', 1000, '1903e8'],
      ['1000000', 1000000, '1a000f4240'],
      ['1000000000000', 1000000000000, '1b000000e8d4a51000'],
      ['18446744073709551615', 18446744073709551615n, '1bffffffffffffffff'],
      ['-18446744073709551616', -18446744073709551616n, '3bffffffffffffffff'],
      ['-1', -1, '20'],
      ['-10', -10, '29'],
      ['-100', -100, '3863'],
      ['-1000', -1000, '3903e7'],
      ['-0.0', -0, 'f98000'],
      ['1.1', 1.1, 'fb3ff199999999999a'],
      ['1.5', 1.5, 'f93e00'],
      ['3.4028234663852886e+38', 3.4028234663852886e38, 'fa7f7fffff'],
      ['1.0e+300', 1.0e300, 'fb7e37e43c8800759c'],
      ['5.960464477539063e-8', 5.960464477539063e-8, 'f90001'],
      ['0.00006103515625', 0.00006103515625, 'f90400'],
      ['-4.1', -4.1, 'fbc010666666666666'],
      ['Infinity', Infinity, 'f97c00'],
      ['NaN', NaN, 'f97e00'],
      ['-Infinity', -Infinity, 'f9fc00'],
      ['false', false, 'f4'],
      ['true', true, 'f5'],
      ['null', null, 'f6'],
      ['undefined', undefined, 'f7'],
      ['0("2013-03-21T20:04:00Z")', new CborTag(0, '2013-03-21T20:04:00Z'), 'c074323031332d30332d32315432303a30343a30305a'],
      ['1(1363896240)', new CborTag(1, 1363896240), 'c11a514b67b0'],
      ['1(1363896240.5)', new CborTag(1, 1363896240.5), 'c1fb41d452d9ec200000'],
      ['23(h\'01020304\')', new CborTag(23, fromHex('01020304')), 'd74401020304'],
      ['2(h\'010000000000000000\')', new CborTag(2, fromHex('010000000000000000')), 'c249010000000000000000'],
      ['h\'\'', new Uint8Array(0), '40'],
      ['h\'01020304\'', fromHex('01020304'), '4401020304'],
      ['""', '', '60'],
      ['"a"', 'a', '6161'],
      ['"IETF"', 'IETF', '6449455446'],
      ['"\\"\\\\"', '"\\', '62225c'],
      ['"\\u00fc"', '\u00fc', '62c3bc'],
      ['"\\u6c34"', '\u6c34', '63e6b0b4'],
      ['"\\ud800\\udd51"', '\ud800\udd51', '64f0908591'],
      ['[]', [], '80'],
      ['[1, 2, 3]', [1, 2, 3], '83010203'],
      ['[1, [2, 3], [4, 5]]', [1, [2, 3], [4, 5]], '8301820203820405'],
      ['[1, ..., 25]', range(25), '98190102030405060708090a0b0c0d0e0f101112131415161718181819'],
      ['{}', {}, 'a0'],
      ['{1: 2, 3: 4}', new Map([[1, 2], [3, 4]]), 'a201020304'],
      ['{"a": 1, "b": [2, 3]}', { a: 1, b: [2, 3] }, 'a26161016162820203'],
      ['["a", {"b": "c"}]', ['a', { b: 'c' }], '826161a161626163'],
      ['{"a": "A", ..., "e": "E"}', { a: 'A', b: 'B', c: 'C', d: 'D', e: 'E' }, 'a56161614161626142616361436164614461656145'],
    ];
    for (const [name, value, hex] of examples) {
      it(`${name} <-> ${hex}`, () => {
        assert.equal(hexOf(value), hex);
        assert.deepStrictEqual(strict(hex), value);
        assert.deepStrictEqual(lenient(hex), value);
      });
    }

    // JavaScript cannot tell 65504.0 from 65504: integral values always encode as integers,
    // so their float forms from Appendix A are valid CBOR but not our deterministic encoding.
    const integralFloats: [string, number, string][] = [
      ['f90000', 0, '00'],
      ['f93c00', 1, '01'],
      ['f97bff', 65504, '19ffe0'],
      ['fa47c35000', 100000, '1a000186a0'],
      ['f9c400', -4, '23'],
    ];
    for (const [floatHex, value, intHex] of integralFloats) {
      it(`${value}: encodes as ${intHex}; the float ${floatHex} is accepted only when not canonical`, () => {
        assert.equal(hexOf(value), intHex);
        assert.equal(lenient(floatHex), value);
        assertCode(() => strict(floatHex), 'ERR_NONCANONICAL_CBOR');
      });
    }
  });

  describe('deterministic encoding', () => {
    it('sorts map keys by their encoded bytes', () => {
      const m = new Map<CborValue, CborValue>([['aa', 4], ['z', 3], [-1, 2], [10, 1]]);
      assert.equal(hexOf(m), 'a4' + '0a01' + '2002' + '617a03' + '62616104');
      assert.deepStrictEqual([...(strict(hexOf(m)) as Map<CborValue, CborValue>).keys()], [10, -1, 'z', 'aa']);
      // Bytewise, not length-first: 100 (1864) sorts before -1 (20).
      assert.equal(hexOf(new Map([[-1, 0], [100, 0]])), 'a2186400' + '2000');
      assert.equal(hexOf({ b: 1, aa: 2, a: 3 }), 'a3' + '616103' + '616201' + '62616102');
    });

    it('gives the same bytes whatever the insertion order', () => {
      assert.equal(hexOf({ x: 1, y: { p: 1, q: 2 } }), hexOf({ y: { q: 2, p: 1 }, x: 1 }));
      assert.equal(hexOf(new Map<CborValue, CborValue>([[2, 'b'], ['1', 'a']])), hexOf(new Map<CborValue, CborValue>([['1', 'a'], [2, 'b']])));
    });

    it('skips undefined values in objects and Maps but keeps them in arrays', () => {
      assert.equal(hexOf({ a: 1, b: undefined }), 'a1616101');
      assert.equal(hexOf(new Map<CborValue, CborValue>([[1, undefined], [2, 2]])), 'a10202');
      assert.equal(hexOf([undefined, 1]), '82f701');
    });

    it('writes integer heads in the shortest form at every boundary', () => {
      const cases: [number | bigint, string][] = [
        [23, '17'], [24, '1818'], [255, '18ff'], [256, '190100'], [65535, '19ffff'], [65536, '1a00010000'],
        [4294967295, '1affffffff'], [4294967296, '1b0000000100000000'], [-24, '37'], [-25, '3818'],
        [-256, '38ff'], [-257, '390100'], [Number.MAX_SAFE_INTEGER, '1b001fffffffffffff'],
        [-Number.MAX_SAFE_INTEGER, '3b001ffffffffffffe'], [2n ** 53n, '1b0020000000000000'],
        [-(2n ** 53n), '3b001fffffffffffff'], [5n, '05'], [-5n, '24'],
      ];
      for (const [v, hex] of cases) assert.equal(hexOf(v), hex, String(v));
      assert.equal(hexOf('x'.repeat(24)), '7818' + '78'.repeat(24));
      assert.equal(hexOf(new Uint8Array(256)).slice(0, 6), '590100');
    });

    it('decodes integers to numbers when safe and to bigints otherwise', () => {
      assert.equal(strict('1b001fffffffffffff'), Number.MAX_SAFE_INTEGER);
      assert.equal(strict('1b0020000000000000'), 2n ** 53n);
      assert.equal(strict('3b001ffffffffffffe'), -Number.MAX_SAFE_INTEGER);
      assert.equal(strict('3b001fffffffffffff'), -(2n ** 53n));
      assert.equal(strict('05'), 5); // so 5n round-trips as 5
    });

    it('writes other numbers in the shortest float that holds them exactly', () => {
      const cases: [number, string][] = [
        [0.5, 'f93800'], [-0.5, 'f9b800'], [65504.5, 'fa477fe080'], [2 ** -14, 'f90400'], [2 ** -24, 'f90001'],
        [3 * 2 ** -24, 'f90003'], [2 ** -25, 'fa33000000'], [2 ** -149, 'fa00000001'], [2 ** -150, 'fb3690000000000000'],
        [Math.fround(0.1), 'fa3dcccccd'], [0.1, 'fb3fb999999999999a'], [1 / 3, 'fb3fd5555555555555'],
        [2 ** 53, 'fa5a000000'], [2 ** 64, 'fa5f800000'], [Number.MAX_VALUE, 'fb7fefffffffffffff'],
        [Number.MIN_VALUE, 'fb0000000000000001'],
      ];
      for (const [v, hex] of cases) {
        assert.equal(hexOf(v), hex, String(v));
        assert.equal(strict(hex), v);
      }
    });

    it('writes Buffers as byte strings and decodes byte strings to plain Uint8Array copies', () => {
      assert.equal(hexOf(Buffer.from('0102', 'hex')), '420102');
      const pool = Buffer.from('ff4401020304ff', 'hex').subarray(1, 6);
      const out = decodeCbor(pool) as Uint8Array;
      assert.equal(Object.getPrototypeOf(out), Uint8Array.prototype);
      assert.deepStrictEqual(out, fromHex('01020304'));
      pool[1] = 0x99;
      assert.equal(out[0], 1);
    });

    it('accepts objects, arrays, Maps and bytes made in another realm (Node-RED function sandbox)', () => {
      const foreign = vm.runInNewContext('({ a: [1, new Uint8Array([1, 2])], m: new Map([[1, 2]]), n: Object.create(null) })');
      assert.equal(hexOf(foreign as CborValue), hexOf({ a: [1, fromHex('0102')], m: new Map([[1, 2]]), n: {} }));
    });

    it('decodes maps with text keys to plain objects, others to Maps', () => {
      const obj = strict('a26161016162820203') as Record<string, CborValue>;
      assert.equal(Object.getPrototypeOf(obj), Object.prototype);
      assert.ok(strict('a201020304') instanceof Map);
      const mixed = new Map<CborValue, CborValue>([[1, 'one'], ['a', 'A'], [fromHex('00'), [1]], [[1, 2], { x: 1 }]]);
      assert.deepStrictEqual(strict(hexOf(mixed)), mixed);
      assert.equal(hexOf(strict(hexOf(mixed))), hexOf(mixed));
    });

    it('keeps a "__proto__" key as an own property without touching the prototype', () => {
      const hex = 'a2' + '616101' + '695f5f70726f746f5f5f' + 'a1617801';
      const obj = strict(hex) as Record<string, CborValue>;
      assert.equal(Object.getPrototypeOf(obj), Object.prototype);
      assert.deepStrictEqual(Object.getOwnPropertyDescriptor(obj, '__proto__')?.value, { x: 1 });
      assert.equal(hexOf(obj), hex);
    });

    it('keeps a leading byte order mark in text strings', () => {
      assert.equal(hexOf('\ufeffa'), '64efbbbf61');
      assert.equal(strict('64efbbbf61'), '\ufeffa');
    });

    it('reads one item from the front with decodeCborPrefix', () => {
      assert.deepStrictEqual(decodeCborPrefix(fromHex('8201020304')), { value: [1, 2], length: 3 });
      assert.deepStrictEqual(decodeCborPrefix(fromHex('f7ff')), { value: undefined, length: 1 });
      assertCode(() => decodeCborPrefix(fromHex('18')), 'ERR_MALFORMED_CBOR');
      assertCode(() => decodeCborPrefix(fromHex('181700')), 'ERR_NONCANONICAL_CBOR');
      assert.deepStrictEqual(decodeCborPrefix(fromHex('181700'), { canonical: false }), { value: 23, length: 2 });
    });
  });

  describe('encoding rejects', () => {
    class Point {
      x = 1;
    }
    const deep = (n: number): CborValue => (n === 0 ? 0 : [deep(n - 1)]);
    const cyclic: CborValue[] = [];
    cyclic.push([cyclic]);
    const selfObj: Record<string, CborValue> = {};
    selfObj.me = selfObj;
    const cases: [string, () => CborValue][] = [
      ['a function', () => (() => 1) as unknown as CborValue],
      ['a symbol', () => [Symbol('s')] as unknown as CborValue],
      ['a cyclic array', () => cyclic],
      ['a cyclic object', () => selfObj],
      ['a class instance', () => ({ p: new Point() }) as unknown as CborValue],
      ['a Date', () => new Date(0) as unknown as CborValue],
      ['a Uint16Array', () => new Uint16Array(2) as unknown as CborValue],
      ['an ArrayBuffer', () => new ArrayBuffer(2) as unknown as CborValue],
      ['a boxed number', () => new Number(1) as unknown as CborValue],
      ['nesting deeper than 64', () => deep(65)],
      ['a bigint above 2^64-1', () => 2n ** 64n],
      ['a bigint below -2^64', () => -(2n ** 64n) - 1n],
      ['an unpaired surrogate', () => ({ s: 'a\ud800b' })],
      ['duplicate Map keys 1 and 1n', () => new Map<CborValue, CborValue>([[1, 'a'], [1n, 'b']])],
      ['duplicate byte-string Map keys', () => new Map([[fromHex('01'), 1], [fromHex('01'), 2]])],
      ['an undefined Map key', () => new Map([[undefined, 1]])],
      ['a tag with undefined content', () => new CborTag(1, undefined)],
      ['a negative tag number', () => new CborTag(-1, 0)],
      ['a fractional tag number', () => new CborTag(1.5, 0)],
      ['a getter that throws', () => Object.defineProperty({}, 'x', { enumerable: true, get: () => { throw new TypeError('boom'); } })],
    ];
    for (const [name, make] of cases) {
      it(name, () => {
        assertCode(() => encodeCbor(make()), 'ERR_MALFORMED_CBOR');
      });
    }

    it('encodes inside a getter of a value being encoded (the reused buffer is not shared), and after a failed encoding', () => {
      const inner = { b: 'x'.repeat(300), c: 1.5 };
      const outer = Object.defineProperty({ a: 1 }, 'z', { enumerable: true, get: () => hexOf(inner) });
      assert.equal(hexOf(outer), hexOf({ a: 1, z: hexOf(inner) }));
      assertCode(() => encodeCbor({ a: 'y'.repeat(5000), b: () => 0 } as never), 'ERR_MALFORMED_CBOR');
      assert.equal(hexOf('ok'), '626f6b');
    });

    it('but accepts exactly 64 levels and shared (acyclic) references', () => {
      assert.equal(hexOf(deep(64)), nested('81', 64));
      const shared = [1];
      assert.equal(hexOf([shared, { a: shared }]), '82' + '8101' + 'a1' + '6161' + '8101');
    });
  });

  describe('decoding rejects malformed input', () => {
    const cases: [string, string][] = [
      ['empty input', ''],
      ['truncated 1-byte head', '18'],
      ['truncated 2-byte head', '1901'],
      ['truncated 4-byte head', '1a000000'],
      ['truncated 8-byte head', '1b00000000000000'],
      ['truncated byte string', '44010203'],
      ['truncated text string', '6261'],
      ['truncated array', '8201'],
      ['truncated map', 'a20102'],
      ['map missing a value', 'a101'],
      ['truncated tag', 'c1'],
      ['truncated half float', 'f900'],
      ['truncated float', 'fa000000'],
      ['truncated double', 'fb00000000000000'],
      ['reserved info 28', '1c'],
      ['reserved info 29', '3d'],
      ['reserved info 30', '5e'],
      ['reserved info in a map key', 'a17c00'],
      ['reserved info in major 7', 'fc'],
      ['indefinite integer', '1f'],
      ['indefinite negative', '3f'],
      ['indefinite tag', 'df'],
      ['indefinite byte string', '5f4101ff'],
      ['indefinite text string', '7f6161ff'],
      ['indefinite array', '9f01ff'],
      ['indefinite map', 'bf0101ff'],
      ['top-level break', 'ff'],
      ['break inside an array', '81ff'],
      ['break as a map value', 'a101ff'],
      ['trailing byte', '0000'],
      ['trailing item', '8001'],
      ['invalid UTF-8', '62c328'],
      ['UTF-8 continuation byte alone', '6180'],
      ['overlong UTF-8', '62c0af'],
      ['UTF-8 surrogate', '63eda080'],
      ['simple value 0', 'e0'],
      ['simple value 16', 'f0'],
      ['simple value 19', 'f3'],
      ['two-byte simple value below 32', 'f818'],
      ['two-byte simple value 32', 'f820'],
      ['two-byte simple value 255', 'f8ff'],
      ['tag number beyond safe integers', 'dbffffffffffffffff00'],
      ['65 nested arrays', nested('81', 65)],
      ['65 nested maps', 'a100'.repeat(65) + '00'],
      ['65 nested tags', nested('c1', 65)],
    ];
    for (const [name, hex] of cases) {
      it(`${name} (${hex.length > 24 ? hex.slice(0, 24) + '...' : hex || 'empty'})`, () => {
        assertCode(() => strict(hex), 'ERR_MALFORMED_CBOR');
        assertCode(() => lenient(hex), 'ERR_MALFORMED_CBOR');
      });
    }

    it('duplicate keys (NONCANONICAL in canonical mode), including ones that differ only in encoding', () => {
      for (const hex of ['a2616101616102', 'a201010102', 'a2' + '410100' + '58010100', 'a2' + '0000' + 'f9800000', 'a2' + '0100' + 'f93c0000', 'a2' + '810100' + '98010100']) {
        assertCode(() => lenient(hex), 'ERR_MALFORMED_CBOR');
        assertCode(() => strict(hex), 'ERR_NONCANONICAL_CBOR');
      }
    });

    it('lengths beyond the input, before allocating anything', () => {
      for (const hex of ['5bffffffffffffffff', '5affffffff00', '7b7fffffffffffffff61', '9bffffffffffffffff', '9affffffff00', 'bbffffffffffffffff', 'ba7fffffff0000']) {
        const t = process.hrtime.bigint();
        const e = assertCode(() => lenient(hex), 'ERR_MALFORMED_CBOR');
        assert.ok(process.hrtime.bigint() - t < 50_000_000n, `${hex} took too long`);
        assert.match(e.message, /truncated|longer than the input/);
      }
    });

    it('nesting deeper than maxDepth, and never lets a stack overflow escape', () => {
      assert.deepStrictEqual(strict(nested('81', 64)), JSON.parse('['.repeat(64) + '0' + ']'.repeat(64)));
      assertCode(() => decodeCbor(fromHex('818100'), { maxDepth: 1 }), 'ERR_MALFORMED_CBOR');
      assert.deepStrictEqual(decodeCbor(fromHex('8100'), { maxDepth: 1 }), [0]);
      assert.equal(decodeCbor(fromHex('01'), { maxDepth: 0 }), 1);
      assertCode(() => decodeCbor(fromHex('80'), { maxDepth: 0 }), 'ERR_MALFORMED_CBOR');
      assertCode(() => decodeCbor(fromHex(nested('81', 200_000)), { maxDepth: 1_000_000 }), 'ERR_MALFORMED_CBOR');
    });

    it('input that is not a Uint8Array, and invalid options', () => {
      assertCode(() => decodeCbor('00' as unknown as Uint8Array), 'ERR_MALFORMED_CBOR');
      assertCode(() => decodeCbor([0] as unknown as Uint8Array), 'ERR_MALFORMED_CBOR');
      assertCode(() => decodeCbor(fromHex('00'), { maxDepth: -1 }), 'ERR_INVALID_ARGUMENT');
      assertCode(() => decodeCbor(fromHex('00'), { maxDepth: 1.5 }), 'ERR_INVALID_ARGUMENT');
    });

    it('reports the offset of the problem', () => {
      assert.deepStrictEqual(assertCode(() => strict('8301021c'), 'ERR_MALFORMED_CBOR').details, { offset: 3 });
      assert.deepStrictEqual(assertCode(() => strict('8301021817'), 'ERR_NONCANONICAL_CBOR').details, { offset: 3 });
    });
  });

  describe('decoding rejects non-deterministic encodings unless canonical is false', () => {
    const cases: [string, string, CborValue][] = [
      ['23 in a 1-byte argument', '1817', 23],
      ['23 in a 2-byte argument', '190017', 23],
      ['255 in a 2-byte argument', '1900ff', 255],
      ['65535 in a 4-byte argument', '1a0000ffff', 65535],
      ['2^32-1 in an 8-byte argument', '1b00000000ffffffff', 4294967295],
      ['-1 in a long argument', '3800', -1],
      ['long byte string length', '5800', new Uint8Array(0)],
      ['long text string length', '780161', 'a'],
      ['long array length', '980101', [1]],
      ['long map length', 'b80100' + '01', new Map([[0, 1]])],
      ['long tag number', 'd80100', new CborTag(1, 0)],
      ['unsorted int keys', 'a2' + '0200' + '0100', new Map([[2, 0], [1, 0]])],
      ['length-first (RFC 7049) key order', 'a2' + '2000' + '19010000', new Map([[-1, 0], [256, 0]])],
      ['unsorted text keys', 'a2' + '616200' + '616100', { b: 0, a: 0 }],
      ['1.5 as float32', 'fa3fc00000', 1.5],
      ['1.5 as float64', 'fb3ff8000000000000', 1.5],
      ['0.1f as float64', 'fb3fb99999a0000000', Math.fround(0.1)],
      ['2^53 as float64', 'fb4340000000000000', 2 ** 53],
      ['Infinity as float32', 'fa7f800000', Infinity],
      ['-0 as float64', 'fb8000000000000000', -0],
      ['integral float', 'f94000', 2],
      ['NaN with a payload', 'f97e01', NaN],
      ['NaN as float32', 'fa7fc00000', NaN],
      ['NaN as float64', 'fb7ff8000000000000', NaN],
      ['negative NaN', 'f9fe00', NaN],
      ['undefined map value', 'a16161f7', { a: undefined }],
      ['undefined map key', 'a1f700', new Map([[undefined, 0]])],
      ['-0 map key', 'a1f9800000', new Map([[0, 0]])],
      ['undefined tag content', 'c1f7', new CborTag(1, undefined)],
    ];
    for (const [name, hex, value] of cases) {
      it(`${name} (${hex})`, () => {
        assertCode(() => strict(hex), 'ERR_NONCANONICAL_CBOR');
        assert.deepStrictEqual(lenient(hex), value);
      });
    }

    it('also inside nested items', () => {
      assertCode(() => strict('82' + '01' + '1817'), 'ERR_NONCANONICAL_CBOR');
      assertCode(() => strict('a1' + '6161' + 'a2' + '0200' + '0100'), 'ERR_NONCANONICAL_CBOR');
      assertCode(() => strict('c1' + 'fa3fc00000'), 'ERR_NONCANONICAL_CBOR');
    });
  });

  describe('COSE_Sign1 messages from cose-wg/Examples', () => {
    for (const file of listVectors('cose')) {
      it(file, () => {
        const vec = readVector<{ output: { cbor: string } }>('cose', file);
        const bytes = fromHex(vec.output.cbor);
        const top = decodeCbor(bytes, { canonical: false });
        const msg = top instanceof CborTag ? top.value : top;
        if (top instanceof CborTag) assert.ok([18, 998].includes(top.tag), `tag ${top.tag}`);
        assert.ok(Array.isArray(msg) && msg.length === 4);
        const [protectedBytes, unprotected, payload, signature] = msg;
        assert.ok(protectedBytes instanceof Uint8Array && payload instanceof Uint8Array && signature instanceof Uint8Array);
        assert.ok(unprotected instanceof Map);
        assert.deepStrictEqual(unprotected.get(4), fromHex('3131'));
        const header = decodeCbor(protectedBytes, { canonical: false });
        assert.ok(header instanceof Map || (typeof header === 'object' && header !== null));
        // Canonical decoding succeeds exactly when our encoder reproduces the message.
        let canonical = true;
        try {
          decodeCbor(bytes);
        } catch (e) {
          assert.ok(e instanceof LedgerError && e.code === 'ERR_NONCANONICAL_CBOR');
          canonical = false;
        }
        assert.equal(canonical, toHex(encodeCbor(top)) === toHex(bytes));
      });
    }
  });

  describe('properties', () => {
    const bigOutsideSafe = fc.oneof(
      fc.bigInt({ min: 2n ** 53n, max: 2n ** 64n - 1n }),
      fc.bigInt({ min: -(2n ** 64n), max: -(2n ** 53n) }),
    );
    const text = fc.string({ unit: 'binary', maxLength: 12 });
    const leaf: fc.Arbitrary<CborValue> = fc.oneof(
      fc.maxSafeInteger(),
      fc.integer({ min: -300, max: 70000 }),
      fc.double(),
      fc.float(),
      bigOutsideSafe,
      text,
      fc.uint8Array({ maxLength: 24 }),
      fc.boolean(),
      fc.constant(null),
    );
    // `defined` values may appear anywhere; `undefined` only as a top-level or array item.
    const { item } = fc.letrec<{ item: CborValue; defined: CborValue }>((tie) => ({
      item: fc.oneof({ weight: 9, arbitrary: tie('defined') }, { weight: 1, arbitrary: fc.constant(undefined) }),
      defined: fc.oneof(
        { maxDepth: 4, depthSize: 'small' },
        leaf,
        fc.array(tie('item'), { maxLength: 5 }),
        fc.dictionary(text, tie('defined'), { maxKeys: 5, noNullPrototype: true }),
        fc
          .array(fc.tuple(tie('defined').filter((k) => typeof k !== 'string'), tie('defined')), { minLength: 1, maxLength: 4 })
          .map((entries) => {
            const seen = new Set<string>();
            return new Map(entries.filter(([k]) => !seen.has(hexOf(k)) && !!seen.add(hexOf(k))));
          }),
        fc.tuple(fc.nat({ max: 2 ** 40 }), tie('defined')).map(([t, v]) => new CborTag(t, v)),
      ),
    }));

    it('maps with many keys (past the insertion sort) and long text: decode(encode(x)) deep-equals x, strictly', () => {
      const wide = fc.dictionary(text, fc.oneof(text, fc.double(), fc.string({ unit: 'binary', minLength: 64, maxLength: 300 })), { minKeys: 10, maxKeys: 40, noNullPrototype: true });
      fc.assert(
        fc.property(wide, (x) => {
          assert.deepStrictEqual(decodeCbor(encodeCbor(x)), x);
        }),
        { numRuns: 500 },
      );
    });

    it('decode(encode(x)) deep-equals x, and the encoding is canonical', () => {
      fc.assert(
        fc.property(item, (x) => {
          const bytes = encodeCbor(x);
          assert.deepStrictEqual(decodeCbor(bytes), x);
          assert.deepStrictEqual(decodeCbor(bytes, { canonical: false }), x);
          assert.equal(toHex(encodeCbor(decodeCbor(bytes))), toHex(bytes));
        }),
        { numRuns: 2000 },
      );
    });

    const checkDecode = (bytes: Uint8Array): void => {
      let lenientValue: CborValue;
      let reencodes = false;
      try {
        lenientValue = decodeCbor(bytes, { canonical: false });
        try {
          reencodes = toHex(encodeCbor(lenientValue)) === toHex(bytes);
        } catch (e) {
          assert.ok(e instanceof LedgerError && e.code === 'ERR_MALFORMED_CBOR', String(e));
        }
      } catch (e) {
        assert.ok(e instanceof LedgerError && e.code === 'ERR_MALFORMED_CBOR', String(e));
      }
      let accepted = false;
      try {
        decodeCbor(bytes);
        accepted = true;
      } catch (e) {
        assert.ok(e instanceof LedgerError, String(e));
        assert.ok(e.code === 'ERR_MALFORMED_CBOR' || e.code === 'ERR_NONCANONICAL_CBOR', e.code);
      }
      // Canonical mode accepts exactly the inputs that re-encode to themselves.
      assert.equal(accepted, reencodes, toHex(bytes));
    };

    it('random bytes decode to a value or fail with a LedgerError code', () => {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), checkDecode), { numRuns: 5000 });
    });

    it('mutated encodings decode to a value or fail with a LedgerError code', () => {
      const edit = fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }), op: fc.constantFrom('set', 'insert', 'delete') });
      fc.assert(
        fc.property(item, fc.array(edit, { minLength: 1, maxLength: 3 }), (x, edits) => {
          const bytes = [...encodeCbor(x)];
          for (const { at, byte, op } of edits) {
            const i = at % (bytes.length + 1);
            if (op === 'set' && i < bytes.length) bytes[i] = byte;
            else if (op === 'insert') bytes.splice(i, 0, byte);
            else bytes.splice(i, 1);
          }
          checkDecode(new Uint8Array(bytes));
        }),
        { numRuns: 3000 },
      );
    });

    it('sequences of CBOR heads (valid, long-form, float, break) obey the same rule', () => {
      const token = fc.oneof(
        fc.constantFrom('00', '1817', '190100', '3800', '20', '4101', '5801ff', '6161', '626161', '7801', '80', '81', '82', '9801',
          'a0', 'a1', 'a2', 'b801', 'c1', 'd80101', 'f4', 'f7', 'f98000', 'f93c00', 'f97e00', 'f97e01', 'fa3fc00000', 'f93e00',
          '1bffffffffffffffff', '1b0020000000000000', 'ff', '9f', '1c'),
        fc.integer({ min: 0, max: 255 }).map((b) => b.toString(16).padStart(2, '0')),
      );
      fc.assert(fc.property(fc.array(token, { maxLength: 12 }), (ts) => checkDecode(fromHex(ts.join('')))), { numRuns: 5000 });
    });

    it('every head width and float width round-trips at its edges', () => {
      fc.assert(
        fc.property(fc.oneof(fc.integer({ min: -(2 ** 33), max: 2 ** 33 }), fc.double({ noNaN: true })), (n) => {
          assert.ok(Object.is(decodeCbor(encodeCbor(n)), n));
        }),
        { numRuns: 3000 },
      );
    });
  });
});
