import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as fc from 'fast-check';
import { isLedgerError } from '../../lib/errors';
import { Ledger, type RecordInput } from '../../lib/ledger';
import { encodeBatch } from '../../lib/ledger/encoded-batch';
import { appendEncoded } from '../../lib/ledger/store';
import { collect, deviceA, deviceB, gatewayKey, recomputeRoot, tempDir } from '../support/ledger';

const NOW = 1_790_000_000_000;

const input = fc.record(
  {
    type: fc.constantFrom('reading', 'note', 'contract.verdict'),
    device: fc.constantFrom(deviceA, deviceB),
    time: fc.integer({ min: 0, max: NOW }),
    body: fc.oneof(fc.string(), fc.integer(), fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string(), fc.boolean(), fc.double({ noNaN: true, noDefaultInfinity: true })), { maxKeys: 5 })),
  },
  { requiredKeys: ['type'] },
) as fc.Arbitrary<RecordInput>;

describe('records encoded on another thread (encoded-batch)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let n = 0;
  const open = (): Promise<Ledger> => Ledger.open(path.join(tmp.dir, `l${n++}`), { name: 'example.com/encoded', gatewayKey, blockRecords: 7, now: () => NOW });
  before(() => {
    tmp = tempDir('iot-ledger-encoded-');
  });
  after(() => tmp.cleanup());

  it('gives the ledger appendMany would write: the same receipts, records and root', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(input, { minLength: 1, maxLength: 30 }), async (inputs) => {
        const [a, b] = [await open(), await open()];
        try {
          const viaMany = await a.appendMany(inputs);
          const { batch, refused } = encodeBatch(inputs.length, (i) => inputs[i], NOW, b.maxRecordBytes);
          assert.equal(refused, undefined);
          const viaBatch = await appendEncoded(b, batch);
          assert.deepEqual(viaBatch, viaMany);
          const [ra, rb] = [await collect(a.range(0)), await collect(b.range(0))];
          assert.deepEqual(rb, ra);
          assert.deepEqual(await recomputeRoot(b), await recomputeRoot(a));
          assert.deepEqual(await b.latestBlock(), await a.latestBlock());
        } finally {
          await a.close();
          await b.close();
        }
      }),
      { numRuns: 25 },
    );
  });

  it('nothing reachable from a Ledger appends an encoded batch: a leaf hash made up outside the package is never written', async () => {
    const ledger = await open();
    try {
      const { batch } = encodeBatch(1, () => ({ type: 'note', body: 1 }), NOW, ledger.maxRecordBytes);
      new Uint8Array(batch.values).fill(0xee, 0, 32); // a leaf hash that is not the record's
      // Every symbol-keyed method of the ledger and its prototypes, as a caller holding a Ledger finds them.
      for (let o: object | null = ledger; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o) as object | null) {
        for (const key of Object.getOwnPropertySymbols(o)) {
          const method: unknown = Object.getOwnPropertyDescriptor(o, key)?.value;
          if (typeof method !== 'function') continue;
          try {
            await (method as (b: unknown) => unknown).call(ledger, batch);
          } catch {
            // refused: what it should do
          }
        }
      }
      assert.equal(ledger.size, 0, 'a record with a made-up leaf hash was appended');
    } finally {
      await ledger.close();
    }
  });

  it('stops at the first request appendMany refuses, with its error, keeping those before it', async () => {
    const inputs: RecordInput[] = [{ type: 'note', body: 1 }, { type: 'note', body: 2 }, { type: 'Bad' }, { type: 'note', body: 3 }];
    const ledger = await open();
    try {
      const many = await ledger.appendMany(inputs).then(
        () => assert.fail('appendMany took a bad type'),
        (err: unknown) => err,
      );
      const { batch, refused } = encodeBatch(inputs.length, (i) => inputs[i], NOW, ledger.maxRecordBytes);
      assert.equal(refused?.item, 2);
      assert.ok(isLedgerError(many) && isLedgerError(refused.error));
      assert.equal(refused.error.code, many.code);
      assert.equal(batch.ends.length, 2);
      const receipts = await appendEncoded(ledger, batch);
      assert.deepEqual(
        receipts.map((r) => r.index),
        [0, 1],
      );
      // A request that inputAt itself refuses (the CLI's JSON parsing) stops the batch the same way.
      const parsed = encodeBatch(3, (i) => (i === 1 ? assert.fail('not JSON') : inputs[0]), NOW, ledger.maxRecordBytes);
      assert.equal(parsed.refused?.item, 1);
      assert.equal(parsed.batch.ends.length, 1);
    } finally {
      await ledger.close();
    }
  });
});
