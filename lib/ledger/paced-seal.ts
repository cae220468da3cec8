// Sealing on demand, paced: a proof of a record not yet in a block needs a block that holds it,
// and whoever can ask for proofs (a Query node wired to an HTTP endpoint or an MQTT topic) could
// otherwise seal a block per request. Each block costs a signature, a checkpoint publication,
// a request to every witness and, with an anchor every N blocks, a share of a transaction.
import { LedgerError } from '../errors';
import { throttle, type Throttled } from '../guards/throttle';
import type { BlockInfo } from './blocks';
import type { Ledger } from './store';

/** Blocks sealed on demand, at most one per this interval (the first at once). */
export const ON_DEMAND_SEAL_MS = 5000;

const closing = (): LedgerError => new LedgerError('ERR_LEDGER_CLOSED', 'the ledger closed before the record was sealed into a block');

interface Waiter {
  index: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class PacedSeal {
  readonly #ledger: Ledger;
  readonly #waiters = new Set<Waiter>();
  readonly #seals: Throttled;
  #closed = false;
  readonly #onBlock = (b: BlockInfo): void => this.#release(b.header.size);

  constructor(ledger: Ledger, intervalMs = ON_DEMAND_SEAL_MS) {
    if (!(intervalMs >= 0 && intervalMs < 2 ** 31)) throw new RangeError(`intervalMs must be a number of ms from 0 to 2^31 - 1, not ${intervalMs}`);
    this.#ledger = ledger;
    this.#seals = throttle(() => this.#seal(), intervalMs);
    ledger.on('block', this.#onBlock);
  }

  /**
   * Resolves once record `index` (below the ledger's size) is in a sealed block: at once when it
   * is; else with the next block sealed, by whatever seals it, or by this one once the interval
   * since its last seal has passed. Callers waiting together share one seal.
   */
  sealed(index: number): Promise<void> {
    if (index < this.#ledger.size - this.#ledger.pending) return Promise.resolve();
    if (this.#closed) return Promise.reject(closing());
    return new Promise((resolve, reject) => {
      this.#waiters.add({ index, resolve, reject });
      this.#seals.request();
    });
  }

  /** Ends the waits (rejected) and the timer. */
  close(): void {
    this.#closed = true;
    this.#seals.cancel();
    this.#ledger.off('block', this.#onBlock);
    for (const w of this.#waiters) w.reject(closing());
    this.#waiters.clear();
  }

  /** Ends the waits of the records below `sealedSize`; a seal stays asked for only for others. */
  #release(sealedSize: number): void {
    for (const w of this.#waiters) {
      if (w.index >= sealedSize) continue;
      this.#waiters.delete(w);
      w.resolve();
    }
    if (this.#waiters.size === 0) this.#seals.cancel();
    else this.#seals.request();
  }

  #seal(): void {
    if (this.#waiters.size === 0) return;
    this.#ledger.seal().then(
      // A seal that found nothing to seal (another write sealed first) emits no block: those
      // waiting are in a block already.
      () => this.#release(this.#ledger.size - this.#ledger.pending),
      (err: unknown) => {
        for (const w of this.#waiters) w.reject(err);
        this.#waiters.clear();
      },
    );
  }
}
