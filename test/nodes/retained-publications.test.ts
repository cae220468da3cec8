import * as assert from 'node:assert/strict';
import { RetainedPublications } from '../../nodes/lib/retained-publications';
import { until } from '../support/until';

// What a node keeps published, retained (Contract documents, Firmware offers): published through
// the node's send or a given one, and sent again after the delays asked for until it is closed.

const later = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('RetainedPublications', () => {
  it('publishes through its send or the one given, and keeps what it published', () => {
    const sent: string[] = [];
    const given: string[] = [];
    const p = new RetainedPublications((topic, payload) => sent.push(`${topic}=${JSON.stringify(payload)}`));
    p.publish('a', { v: 1 });
    p.publish('b', { v: 2 }, (topic, payload) => given.push(`${topic}=${JSON.stringify(payload)}`));
    assert.deepEqual(sent, ['a={"v":1}']);
    assert.deepEqual(given, ['b={"v":2}']);
    p.resendAll();
    assert.deepEqual(sent, ['a={"v":1}', 'a={"v":1}', 'b={"v":2}']);
    p.close();
  });

  it('sends all it keeps again after each delay, and nothing once closed', async () => {
    const sent: string[] = [];
    const p = new RetainedPublications((topic) => sent.push(topic));
    p.keep('a', 1);
    p.keep('b', 2);
    p.resendAllAfter([5, 10]);
    await until('both resends', () => sent.length === 4);
    assert.deepEqual(sent, ['a', 'b', 'a', 'b']);

    p.resendAllAfter([5]);
    p.close();
    // A timer set later than the resend's fires after it would have.
    await later(20);
    p.resendAllAfter([1]);
    await later(20);
    assert.deepEqual(sent, ['a', 'b', 'a', 'b']);
  });
});
