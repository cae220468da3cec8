// The gateway's side of witnessing: after each block, send the newest checkpoint to every
// witness with a consistency proof from the size that witness holds (learnt from a 409), and
// keep the cosignatures beside the block. It runs behind the append path: a slow or missing
// witness lowers the cosigned count and is retried, it never holds up a record.
import { EventEmitter } from 'node:events';
import { LedgerError } from '../errors';
import { readBoundedStream } from '../guards/bounded-body';
import type { BlockInfo, Ledger } from '../ledger';
import { openNote } from '../note/note-open';
import { cosignatureVerifier, parseWitnessKey, type WitnessKey } from './cosignature';
import { addCosignatures, checkDistinctWitnesses } from './quorum';
import { formatAddCheckpoint, parseTlogSize } from './request';
import { cosignedEntry, readCosigned, readWitnessSize, witnessSizeEntry } from './ledger-cosignatures';

export interface WitnessEndpoint {
  key: WitnessKey;
  /** The submission prefix (http:// or https://); requests go to <url>/add-checkpoint. */
  url: string;
}

export interface TransportReply {
  status: number;
  body: string;
}

export type Transport = (endpoint: WitnessEndpoint, body: string) => Promise<TransportReply>;

/** HTTP POST <url>/add-checkpoint with a timeout (fetch keeps connections alive). */
export const httpTransport =
  (timeoutMs = 10_000): Transport =>
  async (endpoint, body) => {
    // fetch refuses URLs with credentials: user:password@ (for a witness behind httpNodeAuth) becomes Basic auth.
    const url = new URL(`${endpoint.url.replace(/\/+$/, '')}/add-checkpoint`);
    const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8' };
    if (url.username || url.password) {
      headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
      url.username = '';
      url.password = '';
    }
    const res = await fetch(url, { method: 'POST', body, headers, signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, body: await replyText(res, endpoint) };
  };

/** A witness answers with cosignature lines, a size or a reason: a few hundred bytes. */
const MAX_REPLY_BYTES = 64 * 1024;

/** The body of a witness's answer, refused (ERR_WITNESS_REFUSED) past MAX_REPLY_BYTES without reading the rest. */
async function replyText(res: Response, endpoint: WitnessEndpoint): Promise<string> {
  const tooLarge = (): Error =>
    new LedgerError('ERR_WITNESS_REFUSED', `witness ${endpoint.key.name} answered with more than ${MAX_REPLY_BYTES} bytes`, { witness: endpoint.key.name });
  return (await readBoundedStream(res.body, MAX_REPLY_BYTES, tooLarge)).toString('utf8');
}

export interface WitnessProgress {
  name: string;
  /** Size of the latest checkpoint this witness cosigned (or reported in a 409). */
  size?: number;
  /** Outcome of the last exchange: 'cosigned', 'conflict', or an HTTP status / network error text. */
  last?: string;
  at?: number;
}

export interface CosignedStatus {
  height: number;
  size: number;
  cosigned: number;
  of: number;
  quorum: number;
  met: boolean;
  witnesses: WitnessProgress[];
}

export interface WitnessClientOptions {
  quorum: number;
  transport?: Transport;
  /** First retry delay after a failure; doubles up to maxRetryMs. */
  retryMs?: number;
  maxRetryMs?: number;
}

/** Parses the Ledger node's witness lines: `<witness vkey> <url>` per line (http(s):// submission prefix or mqtt(s)://broker/<topic>). */
export function parseWitnessEndpoints(text: string): WitnessEndpoint[] {
  const out: WitnessEndpoint[] = [];
  for (const raw of String(text ?? '').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [vkey, url, ...rest] = line.split(/\s+/);
    if (!vkey || !url || rest.length) throw new LedgerError('ERR_INVALID_ARGUMENT', `witness line "${line.slice(0, 60)}": "<witness verifier key> <URL>"`);
    if (!/^(https?|mqtts?):\/\//.test(url)) throw new LedgerError('ERR_INVALID_ARGUMENT', `witness URL must start with http://, https://, mqtt:// or mqtts://: ${url}`);
    out.push({ key: parseWitnessKey(vkey), url });
  }
  checkDistinctWitnesses(out.map((w) => w.key));
  return out;
}

/** Whether `note` holds a valid cosignature by `witness` that a quorum counts (cosignatureVerifier). */
function cosignedBy(note: string, witness: WitnessKey): boolean {
  const verifier = cosignatureVerifier(witness);
  try {
    openNote(note, [verifier]);
  } catch {
    return false;
  }
  return verifier.timestamps.length > 0;
}

interface Worker {
  endpoint: WitnessEndpoint;
  progress: WitnessProgress;
  running?: Promise<void>;
  again: boolean;
  retry?: NodeJS.Timeout;
  delay: number;
}

export class WitnessClient extends EventEmitter {
  readonly #ledger: Ledger;
  readonly #workers: Worker[];
  readonly #opts: Required<WitnessClientOptions>;
  readonly #onBlock = () => this.kick();
  #closed = false;
  /** The status last emitted (for status texts that cannot wait). */
  last?: CosignedStatus;
  /** Serialises read-modify-write of the `c` entries. */
  #store: Promise<unknown> = Promise.resolve();
  /** The newest note whose cosignatures status() counted, and the count. */
  #counted?: { note: string; cosigned: number };

  constructor(ledger: Ledger, endpoints: WitnessEndpoint[], opts: WitnessClientOptions) {
    super();
    if (!Number.isSafeInteger(opts.quorum) || opts.quorum < 0 || opts.quorum > endpoints.length)
      throw new LedgerError('ERR_INVALID_ARGUMENT', `quorum must be from 0 to ${endpoints.length}`);
    this.#ledger = ledger;
    this.#opts = { transport: httpTransport(), retryMs: 2000, maxRetryMs: 60_000, ...opts };
    this.#workers = endpoints.map((endpoint) => ({ endpoint, progress: { name: endpoint.key.name }, again: false, delay: this.#opts.retryMs }));
    ledger.on('block', this.#onBlock);
  }

  /** Starts (or restarts) a round for every witness that is not busy. */
  kick(): void {
    for (const w of this.#workers) this.#run(w);
  }

  /** The keys of the witnesses this client sends to. */
  get witnessKeys(): WitnessKey[] {
    return this.#workers.map((w) => w.endpoint.key);
  }

  #run(w: Worker): void {
    if (this.#closed) return;
    if (w.running) {
      w.again = true;
      return;
    }
    if (w.retry) clearTimeout(w.retry);
    w.retry = undefined;
    w.again = false;
    w.running = this.#sync(w)
      .then(
        () => {
          w.delay = this.#opts.retryMs;
        },
        (err: unknown) => {
          w.progress.last = (err as Error).message;
          w.progress.at = Date.now();
          this.emit('witness-error', w.endpoint.key.name, err);
          if (!this.#closed) {
            w.retry = setTimeout(() => this.#run(w), w.delay);
            w.retry.unref?.();
            w.delay = Math.min(w.delay * 2, this.#opts.maxRetryMs);
          }
        },
      )
      .finally(() => {
        w.running = undefined;
        void this.#emitStatus();
        if (w.again) this.#run(w);
      });
  }

  async #sync(w: Worker): Promise<void> {
    const block = await this.#ledger.latestBlock();
    if (!block) return;
    const db = this.#ledger.database;
    const name = w.endpoint.key.name;
    const size = block.header.size;
    // A size remembered above the ledger's is asked again (old = size): the 409 it came from may not have been the witness's.
    let known = Math.min(w.progress.size ?? (await readWitnessSize(db, name)) ?? 0, size);
    w.progress.size = known;
    for (let attempt = 0; attempt < 3 && !this.#closed; attempt++) {
      if (known > size) {
        w.progress.last = 'ahead';
        throw new LedgerError('ERR_WITNESS_REFUSED', `witness ${name} holds a checkpoint of size ${known}, larger than this ledger's ${size}: was the ledger rolled back?`, {
          witness: name,
          size: known,
        });
      }
      const proof = known > 0 && known < size ? await this.#ledger.consistencyProof(known, size) : [];
      const body = formatAddCheckpoint({ oldSize: known, proof, checkpoint: block.checkpoint });
      const reply = await this.#opts.transport(w.endpoint, body);
      w.progress.at = Date.now();
      if (reply.status === 409) {
        known = parseTlogSize(reply.body);
        w.progress.size = known;
        w.progress.last = 'conflict';
        await this.#ledger.writeBeside([witnessSizeEntry(name, known)]);
        continue;
      }
      if (reply.status !== 200) {
        w.progress.last = String(reply.status);
        throw new LedgerError('ERR_WITNESS_REFUSED', `witness ${name} answered ${reply.status}: ${reply.body.trim().slice(0, 200)}`, { witness: name, status: reply.status });
      }
      await this.#keep(block, w.endpoint, reply.body);
      w.progress.size = size;
      w.progress.last = 'cosigned';
      return;
    }
    if (!this.#closed) {
      w.progress.last = 'conflict';
      throw new LedgerError('ERR_WITNESS_REFUSED', `witness ${name} keeps answering 409 (it holds size ${known}): the ledger and the witness disagree about its history`, {
        witness: name,
        size: known,
      });
    }
  }

  /**
   * Checks the witness's cosignature lines on the checkpoint and adds the first valid one to the
   * block's stored note, unless the note has one by this witness already: one line per witness
   * (a note holds at most 100, and a cosigning again has a new timestamp, so a new line). The
   * witness's size goes in the same write, which rides on the ledger's next synced append.
   */
  async #keep(block: BlockInfo, endpoint: WitnessEndpoint, body: string): Promise<void> {
    const lines = body.split('\n').filter((l) => l);
    const mine = lines.find((l) => cosignedBy(`${block.checkpoint}${l}\n`, endpoint.key));
    if (mine === undefined)
      throw new LedgerError('ERR_WITNESS_REFUSED', `witness ${endpoint.key.name} answered 200 without a valid cosignature by its key`, { witness: endpoint.key.name });
    const db = this.#ledger.database;
    const run = this.#store.then(async () => {
      const current = (await readCosigned(db, block.height)) ?? block.checkpoint;
      const size = witnessSizeEntry(endpoint.key.name, block.header.size);
      await this.#ledger.writeBeside(cosignedBy(current, endpoint.key) ? [size] : [cosignedEntry(block.height, addCosignatures(current, [mine])), size]);
    });
    this.#store = run.catch(() => undefined);
    await run;
  }

  /** Cosigned count of the newest block. */
  async status(): Promise<CosignedStatus | null> {
    const block = await this.#ledger.latestBlock();
    if (!block) return null;
    const note = (await readCosigned(this.#ledger.database, block.height)) ?? block.checkpoint;
    // Asked for at each sidebar push: the cosignatures are verified again only when the note changed.
    if (this.#counted?.note !== note) {
      const cosigned = this.#workers.filter((w) => cosignedBy(note, w.endpoint.key)).length;
      this.#counted = { note, cosigned };
    }
    const { cosigned } = this.#counted;
    return {
      height: block.height,
      size: block.header.size,
      cosigned,
      of: this.#workers.length,
      quorum: this.#opts.quorum,
      met: cosigned >= this.#opts.quorum,
      witnesses: this.#workers.map((w) => ({ ...w.progress })),
    };
  }

  async #emitStatus(): Promise<void> {
    try {
      const s = await this.status();
      if (s) {
        this.last = s;
        this.emit('status', s);
      }
    } catch {
      /* the ledger closed meanwhile */
    }
  }

  /** Stops retrying and waits for exchanges in flight. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#ledger.off('block', this.#onBlock);
    for (const w of this.#workers) if (w.retry) clearTimeout(w.retry);
    await Promise.all(this.#workers.flatMap((w) => (w.running ? [w.running] : [])));
    await this.#store;
    this.emit('closed');
  }
}
