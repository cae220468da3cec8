import * as assert from 'node:assert/strict';
import { openGateways } from '../../lib/gateway';
import { MAX_QUERY_BYTES, verifyProofBundle, type ProofBundle } from '../../lib/ledger';
import { ON_DEMAND_SEAL_MS } from '../../lib/ledger/paced-seal';
import { helper, ledgerNode, nextMessage, onTab, packNodes, useTestRuntime } from './support';
import { until } from '../support/until';

// A Query answer is bounded in bytes as well as in records: a record may be up to 64 KiB and,
// with trust on first use, anyone who can publish fills records, so 10,000 of them could be
// gigabytes in one message. Past MAX_QUERY_BYTES of stored records the list stops, and says so.

interface Answer {
  payload: { index: number; type: string }[];
  truncated?: boolean;
}

describe('nodes: Query answers at most MAX_QUERY_BYTES of records', function () {
  this.timeout(60000);
  const RECORDS = 150;
  const BLOB = 'x'.repeat(60000); // about 60 KB a record: 150 of them are about 9 MB

  useTestRuntime();

  it('cuts latest, range, type and time lists at 8 MiB, keeps the newest for latest, and marks the cut', async () => {
    await helper.load(
      packNodes(),
      onTab([
        ledgerNode('ledger', { blockRecords: 1000 }),
        { id: 'query', type: 'iot-ledger-query', ledger: 'ledger', mode: 'latest', limit: 10000, wires: [['answer']] },
        { id: 'answer', type: 'helper' },
      ]),
    );
    const ask = async (payload: Record<string, unknown>): Promise<Answer> => {
      const m = nextMessage<Answer>(helper.getNode('answer'), 20000);
      helper.getNode('query').receive({ payload });
      return m;
    };
    await ask({ mode: 'block' }); // the ledger opens on first use
    const gw = await until('the ledger open', async () => (await openGateways()).find((g) => g.ledger.name === 'test-room'), { timeoutMs: 20_000, pollMs: 50 });
    const base = gw.ledger.size;
    await gw.recordMany(Array.from({ length: RECORDS }, (_, i) => ({ type: 'note.big', body: { i, blob: BLOB } })));
    const size = gw.ledger.size;
    assert.equal(size, base + RECORDS);
    const perRecord = Math.min(...(await Promise.all([base, size - 1].map(async (i) => (await gw.ledger.get(i)).bytes.length))));
    assert.ok(perRecord * RECORDS > MAX_QUERY_BYTES, 'the records together are over the bound');

    const fits = (n: number) => n >= 1 && n < RECORDS && n <= Math.floor(MAX_QUERY_BYTES / perRecord);

    const latest = await ask({ mode: 'latest' });
    assert.equal(latest.truncated, true);
    assert.ok(fits(latest.payload.length), `latest returned ${latest.payload.length} records`);
    // The newest records, oldest first: the cut leaves out the oldest.
    assert.equal(latest.payload[latest.payload.length - 1].index, size - 1);
    assert.deepEqual(
      latest.payload.map((r) => r.index),
      Array.from({ length: latest.payload.length }, (_, i) => size - latest.payload.length + i),
    );

    const range = await ask({ mode: 'range', from: base });
    assert.equal(range.truncated, true);
    assert.ok(fits(range.payload.length), `range returned ${range.payload.length} records`);
    assert.equal(range.payload[0].index, base);

    const byType = await ask({ mode: 'type', type: 'note.big' });
    assert.equal(byType.truncated, true);
    assert.ok(fits(byType.payload.length), `type returned ${byType.payload.length} records`);
    assert.ok(byType.payload.every((r) => r.type === 'note.big'));

    const byTime = await ask({ mode: 'time' });
    assert.equal(byTime.truncated, true);
    assert.ok(byTime.payload.length >= 1 && byTime.payload.length < size, `time returned ${byTime.payload.length} records`);

    // Within the bound nothing changes: no mark, every record asked for.
    const few = await ask({ mode: 'range', from: base, limit: 3 });
    assert.equal(few.truncated, undefined);
    assert.deepEqual(few.payload.map((r) => r.index), [base, base + 1, base + 2]);
    const none = await ask({ mode: 'range', from: base, limit: 0 });
    assert.deepEqual(none.payload, []);
  });

  it('runs 2 queries at once and queues 16; a flood past that is refused at once with ERR_OVERLOADED (100 a second to Catch), counted in the status', async () => {
    await helper.load(
      packNodes(),
      onTab([
        ledgerNode('ledger', { blockRecords: 1000 }),
        { id: 'query', type: 'iot-ledger-query', ledger: 'ledger', mode: 'latest', limit: 100, wires: [['answer']] },
        { id: 'answer', type: 'helper' },
        { id: 'catcher', type: 'catch', scope: ['query'], wires: [['caught']] },
        { id: 'caught', type: 'helper' },
      ]),
    );
    const answers: unknown[] = [];
    const caught: { error: { code?: string } }[] = [];
    const statuses: { text?: string }[] = [];
    helper.getNode('answer').on('input', (m: never) => answers.push(m));
    helper.getNode('caught').on('input', (m: never) => caught.push(m));
    helper.getNode('query').on('call:status', (call: never) => statuses.push((call as { args: { text?: string }[] }).args[0]));
    for (let i = 0; i < 140; i++) helper.getNode('query').receive({ payload: { mode: 'latest' } });
    // 18 answered; of the 122 refused, about 100 reach Catch (the budget: 100 a second, refilled
    // while the loop runs), the rest are only counted.
    await until('the 18 queries answered', async () => (answers.length === 18 ? true : undefined), { timeoutMs: 20_000, pollMs: 50 });
    assert.deepEqual([...new Set(caught.map((m) => m.error.code))], ['ERR_OVERLOADED']);
    assert.ok(caught.length >= 100 && caught.length < 122, `${caught.length} refusals reached Catch`);
    // The answers' status counts the refused too (a pending drawing of the count alone would overwrite it).
    assert.match(statuses.at(-1)?.text ?? '', /^latest · \d+ records · refused 122 \(too many queries at once\)$/);
    // The turns are free again.
    const m = nextMessage<Answer>(helper.getNode('answer'), 20000);
    helper.getNode('query').receive({ payload: { mode: 'latest' } });
    assert.ok(Array.isArray((await m).payload));
  });

  it('hands its limit to the ledger for a time query, whose merge then holds no more than twice that (test/ledger/time-scan)', async () => {
    await helper.load(
      packNodes(),
      onTab([
        ledgerNode('ledger', { blockRecords: 1000 }),
        { id: 'query', type: 'iot-ledger-query', ledger: 'ledger', mode: 'time', limit: 100, wires: [['answer']] },
        // A limit no whole number of records (a hand-edited flow): the default, 100.
        { id: 'odd', type: 'iot-ledger-query', ledger: 'ledger', mode: 'time', limit: '2.5', wires: [['answer']] },
        { id: 'answer', type: 'helper' },
      ]),
    );
    const ask = async (payload: Record<string, unknown>, node = 'query'): Promise<Answer> => {
      const m = nextMessage<Answer>(helper.getNode('answer'), 20000);
      helper.getNode(node).receive({ payload });
      return m;
    };
    await ask({ mode: 'block' }); // the ledger opens on first use
    const gw = await until('the ledger open', async () => (await openGateways()).find((g) => g.ledger.name === 'test-room'), { timeoutMs: 20_000, pollMs: 50 });
    const ledger = gw.ledger;
    const asked: (number | undefined)[] = [];
    const byTime = ledger.byTime.bind(ledger);
    ledger.byTime = (fromMs, toMs, opts) => {
      asked.push(opts?.limit);
      return byTime(fromMs, toMs, opts);
    };
    try {
      await ask({ mode: 'time', limit: 7 });
      await ask({ mode: 'time' });
      await ask({ mode: 'time', limit: 1e9 });
      await ask({ mode: 'time' }, 'odd');
    } finally {
      delete (ledger as { byTime?: unknown }).byTime;
    }
    assert.deepEqual(asked, [7, 100, 10000, 100]);
  });

  it('seals a block for proofs of new records at most once per ON_DEMAND_SEAL_MS, not once per query', async () => {
    await helper.load(
      packNodes(),
      onTab([
        ledgerNode('ledger', { ledgerName: 'proof-room', blockRecords: 1000, blockSeconds: 3600 }),
        { id: 'query', type: 'iot-ledger-query', ledger: 'ledger', mode: 'proof', wires: [['answer']] },
        { id: 'answer', type: 'helper' },
      ]),
    );
    const opened = nextMessage(helper.getNode('answer'), 20000);
    helper.getNode('query').receive({ payload: { mode: 'block' } }); // the ledger opens on first use
    await opened;
    const gw = await until('the ledger open', async () => (await openGateways()).find((g) => g.ledger.name === 'proof-room'), { timeoutMs: 20_000, pollMs: 50 });
    const answers: { payload: ProofBundle }[] = [];
    helper.getNode('answer').on('input', (m: { payload: ProofBundle }) => answers.push(m));
    const height = gw.ledger.height;
    const start = Date.now();
    // Whoever can send the node messages asks for a proof of each new record as it comes.
    for (let i = 0; i < 10; i++) {
      const r = await gw.record({ type: 'note', body: { i } });
      helper.getNode('query').receive({ payload: { index: r.index } });
    }
    await until('ten proofs', () => answers.length === 10, { timeoutMs: 30_000, pollMs: 20 });
    const elapsed = Date.now() - start;
    const sealed = gw.ledger.height - height;
    assert.ok(sealed >= 1 && sealed <= 1 + Math.ceil(elapsed / ON_DEMAND_SEAL_MS), `${sealed} blocks sealed for 10 proofs in ${elapsed} ms`);
    for (const a of answers) verifyProofBundle(a.payload, gw.ledger.verifierKey);
  });

  it('takes a number or decimal digits for an index, limit or range, and refuses true, hex, exponents, padding and fractions (ERR_INVALID_ARGUMENT)', async () => {
    await helper.load(
      packNodes(),
      onTab([
        ledgerNode('ledger', { ledgerName: 'int-room', blockRecords: 1000 }),
        { id: 'query', type: 'iot-ledger-query', ledger: 'ledger', mode: 'index', wires: [['answer']] },
        { id: 'catcher', type: 'catch', scope: ['query'], wires: [['caught']] },
        { id: 'answer', type: 'helper' },
        { id: 'caught', type: 'helper' },
      ]),
    );
    const outcome = (payload: Record<string, unknown>): Promise<string> =>
      new Promise((resolve) => {
        const [answer, caught] = [helper.getNode('answer'), helper.getNode('caught')];
        const onAnswer = (m: { payload: { index?: number } | null }) => finish(`index ${m.payload?.index}`);
        const onCaught = (m: { error: { code: string } }) => finish(m.error.code);
        const finish = (v: string) => {
          answer.removeListener('input', onAnswer);
          caught.removeListener('input', onCaught);
          resolve(v);
        };
        answer.on('input', onAnswer);
        caught.on('input', onCaught);
        helper.getNode('query').receive({ payload });
      });
    assert.equal(await outcome({ mode: 'block' }).then(() => 'opened'), 'opened');
    const gw = await until('the ledger open', async () => (await openGateways()).find((g) => g.ledger.name === 'int-room'), { timeoutMs: 20_000, pollMs: 50 });
    await gw.recordMany(Array.from({ length: 20 }, (_, i) => ({ type: 'note', body: { i } })));
    assert.equal(await outcome({ index: 16 }), 'index 16');
    assert.equal(await outcome({ index: '16' }), 'index 16');
    for (const index of [true, '0x10', '1e1', ' 16', '16 ', 1.5, -1, '-1', [16], '１６'])
      assert.equal(await outcome({ index }), 'ERR_INVALID_ARGUMENT', JSON.stringify(index));
  });
});

