// Aggregates rejected messages into `security` records (docs/FORMAT.md, "Security records"), so
// that a flood of N rejections writes O(flood seconds) records, not N. Per (device or topic,
// code): the first rejection is written at once (count 1), the ones after it in the same
// interval become one record with their count, first and last time and a sample. The counts
// of a key's records add up to every rejection noted.

/** Text a record can hold: unpaired surrogates (e.g. from cutting a text in two) become U+FFFD. */
export const wellFormed = (s: string): string => s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');

export interface SecurityContext {
  /** did:key of an enrolled device the message claims (the key), else the topic is the key. */
  device?: string;
  topic?: string;
  source?: string;
}

export interface SecurityBody {
  code: string;
  /** Rejections this record stands for. */
  count: number;
  /** Gateway time (ms) of the first and last of them. */
  first: number;
  last: number;
  /** The aggregation key when it is a topic ('*' for the overflow bucket). */
  topic?: string;
  source?: string;
  /** The first of them: its error text (cut to 500 characters) and topic. */
  sample: { detail: string; topic?: string };
}

export interface SecurityEntry {
  device?: string;
  body: SecurityBody;
}

interface Window {
  opened: number;
  pending?: SecurityEntry;
}

/** Distinct keys tracked per interval; beyond them rejections go to one bucket per code (topic '*'). */
export const MAX_SECURITY_KEYS = 64;
export const DEFAULT_SECURITY_INTERVAL_MS = 10_000;

export class SecurityLog {
  readonly #windows = new Map<string, Window>();
  readonly #intervalMs: number;
  readonly #maxKeys: number;

  constructor(intervalMs = DEFAULT_SECURITY_INTERVAL_MS, maxKeys = MAX_SECURITY_KEYS) {
    this.#intervalMs = intervalMs;
    this.#maxKeys = maxKeys;
  }

  get intervalMs(): number {
    return this.#intervalMs;
  }

  /**
   * Notes one rejection. Returns the entry to write now when it is the first of its key in
   * the interval; otherwise it is added to the key's pending aggregate (see take()).
   */
  note(code: string, detail: string, ctx: SecurityContext, now: number): SecurityEntry | undefined {
    let topic = ctx.device ? undefined : (ctx.topic ?? '');
    let key = ctx.device ? `d ${ctx.device} ${code}` : `t ${topic} ${code}`;
    if (!this.#windows.has(key) && this.#windows.size >= this.#maxKeys) {
      topic = '*';
      key = `t * ${code}`;
    }
    const entry = (): SecurityEntry => {
      const body: SecurityBody = { code, count: 1, first: now, last: now, sample: { detail: wellFormed(detail.slice(0, 500)) } };
      if (ctx.topic !== undefined) body.sample.topic = wellFormed(ctx.topic);
      if (topic !== undefined) body.topic = wellFormed(topic);
      if (ctx.source !== undefined) body.source = wellFormed(ctx.source);
      return ctx.device ? { device: ctx.device, body } : { body };
    };
    const w = this.#windows.get(key);
    if (!w) {
      this.#windows.set(key, { opened: now });
      return entry();
    }
    if (w.pending) {
      w.pending.body.count++;
      w.pending.body.last = now;
    } else w.pending = entry();
    return undefined;
  }

  /**
   * The pending aggregates, to write at the end of an interval (or on close). A key with
   * nothing pending whose window is older than the interval is forgotten, so that its next
   * rejection is written at once again.
   */
  take(now: number): SecurityEntry[] {
    const out: SecurityEntry[] = [];
    for (const [key, w] of this.#windows) {
      if (w.pending) {
        out.push(w.pending);
        w.pending = undefined;
        w.opened = now;
      } else if (!w.pending && now - w.opened >= this.#intervalMs) this.#windows.delete(key);
    }
    return out;
  }

  get keys(): number {
    return this.#windows.size;
  }
}
