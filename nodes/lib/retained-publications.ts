import { OverwriteWatch, type OverwriteWatchOptions, type OverwriteWatchStats } from '../../lib/guards/overwrite-watch';

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

  /** Stops keeping anything on `topic`: it is no longer published again when overwritten. */
  forget(topic: string): void {
    this.#published.delete(topic);
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
