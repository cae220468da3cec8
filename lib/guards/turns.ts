// Bounded concurrency for work a message starts (a node's queries): at most maxActive tasks
// run at once, up to maxWaiting wait in arrival order, and the rest are refused at once with
// ERR_OVERLOADED, so a flood of messages cannot start unbounded work or hold unbounded answers.
import { LedgerError } from '../errors';
import { wholeLimit } from './limits';

export interface TurnsLimits {
  /** Tasks running at once. */
  maxActive: number;
  /** Tasks waiting for a turn beyond those. */
  maxWaiting: number;
}

export class Turns {
  readonly #limits: TurnsLimits;
  readonly #what: string;
  readonly #waiting: { go: () => void; stop: (err: Error) => void }[] = [];
  #active = 0;
  #closed: Error | null = null;

  /** `what` names the tasks in the refusal: `too many <what> at once`. */
  constructor(limits: TurnsLimits, what: string) {
    this.#limits = { maxActive: wholeLimit(limits.maxActive, 1, 'maxActive'), maxWaiting: wholeLimit(limits.maxWaiting, 0, 'maxWaiting') };
    this.#what = what;
  }

  get active(): number {
    return this.#active;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  /** Runs `task` in its turn; rejects with ERR_OVERLOADED at once when every turn and place in the queue is taken. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#closed) throw this.#closed;
    if (this.#active >= this.#limits.maxActive) {
      if (this.#waiting.length >= this.#limits.maxWaiting)
        throw new LedgerError('ERR_OVERLOADED', `too many ${this.#what} at once (${this.#active} running, ${this.#waiting.length} waiting); refused`);
      await new Promise<void>((go, stop) => this.#waiting.push({ go, stop }));
    } else this.#active++;
    try {
      return await task();
    } finally {
      // The turn passes straight to the next waiting task (the active count stays), or is freed.
      const next = this.#waiting.shift();
      if (next) next.go();
      else this.#active--;
    }
  }

  /** Refuses the tasks waiting, and any run() from now on, with `err` (those running finish). */
  close(err: Error): void {
    this.#closed ??= err;
    for (const w of this.#waiting.splice(0)) w.stop(this.#closed);
  }
}
