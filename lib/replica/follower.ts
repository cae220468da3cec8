// Following an origin: a catch-up every interval (and on demand), one at a time, with the
// state a status line or sidebar shows. Fetch failures are retried next round; a fork or
// rollback stops following (the copy stays at its last verified block, the evidence is kept),
// and so does a block larger than the replica's limits: it is signed and will not change, so
// each round would only download it to refuse it again (up to maxBlockBytes).
import { EventEmitter } from 'node:events';
import { isLedgerError, LedgerError } from '../errors';
import type { HttpFetchOptions } from './http';
import { tileFetchFor, type ClosableTileFetch, type MqttFetchOptions } from './mqtt';
import { originRetainedCheck } from './retained-check';
import { Replicator, type CatchUpResult, type CheckpointPolicy, type ReplicatorOptions } from './replicate';

/**
 * A round that failed on a tile whose bytes did not verify, over a fetch that then asks for that
 * tile afresh (MQTT: not the broker's retained copy), is tried again this soon; once per failure
 * streak, so a tile that keeps failing costs at most one extra round per interval.
 */
export const REJECTED_TILE_RETRY_MS = 1000;

export interface FollowerOptions extends HttpFetchOptions, MqttFetchOptions, Pick<ReplicatorOptions, 'maxBlockRecords' | 'maxBlockBytes'> {
  /** http(s)://… tile prefix, or mqtt(s)://broker/<topic base> (docs/FORMAT.md, "Tiles over MQTT"). */
  url: string;
  dir: string;
  trustedKey: string;
  /** Seconds between catch-ups (default 5). */
  intervalSeconds?: number;
  policy?: CheckpointPolicy;
}

export type FollowerState = 'starting' | 'following' | 'retrying' | 'stopped-fork' | 'stopped-rollback' | 'stopped-block-too-large' | 'closed';

export interface FollowerView {
  url: string;
  dir: string;
  name: string | null;
  state: FollowerState;
  size: number;
  height: number;
  target: number;
  lag: number;
  lastRound: number | null;
  /** Messages on the origin's retained MQTT topics passed over: not its resource, or a head older than the checkpoint held (0 over HTTP). */
  passedOver: number;
  error: { code: string; message: string } | null;
}

/** Events: 'round' (CatchUpResult), 'progress' (FollowerView), 'failure' (LedgerError). */
export class ReplicaFollower extends EventEmitter {
  readonly opts: FollowerOptions;
  #replica: Replicator | null = null;
  #opening: Promise<Replicator> | null = null;
  #running: Promise<CatchUpResult> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #state: FollowerState = 'starting';
  #lastRound: number | null = null;
  #error: LedgerError | null = null;
  #fetch: ClosableTileFetch | null = null;
  /** The next round is the quick retry after a rejected tile (REJECTED_TILE_RETRY_MS). */
  #retrySoon = false;

  constructor(opts: FollowerOptions) {
    super();
    this.opts = opts;
  }

  view(): FollowerView {
    const r = this.#replica;
    return {
      url: this.opts.url,
      dir: this.opts.dir,
      name: r ? r.store.meta.name : null,
      state: this.#state,
      size: r ? r.store.size : 0,
      height: r ? r.store.height : 0,
      target: r ? r.target : 0,
      lag: r ? r.lag : 0,
      lastRound: this.#lastRound,
      passedOver: this.#fetch && 'passedOver' in this.#fetch ? Number(this.#fetch.passedOver) : 0,
      error: this.#error ? { code: this.#error.code, message: this.#error.message } : null,
    };
  }

  #open(): Promise<Replicator> {
    this.#opening ??= Replicator.open(this.opts.dir, {
      trustedKey: this.opts.trustedKey,
      fetch: (this.#fetch ??= tileFetchFor(this.opts.url, { ...this.opts, check: originRetainedCheck(this.opts.trustedKey, this.opts.policy) })),
      policy: this.opts.policy,
      maxBlockRecords: this.opts.maxBlockRecords,
      maxBlockBytes: this.opts.maxBlockBytes,
      onProgress: () => this.emit('progress', this.view()),
    }).then(
      (r) => {
        if (this.#state === 'closed') {
          void r.close();
          throw new LedgerError('ERR_LEDGER_CLOSED', 'the replica was closed');
        }
        this.#replica = r;
        return r;
      },
      (err: unknown) => {
        this.#opening = null;
        throw err;
      },
    );
    return this.#opening;
  }

  /** Starts the periodic catch-ups (the first one now). */
  start(): void {
    this.#schedule(0);
  }

  #schedule(ms: number): void {
    if (this.#state === 'closed' || this.#state.startsWith('stopped')) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.catchUp().then(
        () => undefined,
        () => undefined,
      );
    }, ms);
  }

  /** One catch-up now (joins the one in progress). */
  catchUp(): Promise<CatchUpResult> {
    this.#running ??= this.#round().finally(() => {
      this.#running = null;
      const interval = (this.opts.intervalSeconds ?? 5) * 1000;
      this.#schedule(this.#retrySoon ? Math.min(interval, REJECTED_TILE_RETRY_MS) : interval);
    });
    return this.#running;
  }

  async #round(): Promise<CatchUpResult> {
    if (this.#state === 'closed') throw new LedgerError('ERR_LEDGER_CLOSED', 'the replica was closed');
    if (this.#state.startsWith('stopped') && this.#error) throw this.#error;
    try {
      const replica = await this.#open();
      const result = await replica.catchUp();
      this.#retrySoon = false;
      this.#state = 'following';
      this.#error = null;
      this.#lastRound = Date.now();
      this.emit('round', result);
      this.emit('progress', this.view());
      return result;
    } catch (err) {
      const e = isLedgerError(err) ? err : new LedgerError('ERR_INTERNAL', err instanceof Error ? err.message : String(err));
      // Cut short by close(): its fetches were cancelled; nothing to report.
      if ((this.#state as FollowerState) === 'closed') throw e;
      this.#error = e;
      this.#retrySoon = !this.#retrySoon && this.#rejectedTile(e);
      if (e.code === 'ERR_REPLICA_FORK') this.#state = 'stopped-fork';
      else if (e.code === 'ERR_REPLICA_ROLLBACK') this.#state = 'stopped-rollback';
      else if (e.code === 'ERR_REPLICA_BLOCK_TOO_LARGE') this.#state = 'stopped-block-too-large';
      else if ((this.#state as FollowerState) !== 'closed') this.#state = 'retrying';
      this.emit('failure', e);
      this.emit('progress', this.view());
      throw e;
    }
  }

  /** Whether `e` is a tile's bytes failing verification that the fetch was told of (TileFetch.rejected). */
  #rejectedTile(e: LedgerError): boolean {
    return (e.code === 'ERR_REPLICA_BAD_TILE' || e.code === 'ERR_LEDGER_CORRUPT') && typeof e.details?.path === 'string' && typeof this.#fetch?.rejected === 'function';
  }

  async close(): Promise<void> {
    this.#state = 'closed';
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    // The fetch first: the round in progress fails at its next (or current) fetch instead of
    // running on, holding the directory, until it is done (at an origin that answers each fetch
    // just within its timeout, for hours).
    const fetch = this.#fetch;
    this.#fetch = null;
    await fetch?.close();
    await this.#running?.catch(() => undefined);
    await this.#opening?.catch(() => undefined);
    await this.#replica?.close();
    this.#replica = null;
  }
}
