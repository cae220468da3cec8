/**
 * Topics we keep published, retained, that anyone on the broker can publish on too. A message
 * seen there with another payload than ours gets ours again RESTORE_AFTER_MS later, unless ours
 * came back meanwhile; at most once per interval per topic, since our own publications come back
 * to us as well (a late one behind a newer payload) and two writers must not make a storm.
 */
const RESTORE_AFTER_MS = 1000;

export class OverwriteWatch {
  /** Topics whose latest message seen is not ours (at most one entry per topic we keep). */
  readonly #overwritten = new Set<string>();
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
  ) {}

  /** A message seen on `topic`; `isOurs` tells whether its payload is the one we keep. False when the topic is not one of ours (the caller handles it). */
  seen(topic: string, isOurs: (ours: string) => boolean): boolean {
    const ours = this.own(topic);
    if (ours === undefined || ours === '') return false;
    if (isOurs(ours)) this.#overwritten.delete(topic);
    else if (!this.#overwritten.has(topic) && !this.#closed) {
      this.#overwritten.add(topic);
      this.#timer ??= setTimeout(() => this.#restoreAll(), RESTORE_AFTER_MS);
      this.#timer.unref();
    }
    return true;
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#overwritten.clear();
  }

  #restoreAll(): void {
    this.#timer = undefined;
    const topics = [...this.#overwritten];
    this.#overwritten.clear();
    if (this.#closed || !this.canSend()) return;
    for (const topic of topics) {
      const ours = this.own(topic);
      if (ours) this.restore(topic, ours);
    }
  }
}

/**
 * What a node keeps published, retained, by topic (the JSON text MQTT out sends and the payload),
 * with the OverwriteWatch that publishes one found overwritten again through `send`.
 */
export class RetainedPublications {
  readonly #published = new Map<string, { text: string; payload: unknown }>();
  readonly #watch = new OverwriteWatch(
    (topic) => this.#published.get(topic)?.text,
    (topic) => this.resend(topic),
  );

  readonly #timers = new Set<NodeJS.Timeout>();
  #closed = false;

  constructor(private readonly send: (topic: string, payload: unknown) => void) {}

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
