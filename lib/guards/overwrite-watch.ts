// Keeping what we publish retained on topics anyone on the broker can publish on (Home Assistant
// discovery and states, the tile server's checkpoint, head and meta).
import { CountReporter } from './count-reporter';

/**
 * Topics we keep published, retained, that anyone on the broker can publish on too. A message
 * seen there with another payload than ours gets ours again RESTORE_AFTER_MS later, unless ours
 * came back meanwhile; at most once per interval per topic, since our own publications come back
 * to us as well (a late one behind a newer payload) and two writers must not make a storm.
 * Overall at most `restoresPerSecond` are published again per second: with a document kept on
 * each of N topics, N tiny overwrites must not make us publish N full documents a second. The
 * rest are deferred, oldest overwrite first, to the following rounds, never dropped; a topic
 * overwritten again while its restore waits keeps its single place.
 */
export const RESTORE_AFTER_MS = 1000;

/** Restores per second of one watch (one node's topics) by default. */
export const RESTORES_PER_SECOND = 20;

/** Deferred restores are reported at most once per this interval (the first at once). */
export const DEFERRED_REPORT_MS = 60_000;

export interface OverwriteWatchOptions {
  /** Documents published again per second at most, all topics together (default RESTORES_PER_SECOND). */
  restoresPerSecond?: number;
  /** Restores deferred since the last report (`pending`: waiting now); at most once per DEFERRED_REPORT_MS. */
  onDeferred?: (deferred: number, pending: number) => void;
}

export interface OverwriteWatchStats {
  /** Documents published again. */
  restored: number;
  /** Restores that had to wait for a later round (each counted once). */
  deferred: number;
  /** Topics found overwritten whose restore is waiting now. */
  pending: number;
}

/** A payload as the caller keeps it: text (JSON documents, states) or bytes (tile resources). Empty: none kept. */
export type KeptPayload = string | Uint8Array;

const kept = (p: KeptPayload | undefined): p is KeptPayload => p !== undefined && p.length > 0;

export class OverwriteWatch<P extends KeptPayload = string> {
  readonly stats: OverwriteWatchStats = { restored: 0, deferred: 0, pending: 0 };
  /** Topics whose latest message seen is not ours (at most one entry per topic we keep), oldest first. */
  readonly #overwritten = new Set<string>();
  /** Those of them already deferred once. */
  readonly #deferred = new Set<string>();
  readonly #perRound: number;
  readonly #deferrals: CountReporter;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  /**
   * `own(topic)`: the payload we keep on `topic`, or undefined (or an empty one) for a topic we do not keep.
   * `restore(topic, payload)`: publishes ours again; not called while `canSend()` is false.
   */
  constructor(
    private readonly own: (topic: string) => P | undefined,
    private readonly restore: (topic: string, payload: P) => void,
    private readonly canSend: () => boolean = () => true,
    options: OverwriteWatchOptions = {},
  ) {
    const perSecond = options.restoresPerSecond ?? RESTORES_PER_SECOND;
    if (!Number.isInteger(perSecond) || perSecond < 1) throw new RangeError(`restoresPerSecond must be a positive integer, not ${perSecond}`);
    this.#perRound = Math.max(1, Math.floor((perSecond * RESTORE_AFTER_MS) / 1000));
    const { onDeferred } = options;
    this.#deferrals = new CountReporter(DEFERRED_REPORT_MS, onDeferred && ((n) => onDeferred(n, this.#overwritten.size)));
  }

  /** A message seen on `topic`; `isOurs` tells whether its payload is the one we keep. False when the topic is not one of ours (the caller handles it). */
  seen(topic: string, isOurs: (ours: P) => boolean): boolean {
    const ours = this.own(topic);
    if (!kept(ours)) return false;
    if (isOurs(ours)) this.#forget(topic);
    else if (!this.#overwritten.has(topic) && !this.#closed) {
      this.#overwritten.add(topic);
      this.stats.pending = this.#overwritten.size;
      this.#schedule();
    }
    return true;
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#deferrals.close();
    this.#timer = undefined;
    this.#overwritten.clear();
    this.#deferred.clear();
    this.stats.pending = 0;
  }

  #forget(topic: string): void {
    this.#overwritten.delete(topic);
    this.#deferred.delete(topic);
    this.stats.pending = this.#overwritten.size;
  }

  #schedule(): void {
    this.#timer ??= setTimeout(() => this.#restoreRound(), RESTORE_AFTER_MS);
    this.#timer.unref();
  }

  #restoreRound(): void {
    this.#timer = undefined;
    if (this.#closed) return;
    if (!this.canSend()) {
      // The caller sends everything again once it can.
      this.#overwritten.clear();
      this.#deferred.clear();
      this.stats.pending = 0;
      return;
    }
    let budget = this.#perRound;
    let deferred = 0;
    for (const topic of [...this.#overwritten]) {
      if (budget === 0) {
        if (!this.#deferred.has(topic)) {
          this.#deferred.add(topic);
          this.stats.deferred++;
          deferred++;
        }
        continue;
      }
      this.#forget(topic);
      const ours = this.own(topic);
      if (!kept(ours)) continue;
      budget--;
      this.stats.restored++;
      this.restore(topic, ours);
    }
    if (this.#overwritten.size > 0) this.#schedule();
    this.#deferrals.add(deferred);
  }
}

