import * as assert from 'node:assert/strict';
import { GroupCommit, type PlannedWrite } from '../../lib/ledger/group-commit';

const tick = (ms = 5): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A plan function that records what it planned and writes, optionally failing some writes. */
function recorder(
  opts: { delay?: number; hold?: boolean; failWrite?: (n: number) => boolean; extensible?: boolean; failAdd?: (items: number[]) => boolean } = {},
) {
  /** With `hold`, write n ends only when the test calls release(n). */
  const gates: (() => void)[] = [];
  const gate = (n: number): Promise<void> => new Promise((resolve) => (gates[n] = resolve));
  const release = (n: number): void => gates[n]?.();
  const planned: number[][] = [];
  const added: number[][] = [];
  const written: number[][] = [];
  let writes = 0;
  const waiting: { n: number; resolve: () => void }[] = [];
  /** Resolves once `n` writes have started (instead of guessing how long that takes). */
  const started = (n: number): Promise<void> =>
    new Promise((resolve) => {
      if (writes >= n) resolve();
      else waiting.push({ n, resolve });
    });
  const plan = (first: number[]): PlannedWrite<string, number> => {
    planned.push(first);
    const items = [...first];
    const write: PlannedWrite<string, number> = {
      write: async () => {
        const n = writes++;
        for (const w of waiting.splice(0)) {
          if (writes >= w.n) w.resolve();
          else waiting.push(w);
        }
        await (opts.hold ? gate(n) : tick(opts.delay ?? 5));
        if (opts.failWrite?.(n)) throw new Error(`write ${n} failed`);
        written.push(items);
      },
      commit: () => items.map((i) => `r${i}`),
    };
    if (opts.extensible)
      write.add = (more) => {
        added.push(more);
        if (opts.failAdd?.(more)) throw new Error('cannot add');
        items.push(...more);
      };
    return write;
  };
  return { plan, planned, added, written, started, release, writes: () => writes };
}

describe('GroupCommit', () => {
  it('writes what arrives together in one write, and what arrives during a write in the next', async () => {
    const r = recorder();
    const gc = new GroupCommit<number, string>(r.plan);
    const first = [1, 2, 3].map((i) => gc.submit(i));
    await r.started(1);
    const second = [4, 5].map((i) => gc.submit(i)); // the first write is in flight
    assert.deepEqual(await Promise.all([...first, ...second]), ['r1', 'r2', 'r3', 'r4', 'r5']);
    assert.deepEqual(r.written, [[1, 2, 3], [4, 5]]);
    await gc.whenIdle();
    assert.equal(gc.busy, false);
  });

  it('writes the jobs of one event-loop turn together, also when each comes in its own immediate callback (as Node-RED delivers messages)', async () => {
    const r = recorder();
    const gc = new GroupCommit<number, string>(r.plan);
    const results = await new Promise<Promise<string>[]>((resolve) => {
      const out: Promise<string>[] = [];
      for (const i of [1, 2, 3]) setImmediate(() => out.push(gc.submit(i)));
      setImmediate(() => resolve(out));
    });
    assert.deepEqual(await Promise.all(results), ['r1', 'r2', 'r3']);
    assert.deepEqual(r.written, [[1, 2, 3]]);
  });

  it('answers callback jobs once each, never synchronously, also when one callback throws', async () => {
    const r = recorder({ delay: 1 });
    const gc = new GroupCommit<number, string>(r.plan);
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const answers: [number, unknown, string | undefined][] = [];
      let submitting = true;
      const all = new Promise<void>((resolve) => {
        for (const i of [1, 2, 3])
          gc.submitThen(i, 1, (err, result) => {
            assert.equal(submitting, false, 'answered inside submitThen');
            answers.push([i, err, result]);
            if (i === 1) throw new Error('callback 1 threw');
            if (answers.length === 3) resolve();
          });
      });
      submitting = false;
      await all;
      assert.deepEqual(answers, [
        [1, null, 'r1'],
        [2, null, 'r2'],
        [3, null, 'r3'],
      ]);
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
      assert.deepEqual(warnings, ['a group commit callback threw: callback 1 threw']);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('rejects every job of a failed write and of the write planned on it, and carries on with later ones', async () => {
    const r = recorder({ hold: true, failWrite: (n) => n === 0 });
    const gc = new GroupCommit<number, string>(r.plan);
    const a = gc.submit(1);
    const b = gc.submit(2);
    await r.started(1); // write 0 in flight (a timer here could fire before it starts, under load)
    const c = gc.submit(3);
    await new Promise((resolve) => setImmediate(resolve)); // 3 is planned ahead at the end of its turn, on top of write 0
    assert.deepEqual(r.planned, [[1, 2], [3]]);
    r.release(0);
    await assert.rejects(a, /write 0 failed/);
    await assert.rejects(b, /write 0 failed/);
    await assert.rejects(c, /write 0 failed/);
    const d = gc.submit(4);
    await r.started(2);
    r.release(1);
    assert.equal(await d, 'r4');
    assert.deepEqual(r.planned, [[1, 2], [3], [4]]);
  });

  it('rejects the jobs of a failed plan only', async () => {
    let n = 0;
    const gc = new GroupCommit<number, number>((items) => {
      if (n++ === 0) throw new Error('cannot plan');
      return { write: async () => undefined, commit: () => items };
    });
    const a = gc.submit(1);
    await assert.rejects(a, /cannot plan/);
    assert.equal(await gc.submit(2), 2);
  });

  it('bounds one write by weight without splitting a job', async () => {
    const r = recorder({ delay: 0 });
    const gc = new GroupCommit<number, string>(r.plan, 10);
    await Promise.all([gc.submit(1, 4), gc.submit(2, 4), gc.submit(3, 4), gc.submit(4, 30), gc.submit(5, 1)]);
    assert.deepEqual(r.written, [[1, 2], [3], [4], [5]]);
  });

  it('plans a full write ahead while one is in flight; a failed write takes the one planned on it along', async () => {
    const r = recorder({ delay: 10, failWrite: (n) => n === 1 });
    const gc = new GroupCommit<number, string>(r.plan, 2);
    const ok = [gc.submit(1), gc.submit(2)];
    await r.started(1); // write 0 in flight
    const failing = [gc.submit(3), gc.submit(4)]; // full: planned at once, on top of write 0
    assert.deepEqual(r.planned, [[1, 2], [3, 4]]);
    const dependent = [gc.submit(5), gc.submit(6)]; // waits: only one write is planned ahead
    assert.deepEqual(await Promise.all(ok), ['r1', 'r2']);
    await r.started(2); // write 1 in flight; 5, 6 now planned ahead on top of it
    assert.deepEqual(r.planned, [[1, 2], [3, 4], [5, 6]]);
    for (const p of [...failing, ...dependent]) await assert.rejects(p, /write 1 failed/);
    assert.equal(await gc.submit(7), 'r7');
    assert.deepEqual(r.written, [[1, 2], [7]]);
  });

  it('extends the write ahead with the jobs of each turn while a write is in flight', async () => {
    const r = recorder({ hold: true, extensible: true });
    const gc = new GroupCommit<number, string>(r.plan);
    const all = [gc.submit(1)];
    await r.started(1);
    await new Promise<void>((resolve) => setImmediate(() => (all.push(gc.submit(2)), setImmediate(() => (all.push(gc.submit(3)), resolve())))));
    await new Promise((resolve) => setImmediate(resolve));
    r.release(0);
    await r.started(2);
    r.release(1);
    assert.deepEqual(await Promise.all(all), ['r1', 'r2', 'r3']);
    assert.deepEqual(r.planned, [[1], [2]]);
    assert.deepEqual(r.added, [[3]]);
    assert.deepEqual(r.written, [[1], [2, 3]]);
  });

  it('starts the write ahead before it answers the jobs of the write that finished', async () => {
    const r = recorder({ delay: 5 });
    const gc = new GroupCommit<number, string>(r.plan);
    let writesWhenAnswered = -1;
    const first = new Promise<void>((resolve) =>
      gc.submitThen(1, 1, () => {
        writesWhenAnswered = r.writes();
        resolve();
      }),
    );
    await r.started(1);
    const second = gc.submit(2);
    await first;
    assert.equal(writesWhenAnswered, 2);
    assert.equal(await second, 'r2');
  });

  it('merges the write ahead with the jobs answering brings when it was ready early in a slow sync', async () => {
    const r = recorder({ delay: 30, extensible: true });
    const gc = new GroupCommit<number, string>(r.plan);
    const third = new Promise<string>((resolve, reject) => {
      gc.submitThen(1, 1, (err) => {
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the write's own error
        if (err) reject(err);
        else gc.submit(3).then(resolve, reject);
      });
    });
    await r.started(1);
    const second = gc.submit(2); // planned ahead at the end of this turn, long before the 30 ms write ends
    assert.deepEqual([await second, await third], ['r2', 'r3']);
    assert.deepEqual(r.written, [[1], [2, 3]]);
  });

  it('rejects the write ahead and the jobs added to it when adding fails, and carries on', async () => {
    const r = recorder({ hold: true, extensible: true, failAdd: (items) => items.includes(3) });
    const gc = new GroupCommit<number, string>(r.plan);
    const first = gc.submit(1);
    await r.started(1);
    const second = gc.submit(2);
    await new Promise((resolve) => setImmediate(resolve)); // 2 planned ahead at the end of its turn
    const third = gc.submit(3);
    await assert.rejects(second, /cannot add/); // adding 3 at the end of its turn failed
    await assert.rejects(third, /cannot add/);
    r.release(0);
    assert.equal(await first, 'r1');
    const fourth = gc.submit(4);
    await r.started(2);
    r.release(1);
    assert.equal(await fourth, 'r4');
    assert.deepEqual(r.written, [[1], [4]]);
  });
});
