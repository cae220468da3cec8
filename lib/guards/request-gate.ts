// Admitting HTTP requests from anyone in turn (the tile server, the witness's add-checkpoint):
// at most maxActive handled at once, each holding its turn until its response is closed (sent
// whole, or the connection gone) and its answer is done, or its time is up; up to maxWaiting wait; the rest are
// answered 503 ERR_OVERLOADED with Retry-After at once. Per client address, at most
// maxActivePerClient of those turns and maxPerClient requests active or waiting, so that one
// client (or a few stalled connections of one) cannot take every turn.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIPv6 } from 'node:net';
import { LedgerError } from '../errors';
import { wholeLimit } from './limits';

export interface RequestGateLimits {
  /** Requests handled at once. */
  maxActive: number;
  /** Requests waiting for a turn beyond those (0: none wait, the rest are refused at once). */
  maxWaiting: number;
  /** Turns one client address holds at once (its further requests wait, if it may have more). */
  maxActivePerClient: number;
  /** Requests of one client address active or waiting; more are refused with 503. */
  maxPerClient: number;
  /** A turn is held at most this long; then `onTimeout` ends the response (by default its connection is closed). */
  timeoutMs: number;
}

export interface RequestGateStats {
  /** Requests being handled now, and the most there ever were at once. */
  active: number;
  peakActive: number;
  waiting: number;
  /** Client addresses with a request active or waiting now (each address's count is dropped at 0). */
  clients: number;
  /** Requests handled (whatever the status), refused (503; of them refusedClient for their address's bound) and cut at timeoutMs. */
  answered: number;
  refused: number;
  refusedClient: number;
  cut: number;
}

export interface RequestGateOptions {
  /** What is refused, for the 503's text: `ERR_OVERLOADED: too many <what> at once; retry later`. */
  what: string;
  /** Retry-After (seconds) of a refused request (default 1). */
  retryAfterS?: number;
  /** Ends a response whose turn is up; by default its connection is destroyed. */
  onTimeout?: (res: ServerResponse) => void;
}

/**
 * The address a request counts against: Express's `req.ip` (the socket's address, or the
 * client's as the app's `trust proxy` setting allows), else the socket's. An IPv4-mapped IPv6
 * address is its IPv4 address; another IPv6 address counts as its /64, which one host
 * usually holds whole.
 */
export function clientAddress(req: IncomingMessage & { ip?: unknown }): string {
  const ip = typeof req.ip === 'string' && req.ip ? req.ip : (req.socket?.remoteAddress ?? '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1] as string;
  if (!isIPv6(ip)) return ip;
  const [head = '', tail = ''] = (ip.split('%')[0] as string).toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  // A trailing dotted IPv4 part stands for two groups.
  const width = (gs: string[]): number => gs.reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0);
  const groups = ip.includes('::') ? [...left, ...Array<string>(Math.max(0, 8 - width(left) - width(right))).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

/** Answers a refused request: `status` (503: too many at once, 429: too many bytes) with Retry-After (seconds) and `text`, never cached. */
export function sendRefusal(res: ServerResponse, status: 503 | 429, retryAfterS: string, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'retry-after': retryAfterS }).end(text);
}

/** `limits` changed by `change`; throws ERR_INVALID_ARGUMENT for a name it does not have or a value that is not a positive integer. */
function checkedLimits(limits: RequestGateLimits, change: Partial<RequestGateLimits>): RequestGateLimits {
  // An unknown name (say sendTimeoutMs, the timeout's name before) is an error, not ignored.
  for (const k of Object.keys(change)) if (!(k in limits)) throw new LedgerError('ERR_INVALID_ARGUMENT', `${k} is not a request gate limit (${Object.keys(limits).join(', ')})`);
  const next = { ...limits, ...change };
  for (const [k, v] of Object.entries(next)) wholeLimit(v, k === 'maxWaiting' ? 0 : 1, k);
  return next;
}

/**
 * Admits requests in turn: at most maxActive handled at once, each holding its turn until its
 * response is closed and its answer is done, so the memory held for answers not yet sent is bounded by maxActive; up to
 * maxWaiting wait (a waiting request holds no memory but its connection), first come first
 * served among the addresses that may take another turn; more are answered 503 with
 * Retry-After at once. A client that stops sending or reading holds a turn at most timeoutMs.
 */
export class RequestGate {
  readonly stats: RequestGateStats = { active: 0, peakActive: 0, waiting: 0, clients: 0, answered: 0, refused: 0, refusedClient: 0, cut: 0 };
  #limits: RequestGateLimits;
  readonly #what: string;
  readonly #retryAfter: string;
  readonly #onTimeout: (res: ServerResponse) => void;
  /** Waiting requests in arrival order, each with its client's address. */
  readonly #waiting = new Map<() => void, string | undefined>();
  /** Per client address: requests active or waiting, and of them active. Dropped when both are 0. */
  readonly #clients = new Map<string, { held: number; active: number }>();

  constructor(limits: RequestGateLimits, options: RequestGateOptions) {
    // Checked here, not by setLimits: a subclass's setLimits may need fields not set up yet.
    this.#limits = checkedLimits(limits, {});
    this.#what = options.what;
    this.#retryAfter = String(options.retryAfterS ?? 1);
    this.#onTimeout = options.onTimeout ?? ((res) => res.destroy());
  }

  get limits(): RequestGateLimits {
    return { ...this.#limits };
  }

  /** Changes the limits (tests); returns the previous ones. */
  setLimits(limits: Partial<RequestGateLimits>): RequestGateLimits {
    const before = this.limits;
    this.#limits = checkedLimits(this.#limits, limits);
    this.#next();
    return before;
  }

  /**
   * Runs `answer` (which must end `res`) when it is this request's turn, or answers 503 now.
   * `client` is the address it counts against (clientAddress(req)); without one the request is
   * bound by the gate's totals only.
   */
  admit(res: ServerResponse, answer: () => Promise<void>, client?: string): void {
    const c = client === undefined ? undefined : (this.#clients.get(client) ?? { held: 0, active: 0 });
    if (c && c.held >= this.#limits.maxPerClient) return this.#refuse(res, true);
    // A free turn now is one no waiting request may take (#next gives every turn it can as soon
    // as one is freed): this request takes it unless its own address holds its share.
    const now = this.stats.active < this.#limits.maxActive && (!c || c.active < this.#limits.maxActivePerClient);
    if (!now && this.#waiting.size >= this.#limits.maxWaiting) return this.#refuse(res, false);
    if (c && client !== undefined) {
      c.held++;
      this.#clients.set(client, c);
      this.stats.clients = this.#clients.size;
    }
    if (now) return this.#start(res, answer, client);
    const turn = (): void => {
      res.off('close', gone);
      this.#start(res, answer, client);
    };
    // A client gone while waiting gives up its place: nothing is read for it.
    const gone = (): void => {
      if (!this.#waiting.delete(turn)) return;
      this.stats.waiting = this.#waiting.size;
      this.#drop(client, false);
    };
    res.once('close', gone);
    this.#waiting.set(turn, client);
    this.stats.waiting = this.#waiting.size;
  }

  #refuse(res: ServerResponse, perClient: boolean): void {
    this.stats.refused++;
    if (perClient) this.stats.refusedClient++;
    const text = `ERR_OVERLOADED: too many ${this.#what}${perClient ? ' from this address' : ''} at once; retry later\n`;
    sendRefusal(res, 503, this.#retryAfter, text);
  }

  /** One request of `client` no longer held (finished, or gone while waiting). */
  #drop(client: string | undefined, active: boolean): void {
    const c = client === undefined ? undefined : this.#clients.get(client);
    if (!c) return;
    c.held--;
    if (active) c.active--;
    if (c.held <= 0) this.#clients.delete(client as string);
    this.stats.clients = this.#clients.size;
  }

  #start(res: ServerResponse, answer: () => Promise<void>, client: string | undefined): void {
    this.stats.active++;
    this.stats.peakActive = Math.max(this.stats.peakActive, this.stats.active);
    const c = client === undefined ? undefined : this.#clients.get(client);
    if (c) c.active++;
    let done = false;
    // The turn is given back once the response is closed and its answer is done: a client gone
    // while its answer is read would otherwise free the turn for another read of the same size.
    let closed = false;
    let settled = false;
    const timer = setTimeout(() => {
      this.stats.cut++;
      this.#onTimeout(res);
      // Held at most timeoutMs, whatever the answer still does.
      settled = true;
      release();
    }, this.#limits.timeoutMs);
    timer.unref();
    const release = (): void => {
      if (done || !closed || !settled) return;
      done = true;
      clearTimeout(timer);
      this.stats.active--;
      this.stats.answered++;
      this.#drop(client, true);
      this.#next();
    };
    res.once('close', () => {
      closed = true;
      release();
    });
    if (res.destroyed) {
      closed = true;
      settled = true;
      return release();
    }
    answer()
      .catch(() => {
        if (res.headersSent) res.destroy();
        else res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('ERR_INTERNAL\n');
      })
      .finally(() => {
        settled = true;
        release();
      });
  }

  /** Gives free turns to the first waiting requests whose address may take one. */
  #next(): void {
    if (this.stats.active >= this.#limits.maxActive) return;
    for (const [turn, client] of this.#waiting) {
      if (this.stats.active >= this.#limits.maxActive) return;
      if (client !== undefined && (this.#clients.get(client)?.active ?? 0) >= this.#limits.maxActivePerClient) continue;
      this.#waiting.delete(turn);
      this.stats.waiting = this.#waiting.size;
      turn();
    }
  }
}
