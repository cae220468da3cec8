// A ledger from someone else can hold any number of recorded verdicts that re-running the
// contract does not give: the rechecker keeps the first ones and counts the rest.
import * as assert from 'node:assert/strict';
import { ContractRechecker, contractRef, type VerdictMismatch } from '../../lib/contracts';
import { sec, terms } from './helpers';

/** A registered contract, then `n` recorded violations that no reading caused. */
function feed(r: ContractRechecker, n: number): void {
  const t = terms();
  const ref = contractRef(t);
  r.apply('contract.register', { ...ref, terms: t }, 0);
  for (let i = 1; i <= n; i++) r.apply('contract.event', { ...ref, input: { kind: 'reading', time: sec(i) }, event: { type: 'violation', time: sec(i) } }, i);
}

describe('contracts: the rechecker keeps a bounded number of mismatches', () => {
  it('2500 made-up verdicts: the first 1000 kept in ledger order, the other 1500 counted, every one passed to onMismatch', () => {
    const seen: VerdictMismatch[] = [];
    const r = new ContractRechecker({ onMismatch: (m) => seen.push(m) });
    feed(r, 2500);
    const kept = r.finish(2500);
    assert.equal(r.mismatches.length, 1000);
    assert.equal(kept.length, 1000);
    assert.equal(r.omitted, 1500);
    assert.equal(r.count, 2500);
    assert.deepEqual(kept.map((m) => m.index), Array.from({ length: 1000 }, (_, i) => i + 1));
    assert.match(kept[0].detail, /recorded violation that re-running the contract does not produce/);
    assert.equal(seen.length, 2500);
    assert.equal(seen[2499].index, 2500);
  });

  it('maxMismatches sets the cap; 0 keeps none and still counts them', () => {
    const few = new ContractRechecker({ maxMismatches: 3 });
    feed(few, 10);
    assert.deepEqual([few.mismatches.length, few.omitted], [3, 7]);
    const none = new ContractRechecker({ maxMismatches: 0 });
    feed(none, 10);
    assert.deepEqual([none.mismatches.length, none.omitted, none.count], [0, 10, 10]);
  });
});
