// The incremental audit's replay state before its checkpoint (lib/audit/prefix-replay.ts): followed
// on the claimed order with a few records verified, it must reach what verifying every record
// reaches (the full audit's ReplayGuard), or say it is lost (then the caller verifies every one).
import * as assert from 'node:assert/strict';
import { ClaimedOrder, VerifiedOrder } from '../lib/audit/prefix-replay';
import type { Freshness } from '../lib/registry/freshness';

/** A seeded xorshift32, so a failure can be run again. */
function random(seed: number): (n: number) => number {
  let x = seed;
  return (n) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

interface Message {
  claim: Freshness;
  verifies: boolean;
}

function sequence(rnd: (n: number) => number): Message[] {
  const out: Message[] = [];
  for (let i = 0, n = 1 + rnd(12); i < n; i++) {
    const claim: Freshness = {};
    if (rnd(3) > 0) claim.counter = rnd(8);
    if (rnd(3) > 0) claim.time = rnd(8) * 100;
    out.push({ claim, verifies: rnd(5) > 0 });
  }
  return out;
}

const reachedBy = (messages: Message[]): Freshness | undefined => {
  const order = new VerifiedOrder();
  for (const m of messages) order.take(m.verifies ? m.claim : undefined);
  return order.state;
};

const shown = (f: Freshness | undefined): string => JSON.stringify(f && (f.counter !== undefined || f.time !== undefined) ? [f.counter, f.time] : null);

describe('audit: the replay state before an incremental audit\'s checkpoint', () => {
  it('followed on the claims, is what verifying every record reaches, or lost', async () => {
    const rnd = random(20261206);
    let lost = 0;
    for (let run = 0; run < 20000; run++) {
      const messages = sequence(rnd);
      const order = new ClaimedOrder();
      const verify = (k: number): Promise<Freshness | undefined> => Promise.resolve(messages[k].verifies ? messages[k].claim : undefined);
      for (const [k, m] of messages.entries()) await order.take(k, m.claim, verify);
      const reached = await order.result(verify);
      if (order.lost) {
        lost++;
        continue;
      }
      assert.equal(shown(reached), shown(reachedBy(messages)), JSON.stringify(messages));
    }
    assert.ok(lost < 20000 / 2, `${lost} lost`);
  });

  it('verifies the deciding records once, however many replays follow them', async () => {
    const verified: number[] = [];
    const order = new ClaimedOrder();
    const claims: Freshness[] = [{ counter: 1 }, { counter: 2 }, { counter: 3 }];
    for (let i = 0; i < 200; i++) claims.push({ counter: 2 });
    const verify = (k: number): Promise<Freshness | undefined> => {
      verified.push(k);
      return Promise.resolve(claims[k]);
    };
    for (const [k, claim] of claims.entries()) await order.take(k, claim, verify);
    assert.deepEqual(await order.result(verify), { counter: 3 });
    assert.deepEqual(verified, [2, 0]);
  });
});
