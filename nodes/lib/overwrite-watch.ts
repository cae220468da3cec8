import { CountReporter } from '../../lib/guards/count-reporter';

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
const RESTORE_AFTER_MS = 1000;

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

export class OverwriteWatch {
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
   * `own(topic)`: the payload we keep on `topic`, or undefined (or '') for a topic we do not keep.
   * `restore(topic, payload)`: publishes ours again; not called while `canSend()` is false.
   */
  constructor(
    private readonly own: (topic: string) => string | undefined,
    private readonly restore: (topic: string, payload: string) => void,
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
  seen(topic: string, isOurs: (ours: string) => boolean): boolean {
    const ours = this.own(topic);
    if (ours === undefined || ours === '') return false;
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
      if (!ours) continue;
      budget--;
      this.stats.restored++;
      this.restore(topic, ours);
    }
    if (this.#overwritten.size > 0) this.#schedule();
    this.#deferrals.add(deferred);
  }
}

/**
 * What a node keeps published, retained, by topic (the JSON text MQTT out sends and the payload),
 * with the OverwriteWatch that publishes one found overwritten again through `send`.
 */
export class RetainedPublications {
  readonly #published = new Map<string, { text: string; payload: unknown }>();
  readonly #watch: OverwriteWatch;

  readonly #timers = new Set<NodeJS.Timeout>();
  #closed = false;

  constructor(
    private readonly send: (topic: string, payload: unknown) => void,
    options: OverwriteWatchOptions = {},
  ) {
    this.#watch = new OverwriteWatch(
      (topic) => this.#published.get(topic)?.text,
      (topic) => this.resend(topic),
      undefined,
      options,
    );
  }

  /** Restores done, deferred and waiting (see OverwriteWatch). */
  get stats(): Readonly<OverwriteWatchStats> {
    return this.#watch.stats;
  }

  /** Remembers `payload` as ours on `topic`; the caller sends it. */
  keep(topic: string, payload: unknown): void {
    this.#published.set(topic, { text: JSON.stringify(payload), payload });
  }

  /** Remembers `payload` as ours on `topic` and sends it, through `send` when given (e.g. an input's). */
  publish(topic: string, payload: unknown, send: (topic: string, payload: unknown) => void = this.send): void {
    this.keep(topic, payload);
    send(topic, payload);
  }

  /** Sends all of ours again after each of `delaysMs` (until closed). */
  resendAllAfter(delaysMs: readonly number[]): void {
    if (this.#closed) return;
    for (const ms of delaysMs) {
      const t = setTimeout(() => {
        this.#timers.delete(t);
        this.resendAll();
      }, ms);
      t.unref();
      this.#timers.add(t);
    }
  }

  /** Sends ours on `topic` again, if we keep one there. */
  resend(topic: string): void {
    const p = this.#published.get(topic);
    if (p) this.send(topic, p.payload);
  }

  resendAll(): void {
    for (const topic of this.#published.keys()) this.resend(topic);
  }

  /** A message with `payload` seen on `topic` (see OverwriteWatch.seen). */
  seen(topic: string, payload: unknown): boolean {
    return this.#watch.seen(topic, (ours) => payloadIs(payload, ours));
  }

  close(): void {
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.#watch.close();
  }
}

/**
 * Whether a message's payload, as an MQTT in node hands it on (bytes, text, or parsed JSON), is
 * `ours`, the JSON text we publish.
 */
export function payloadIs(payload: unknown, ours: string): boolean {
  if (payload instanceof Uint8Array) return payload.length === Buffer.byteLength(ours) && Buffer.from(payload.buffer, payload.byteOffset, payload.length).toString('utf8') === ours;
  if (typeof payload === 'string') return payload === ours;
  try {
    return JSON.stringify(payload) === ours;
  } catch {
    return false; // a cycle or a BigInt: not a document we sent
  }
}
