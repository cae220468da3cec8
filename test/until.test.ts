import * as assert from 'node:assert/strict';
import { until } from './support/until';

describe('test support: until (bounded polling)', () => {
  it('resolves to the first truthy value once the condition holds', async () => {
    let polls = 0;
    const got = await until('the third poll', () => (++polls >= 3 ? { polls } : undefined), { timeoutMs: 2000, pollMs: 1 });
    assert.deepEqual(got, { polls: 3 });
  });

  it('takes an async condition', async () => {
    let ready = false;
    setTimeout(() => (ready = true), 30);
    assert.equal(await until('ready', async () => Promise.resolve(ready), { timeoutMs: 2000, pollMs: 5 }), true);
  });

  it('rejects after the timeout, naming what it waited for, and not before', async () => {
    const t0 = Date.now();
    await assert.rejects(until('the door to open', () => false, { timeoutMs: 100, pollMs: 10 }), { message: 'timed out after 100 ms waiting for the door to open' });
    assert.ok(Date.now() - t0 >= 100, `gave up after ${Date.now() - t0} ms`);
  });

  it('names the state last seen when `what` is a function', async () => {
    let n = 0;
    await assert.rejects(until(() => `n to reach 1000 (n ${n})`, () => ++n >= 1000, { timeoutMs: 30, pollMs: 10 }), /^Error: timed out after 30 ms waiting for n to reach 1000 \(n \d+\)$/);
    assert.ok(n > 1 && n < 1000);
  });

  it('rejects at once with the error the condition throws', async () => {
    const t0 = Date.now();
    await assert.rejects(until('never', () => { throw new Error('broken'); }, { timeoutMs: 5000 }), { message: 'broken' });
    assert.ok(Date.now() - t0 < 1000);
  });

  it('with retryErrors, polls past errors, and names the last one on timeout', async () => {
    let polls = 0;
    const got = await until('a listening server', () => {
      if (++polls < 3) throw new Error('ECONNREFUSED');
      return 'up';
    }, { timeoutMs: 2000, pollMs: 1, retryErrors: true });
    assert.equal(got, 'up');
    await assert.rejects(until('a listening server', () => { throw new Error('ECONNREFUSED'); }, { timeoutMs: 30, pollMs: 5, retryErrors: true }), {
      message: 'timed out after 30 ms waiting for a listening server (last error: ECONNREFUSED)',
    });
  });
});
