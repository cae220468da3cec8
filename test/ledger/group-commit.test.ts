import * as assert from 'node:assert/strict';
import { GroupCommit } from '../../lib/ledger/group-commit';

const tick = (ms = 5): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('GroupCommit', () => {
  it('writes what arrives together in one write, and what arrives during a write in the next', async () => {
    const writes: number[][] = [];
    const gc = new GroupCommit<number, string>(async (items) => {
      writes.push(items);
      await tick();
      return items.map((i) => `r${i}`);
    });
    const first = [1, 2, 3].map((i) => gc.submit(i));
    await Promise.resolve();
    await Promise.resolve();
    const second = [4, 5].map((i) => gc.submit(i)); // the first write is in flight
    assert.deepEqual(await Promise.all([...first, ...second]), ['r1', 'r2', 'r3', 'r4', 'r5']);
    assert.deepEqual(writes, [[1, 2, 3], [4, 5]]);
    await gc.whenIdle();
    assert.equal(gc.busy, false);
  });

  it('rejects every job of a failed write and carries on with later ones', async () => {
    let n = 0;
    const gc = new GroupCommit<number, number>(async (items) => {
      await tick(1);
      if (n++ === 0) throw new Error('disk on fire');
      return items;
    });
    const a = gc.submit(1);
    const b = gc.submit(2);
    await Promise.resolve();
    await Promise.resolve();
    const c = gc.submit(3);
    await assert.rejects(a, /disk on fire/);
    await assert.rejects(b, /disk on fire/);
    assert.equal(await c, 3);
  });

  it('bounds one write by weight without splitting a job', async () => {
    const writes: number[][] = [];
    const gc = new GroupCommit<number, number>(async (items) => {
      writes.push(items);
      return items;
    }, 10);
    await Promise.all([gc.submit(1, 4), gc.submit(2, 4), gc.submit(3, 4), gc.submit(4, 30), gc.submit(5, 1)]);
    assert.deepEqual(writes, [[1, 2], [3], [4], [5]]);
  });
});
