import * as assert from 'node:assert/strict';
import { isLedgerError } from '../lib/errors';
import { Turns } from '../lib/guards/turns';

/** A task that finishes when told, and notes how many ran at once. */
function gated(log: { running: number; peak: number; order: number[] }, id: number): { task: () => Promise<number>; finish: () => void; fail: (e: Error) => void } {
  let finish!: () => void;
  let fail!: (e: Error) => void;
  const until = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  return {
    task: async () => {
      log.running++;
      log.peak = Math.max(log.peak, log.running);
      log.order.push(id);
      try {
        await until;
        return id;
      } finally {
        log.running--;
      }
    },
    finish: () => finish(),
    fail: (e) => fail(e),
  };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('Turns: bounded concurrency for work that messages start', () => {
  it('runs at most maxActive at once, queues maxWaiting in order, refuses the rest at once with ERR_OVERLOADED', async () => {
    const turns = new Turns({ maxActive: 2, maxWaiting: 3 }, 'queries');
    const log = { running: 0, peak: 0, order: [] as number[] };
    const tasks = Array.from({ length: 8 }, (_, i) => gated(log, i));
    const results = tasks.map((t) => turns.run(t.task).then((v) => ({ v }), (e: unknown) => ({ e })));
    await tick();
    assert.deepEqual([turns.active, turns.waiting], [2, 3]);
    // The three past the queue were refused without running.
    const refused = await Promise.all(results.slice(5));
    for (const r of refused) assert.ok('e' in r && isLedgerError(r.e, 'ERR_OVERLOADED') && /too many queries at once/.test(r.e.message), JSON.stringify(r));
    // A failing task frees its turn as a finished one does.
    tasks[0].fail(new Error('boom'));
    tasks[1].finish();
    for (let i = 2; i < 5; i++) {
      await tick();
      tasks[i].finish();
    }
    const done = await Promise.all(results.slice(0, 5));
    assert.ok('e' in done[0] && (done[0].e as Error).message === 'boom');
    assert.deepEqual(done.slice(1).map((r) => ('v' in r ? r.v : r.e)), [1, 2, 3, 4]);
    assert.deepEqual(log.order, [0, 1, 2, 3, 4]);
    assert.equal(log.peak, 2);
    assert.deepEqual([turns.active, turns.waiting], [0, 0]);
    // Free again: a new task runs at once.
    assert.equal(await turns.run(async () => 'again'), 'again');
  });

  it('close() refuses the waiting tasks and later runs with its error; the running ones finish', async () => {
    const turns = new Turns({ maxActive: 1, maxWaiting: 4 }, 'queries');
    const log = { running: 0, peak: 0, order: [] as number[] };
    const [first, second] = [gated(log, 1), gated(log, 2)];
    const running = turns.run(first.task);
    const waiting = turns.run(second.task).then(
      () => 'ran',
      (e: unknown) => e,
    );
    await tick();
    const closed = new Error('closed');
    turns.close(closed);
    assert.equal(await waiting, closed);
    await assert.rejects(turns.run(async () => 'late'), (e: unknown) => e === closed);
    first.finish();
    assert.equal(await running, 1);
    assert.deepEqual(log.order, [1]);
  });

  it('refuses limits that are not whole numbers in range', () => {
    assert.throws(() => new Turns({ maxActive: 0, maxWaiting: 1 }, 'x'), (e: unknown) => isLedgerError(e, 'ERR_INVALID_ARGUMENT'));
    assert.throws(() => new Turns({ maxActive: 1, maxWaiting: -1 }, 'x'), (e: unknown) => isLedgerError(e, 'ERR_INVALID_ARGUMENT'));
    assert.throws(() => new Turns({ maxActive: 1.5, maxWaiting: 1 }, 'x'), (e: unknown) => isLedgerError(e, 'ERR_INVALID_ARGUMENT'));
    // A limit left out is refused, not taken as no limit.
    assert.throws(() => new Turns({ maxActive: 1 } as never, 'x'), (e: unknown) => isLedgerError(e, 'ERR_INVALID_ARGUMENT'));
  });
});
