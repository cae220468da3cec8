// Keeps a directory of static tiles up to date with a ledger: after each sealed block it
// writes what is new (one write at a time; blocks sealed meanwhile are folded into the next).
import type { Ledger } from '../ledger';
import { writeStaticTiles, type StaticWriteResult } from './static';

export class StaticTilePublisher {
  readonly ledger: Ledger;
  readonly dir: string;
  #running: Promise<void> | null = null;
  #again = false;
  #stopped = false;
  readonly #onBlock = (): void => this.publish();
  readonly #onError: (err: unknown) => void;
  last: StaticWriteResult | null = null;

  constructor(ledger: Ledger, dir: string, onError: (err: unknown) => void) {
    this.ledger = ledger;
    this.dir = dir;
    this.#onError = onError;
    ledger.on('block', this.#onBlock);
  }

  /** Writes now (or right after the write in progress). */
  publish(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        try {
          if (!this.ledger.closed) this.last = (await writeStaticTiles(this.ledger, this.dir, this.last ?? undefined)) ?? this.last;
        } catch (err) {
          this.#onError(err);
        }
      } while (this.#again && !this.#stopped);
      this.#running = null;
    })();
  }

  /** Resolves when no write is in progress. */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.ledger.removeListener('block', this.#onBlock);
    await this.idle();
  }
}
