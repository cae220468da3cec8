// The anchoring loop, runtime-free: now and then it commits the ledger's latest signed
// checkpoint to the anchor contract and, once the transaction has its confirmations, records
// an `anchor` record. It runs beside the ledger on a timer; recording never waits on it.
// Failures are typed (ERR_ANCHOR_*) and reported once per kind until things work again.
import { EventEmitter } from 'node:events';
import { Transaction, Wallet, type JsonRpcProvider, type TransactionRequest } from 'ethers';
import { bytesEqual } from '../encoding/bytes';
import { isLedgerError, LedgerError } from '../errors';
import type { BlockInfo, Ledger, Receipt, RecordInput } from '../ledger';
import { anchorError, anchorInterface, anchorsOfTransaction, contractAddress, hex0x, makeProvider, receiptAnchors, remoteChainId, type ChainAnchor } from './chain';
import { checkAnchorKey } from './key';
import { ANCHOR_RECORD, parseAnchorBody, type AnchorBody } from './record';
import { anchorSubject, originHash, type AnchorSubject } from './subject';

/** What the anchorer needs of a gateway: its ledger, a way to record, and its block events. */
export interface AnchorHost {
  readonly ledger: Ledger;
  record(input: RecordInput): Promise<Receipt>;
  on(event: 'block', listener: (b: BlockInfo) => void): unknown;
  off(event: 'block', listener: (b: BlockInfo) => void): unknown;
}

export interface AnchorSettings {
  rpcUrl: string;
  chainId: number;
  contract: string;
  /** The account's private key (hex). */
  privateKey: string;
  /** Anchor once this many ledger blocks were sealed since the last anchor (0: not by count). */
  everyBlocks?: number;
  /** Anchor once this many minutes passed since the last anchor (0: not by time). Default 60. */
  everyMinutes?: number;
  /** Blocks on top of the anchor's block (counting it) before it is recorded. Default 12. */
  confirmations?: number;
  /** Most the account pays per gas, in gwei (EIP-1559 maxFeePerGas). Default 50. */
  maxFeeGwei?: number;
  /** Most tip per gas, in gwei. Default 2. */
  maxPriorityGwei?: number;
  /** Each fee bump raises the fees by this percent (at least 10, what nodes demand). Default 20. */
  bumpPercent?: number;
  /** Fee bumps per anchor at most. Default 3. */
  maxBumps?: number;
  /** Seconds a sent anchor may wait unmined before its fees are bumped. Default 180. */
  bumpAfterSeconds?: number;
  /** Seconds between looks at the chain. Default 15. */
  pollSeconds?: number;
  /** Milliseconds before one RPC request gives up. Default 15000. */
  rpcTimeoutMs?: number;
  /**
   * Seconds after the last recorded anchor before one asked for with anchorNow() (the Anchor
   * node's input) goes out; one asked sooner waits for it. Default 60: the account pays for each
   * anchor, and whoever can send the node messages could otherwise have one sent per new block.
   */
  minRequestedSeconds?: number;
  now?: () => number;
}

export interface AnchorView {
  size: number;
  height: number;
  tx: string;
  block?: number;
  blockTime?: number;
  confirmations?: number;
  /** Index of the `anchor` record (confirmed anchors only). */
  index?: number;
}

export interface AnchorStatus {
  account: string;
  chainId: number;
  contract: string;
  lastConfirmed: AnchorView | null;
  pending: (AnchorView & { nonce: number; sentAt: number; bumps: number }) | null;
  lastError: { code: string; message: string; at: number } | null;
}

interface Pending {
  subject: AnchorSubject;
  height: number;
  nonce: number;
  /** Every version sent (fee bumps replace with the same nonce), newest last, as signed bytes. */
  sent: { hash: string; raw: string }[];
  fees: { maxFee: bigint; prio: bigint } | { gasPrice: bigint };
  gasLimit: bigint;
  sentAt: number;
  bumps: number;
  mined?: { tx: string; block: number; blockHash: string; confirmations: number };
}

const gwei = (g: number): bigint => BigInt(Math.round(g * 1e9));

/**
 * Anchor transactions (new nonces, fee bumps aside) sent in a row without one confirmed: each
 * is paid for, and an endpoint that hides receipts and reports every nonce used would otherwise
 * get a new one at every look.
 */
export const MAX_UNCONFIRMED_ANCHORS = 3;

/**
 * Bytes of one JSON-RPC answer the anchorer reads at most (inflated): its requests (chain id,
 * code, nonce, fees, a block without its transactions, its own transaction's receipt) are
 * answered in kilobytes, a block of 15,000 transactions in one MiB. It runs inside the
 * runtime, where ethers takes about a second and 300 MB to decode the 16 MiB a check allows.
 */
export const MAX_ANCHORER_RESPONSE_BYTES = 1 << 20;

/**
 * Recorded anchors reported gone from the chain that are anchored again; one more stops the
 * anchorer (a reorg that deep is rare; an endpoint saying so at each look would cost a paid
 * transaction and an anchor record every time).
 */
export const MAX_LOST_ANCHORS = 3;

/** Whether an Anchored event of the ledger's origin is exactly this subject. */
function anchorsSubject(a: ChainAnchor, s: AnchorSubject): boolean {
  return a.size === s.size && bytesEqual(a.root, s.root) && bytesEqual(a.checkpointHash, s.checkpointHash);
}

function setting(v: number | undefined, dflt: number, min: number, name: string): number {
  const n = v ?? dflt;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < min) throw new LedgerError('ERR_ANCHOR_CONFIG', `${name} must be a number >= ${min}`);
  return n;
}

/**
 * Events: 'status' (AnchorStatus, on every change), 'anchored' ({body, receipt}),
 * 'error' (a LedgerError with an ERR_ANCHOR_* code; once per kind until something works).
 */
export class Anchorer extends EventEmitter {
  readonly account: string;
  readonly chainId: number;
  readonly contract: string;
  readonly #host: AnchorHost;
  readonly #provider: JsonRpcProvider;
  readonly #wallet: Wallet;
  readonly #s: Required<Omit<AnchorSettings, 'rpcUrl' | 'chainId' | 'contract' | 'privateKey' | 'rpcTimeoutMs'>>;
  #checked = false;
  #last: (AnchorBody & { index: number; at: number }) | null = null;
  #lastLoaded = false;
  #lost = new Set<string>();
  #force = false;
  /** anchorNow() was called: an anchor goes out at a look minRequestedSeconds after the last recorded one. */
  #requested = false;
  #pending: Pending | null = null;
  #lastError: AnchorStatus['lastError'] = null;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #again = false;
  #closed = false;
  /** Set when a mined anchor lacked its event, or too many were lost: sending more would only spend fees. */
  #halted: LedgerError | null = null;
  #unconfirmed = 0;
  /** Aborted by close(): the request in flight is cut off and later ones fail at once. */
  readonly #stop = new AbortController();
  readonly #onBlock = (): void => this.poke();

  constructor(host: AnchorHost, settings: AnchorSettings) {
    super();
    this.#host = host;
    if (!Number.isSafeInteger(settings.chainId) || settings.chainId <= 0) throw new LedgerError('ERR_ANCHOR_CONFIG', 'the chain id must be a positive integer');
    this.chainId = settings.chainId;
    this.contract = contractAddress(settings.contract);
    this.#provider = makeProvider(settings.rpcUrl, {
      chainId: settings.chainId,
      timeoutMs: settings.rpcTimeoutMs,
      signal: this.#stop.signal,
      maxResponseBytes: MAX_ANCHORER_RESPONSE_BYTES,
    });
    this.#wallet = new Wallet(checkAnchorKey(settings.privateKey), this.#provider);
    this.account = this.#wallet.address.toLowerCase();
    this.#s = {
      everyBlocks: setting(settings.everyBlocks, 0, 0, 'everyBlocks'),
      everyMinutes: setting(settings.everyMinutes, 60, 0, 'everyMinutes'),
      confirmations: setting(settings.confirmations, 12, 1, 'confirmations'),
      maxFeeGwei: setting(settings.maxFeeGwei, 50, 0, 'maxFeeGwei'),
      maxPriorityGwei: setting(settings.maxPriorityGwei, 2, 0, 'maxPriorityGwei'),
      bumpPercent: setting(settings.bumpPercent, 20, 10, 'bumpPercent'),
      maxBumps: setting(settings.maxBumps, 3, 0, 'maxBumps'),
      bumpAfterSeconds: setting(settings.bumpAfterSeconds, 180, 0, 'bumpAfterSeconds'),
      pollSeconds: setting(settings.pollSeconds, 15, 0.05, 'pollSeconds'),
      minRequestedSeconds: setting(settings.minRequestedSeconds, 60, 0, 'minRequestedSeconds'),
      now: settings.now ?? Date.now,
    };
    if (this.#s.everyBlocks === 0 && this.#s.everyMinutes === 0) throw new LedgerError('ERR_ANCHOR_CONFIG', 'set an interval: every N blocks and/or every T minutes');
  }

  /** Starts the loop: a look at the chain every pollSeconds and after each sealed block. */
  start(): void {
    this.#host.on('block', this.#onBlock);
    this.poke();
  }

  /**
   * Anchors the latest checkpoint at the next look, whatever the interval says; while an
   * anchor is pending, only looks at the chain now.
   */
  anchorNow(): void {
    if (!this.#pending) this.#requested = true;
    this.poke();
  }

  /** Looks at the chain now (one look at a time; a poke during a look runs another after it). */
  poke(): void {
    if (this.#closed) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#running = this.#tick()
      .catch((err: unknown) => this.#fail(err))
      .finally(() => {
        this.#running = null;
        if (this.#closed) return;
        if (this.#again) {
          this.#again = false;
          this.poke();
        } else {
          this.#timer = setTimeout(() => this.poke(), this.#s.pollSeconds * 1000);
          this.#timer.unref();
        }
      });
  }

  /** Resolves after the look in progress (if any) and the next one are done. */
  async settle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  /**
   * Stops the loop. A look in progress ends at its next request to the endpoint (the one in
   * flight cut off): a slow endpoint neither holds up a redeploy nor gets a closed anchorer
   * to go on, and its failure is not reported.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#host.off('block', this.#onBlock);
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#stop.abort(new LedgerError('ERR_ANCHOR_TIMEOUT', 'the anchorer was closed'));
    await this.#running;
    this.#provider.destroy();
  }

  status(): AnchorStatus {
    const l = this.#last;
    const p = this.#pending;
    return {
      account: this.account,
      chainId: this.chainId,
      contract: this.contract,
      lastConfirmed: l ? { size: l.size, height: l.height, tx: l.tx, block: l.block, blockTime: l.blockTime, index: l.index } : null,
      pending: p
        ? {
            size: p.subject.size,
            height: p.height,
            tx: p.mined?.tx ?? p.sent[p.sent.length - 1]?.hash ?? '',
            block: p.mined?.block,
            confirmations: p.mined?.confirmations ?? 0,
            nonce: p.nonce,
            sentAt: p.sentAt,
            bumps: p.bumps,
          }
        : null,
      lastError: this.#lastError,
    };
  }

  #changed(): void {
    this.emit('status', this.status());
  }

  #fail(err: unknown): void {
    if (this.#closed) return;
    const e = isLedgerError(err) ? err : anchorError(err, 'anchoring');
    const repeat = this.#lastError?.code === e.code;
    this.#lastError = { code: e.code, message: e.message, at: this.#s.now() };
    this.#changed();
    if (!repeat && this.listenerCount('error') > 0) this.emit('error', e);
  }

  #ok(): void {
    if (this.#lastError) {
      this.#lastError = null;
      this.#changed();
    }
  }

  async #tick(): Promise<void> {
    if (this.#halted) throw this.#halted;
    if (!this.#lastLoaded) await this.#loadLast();
    if (!this.#checked) await this.#checkChain();
    if (this.#pending) await this.#follow(this.#pending);
    else {
      await this.#checkLastStillThere();
      await this.#maybeSubmit();
    }
  }

  /** The newest `anchor` record of this chain and contract on the ledger. */
  async #loadLast(): Promise<void> {
    for await (const r of this.#host.ledger.byType(ANCHOR_RECORD, { reverse: true })) {
      let body: AnchorBody;
      try {
        body = parseAnchorBody(r.record.body);
      } catch {
        continue;
      }
      if (body.chain !== this.chainId || body.contract !== this.contract) continue;
      this.#last = { ...body, index: r.index, at: r.record.time };
      break;
    }
    this.#lastLoaded = true;
    this.#changed();
  }

  async #checkChain(): Promise<void> {
    const id = await remoteChainId(this.#provider);
    if (id !== this.chainId) throw new LedgerError('ERR_ANCHOR_CONFIG', `the JSON-RPC endpoint serves chain ${id}, not the configured chain ${this.chainId}`);
    let code: string;
    let owner: string;
    try {
      code = await this.#provider.getCode(this.contract);
      owner = code === '0x' ? '' : ((await this.#provider.call({ to: this.contract, data: anchorInterface().encodeFunctionData('owner') })));
    } catch (err) {
      throw anchorError(err, 'reading the anchor contract');
    }
    if (code === '0x') throw new LedgerError('ERR_ANCHOR_CONFIG', `there is no contract at ${this.contract} on chain ${this.chainId}`);
    const ownerAddr = `0x${owner.slice(-40)}`.toLowerCase();
    if (ownerAddr !== this.account)
      throw new LedgerError('ERR_ANCHOR_CONFIG', `the anchor contract ${this.contract} belongs to ${ownerAddr}, not to this account ${this.account}`);
    this.#checked = true;
  }

  /** A recorded anchor that a reorg took away is anchored again (the record stays: the audit reports it). */
  async #checkLastStillThere(): Promise<void> {
    const l = this.#last;
    if (!l || this.#lost.has(l.tx)) return;
    const held = await anchorsOfTransaction(this.#provider, this.contract, originHash(this.#host.ledger.name), l.tx);
    if (held.some((a) => a.blockHash === l.blockHash && a.size === l.size && bytesEqual(a.root, l.root) && bytesEqual(a.checkpointHash, l.checkpoint))) return;
    this.#lost.add(l.tx);
    if (this.#lost.size > MAX_LOST_ANCHORS) {
      this.#halted = new LedgerError(
        'ERR_ANCHOR_REORG',
        `${this.#lost.size} recorded anchors were reported gone from the chain (the latest at #${l.index}, tx ${l.tx}): a chain reorganising that deep, or an endpoint answering falsely; anchoring stopped`,
        { size: l.size, tx: l.tx, block: l.block },
      );
      throw this.#halted;
    }
    this.#force = true;
    this.#fail(
      new LedgerError(
        'ERR_ANCHOR_REORG',
        `the anchor recorded at #${l.index} (tree size ${l.size}, tx ${l.tx}, block ${l.block}) is no longer on the chain; anchoring again`,
        { size: l.size, tx: l.tx, block: l.block },
      ),
    );
  }

  async #maybeSubmit(): Promise<void> {
    const block = await this.#host.ledger.latestBlock();
    if (!block) return;
    const l = this.#last;
    const lastLost = l ? this.#lost.has(l.tx) : false;
    if (l && !lastLost) {
      // Nothing new but the anchor record itself: anchoring it would only anchor anchors.
      if (block.header.size <= l.size || block.header.size <= l.index + 1) return;
    }
    const now = this.#s.now();
    const due =
      this.#force ||
      (this.#requested && (!l || now - l.at >= this.#s.minRequestedSeconds * 1000)) ||
      !l ||
      lastLost ||
      (this.#s.everyBlocks > 0 && block.height - l.height >= this.#s.everyBlocks) ||
      (this.#s.everyMinutes > 0 && now - l.at >= this.#s.everyMinutes * 60_000);
    if (!due) return;
    if (this.#unconfirmed >= MAX_UNCONFIRMED_ANCHORS)
      throw new LedgerError(
        'ERR_ANCHOR_NONCE',
        `${this.#unconfirmed} anchor transactions were sent and none was confirmed (their nonces taken, or reverted): no more are sent until the anchorer is restarted`,
      );
    await this.#submit(block);
    this.#force = false;
    this.#requested = false;
  }

  async #fees(): Promise<Pending['fees']> {
    let baseFee: bigint | null;
    let prio: bigint;
    let gasPrice: bigint | null;
    try {
      const [latest, fee] = await Promise.all([this.#provider.getBlock('latest'), this.#provider.getFeeData()]);
      baseFee = latest?.baseFeePerGas ?? null;
      prio = fee.maxPriorityFeePerGas ?? 0n;
      gasPrice = fee.gasPrice;
    } catch (err) {
      throw anchorError(err, 'reading the fees');
    }
    const cap = gwei(this.#s.maxFeeGwei);
    const prioCap = gwei(this.#s.maxPriorityGwei);
    if (baseFee === null) {
      const price = gasPrice ?? cap;
      if (price > cap) throw new LedgerError('ERR_ANCHOR_FEE_CAP', `the gas price ${price} wei is above the cap of ${this.#s.maxFeeGwei} gwei; waiting`);
      return { gasPrice: price };
    }
    if (baseFee > cap) throw new LedgerError('ERR_ANCHOR_FEE_CAP', `the base fee ${baseFee} wei is above the cap of ${this.#s.maxFeeGwei} gwei; waiting`);
    const tip = prio < prioCap ? prio : prioCap;
    const want = baseFee * 2n + tip;
    return { maxFee: want < cap ? want : cap, prio: tip };
  }

  async #submit(block: BlockInfo): Promise<void> {
    const subject = anchorSubject(block.checkpoint);
    const data = anchorInterface().encodeFunctionData('anchor', [hex0x(subject.originHash), BigInt(subject.size), hex0x(subject.root), hex0x(subject.checkpointHash)]);
    let nonce: number;
    let gasLimit: bigint;
    try {
      nonce = await this.#provider.getTransactionCount(this.account, 'pending');
      gasLimit = ((await this.#provider.estimateGas({ from: this.account, to: this.contract, data })) * 12n) / 10n;
    } catch (err) {
      throw anchorError(err, `preparing the anchor of tree size ${subject.size}`);
    }
    const fees = await this.#fees();
    const p: Pending = { subject, height: block.height, nonce, sent: [], fees, gasLimit, sentAt: this.#s.now(), bumps: 0 };
    // Pending from the moment it is signed: a broadcast that failed (or timed out after all
    // reaching the node) is followed up with the same nonce rather than sent twice.
    this.#pending = p;
    this.#unconfirmed++;
    try {
      await this.#send(p, data);
    } finally {
      this.#changed();
    }
    this.#ok();
  }

  /** Signs and broadcasts one version of the anchor; its hash is kept even if the broadcast fails. */
  async #send(p: Pending, data: string): Promise<void> {
    const tx: TransactionRequest = { to: this.contract, data, nonce: p.nonce, gasLimit: p.gasLimit, chainId: this.chainId };
    if ('gasPrice' in p.fees) Object.assign(tx, { type: 0, gasPrice: p.fees.gasPrice });
    else Object.assign(tx, { type: 2, maxFeePerGas: p.fees.maxFee, maxPriorityFeePerGas: p.fees.prio });
    const raw = await this.#wallet.signTransaction(tx);
    const hash = Transaction.from(raw).hash as string;
    p.sent.push({ hash: hash.toLowerCase(), raw });
    p.sentAt = this.#s.now();
    await this.#broadcast(raw, `sending the anchor of tree size ${p.subject.size}`);
  }

  async #broadcast(raw: string, doing: string): Promise<void> {
    try {
      await this.#provider.send('eth_sendRawTransaction', [raw]);
    } catch (err) {
      if (/already known|known transaction|already imported/i.test((err as Error).message ?? '')) return;
      throw anchorError(err, doing);
    }
  }

  async #follow(p: Pending): Promise<void> {
    let found: { tx: string; block: number; blockHash: string; status: number | null; anchored: boolean } | null = null;
    let head: number;
    try {
      for (const s of [...p.sent].reverse()) {
        const r = await this.#provider.getTransactionReceipt(s.hash);
        if (!r || r.hash.toLowerCase() !== s.hash.toLowerCase()) continue;
        const b = await this.#provider.getBlock(r.blockNumber);
        if (b?.hash?.toLowerCase() !== r.blockHash.toLowerCase()) continue;
        // What the audit counts (anchorsOfTransaction): only logs the receipt places in this transaction and block.
        const anchored = receiptAnchors(r, b.timestamp, this.contract, p.subject.originHash).some((a) => anchorsSubject(a, p.subject));
        found = { tx: s.hash, block: r.blockNumber, blockHash: r.blockHash.toLowerCase(), status: r.status, anchored };
        break;
      }
      head = await this.#provider.getBlockNumber();
    } catch (err) {
      throw anchorError(err, `following the anchor of tree size ${p.subject.size}`);
    }
    if (found) {
      if (found.status !== 1) {
        this.#pending = null;
        this.#changed();
        throw new LedgerError('ERR_ANCHOR_REVERTED', `the anchor transaction ${found.tx} reverted in block ${found.block}`, { tx: found.tx });
      }
      if (!found.anchored) {
        this.#pending = null;
        this.#halted = new LedgerError(
          'ERR_ANCHOR_MISMATCH',
          `the anchor transaction ${found.tx} succeeded in block ${found.block} without the Anchored event of tree size ${p.subject.size}: ${this.contract} is not the anchor contract (or the endpoint answers falsely); anchoring stopped`,
          { tx: found.tx },
        );
        this.#changed();
        throw this.#halted;
      }
      const confirmations = head - found.block + 1;
      p.mined = { ...found, confirmations };
      this.#ok();
      if (confirmations >= this.#s.confirmations) await this.#confirm(p, p.mined);
      else this.#changed();
      return;
    }
    if (p.mined) {
      const was = p.mined;
      p.mined = undefined;
      this.#changed();
      this.#fail(
        new LedgerError('ERR_ANCHOR_REORG', `the anchor of tree size ${p.subject.size} (tx ${was.tx}, block ${was.block}) was dropped by a reorg before its confirmations; sending it again`, {
          size: p.subject.size,
          tx: was.tx,
          block: was.block,
        }),
      );
    }
    await this.#unmined(p);
  }

  /** No version of the anchor is in a block: send it again, bump its fees, or start over. */
  async #unmined(p: Pending): Promise<void> {
    const last = p.sent[p.sent.length - 1];
    if (!last) {
      // Never signed: nothing can be on the chain, start over.
      this.#pending = null;
      this.#changed();
      return;
    }
    let chainNonce: number;
    let known = false;
    try {
      chainNonce = await this.#provider.getTransactionCount(this.account, 'latest');
      for (const s of p.sent) if (await this.#provider.getTransaction(s.hash)) known = true;
    } catch (err) {
      throw anchorError(err, `following the anchor of tree size ${p.subject.size}`);
    }
    if (chainNonce > p.nonce) {
      // Mined between the look at the receipts and the look at the nonce: the next look follows it.
      if (await this.#anyReceipt(p)) return;
      // Another transaction of this account took the nonce: anchor afresh with a new one.
      this.#pending = null;
      this.#force = true;
      this.#changed();
      throw new LedgerError('ERR_ANCHOR_NONCE', `nonce ${p.nonce} of ${this.account} was used by another transaction; anchoring again with a new nonce`, { nonce: p.nonce });
    }
    const data = anchorInterface().encodeFunctionData('anchor', [hex0x(p.subject.originHash), BigInt(p.subject.size), hex0x(p.subject.root), hex0x(p.subject.checkpointHash)]);
    const waited = this.#s.now() - p.sentAt;
    if (!known) {
      // Dropped from the pool (or never arrived): the same signed bytes again.
      await this.#broadcast(last.raw, `re-sending the anchor of tree size ${p.subject.size}`);
      p.sentAt = this.#s.now();
      this.#ok();
      return;
    }
    if (waited >= this.#s.bumpAfterSeconds * 1000 && p.bumps < this.#s.maxBumps) {
      const bumped = this.#bumped(p.fees);
      if (!bumped) throw new LedgerError('ERR_ANCHOR_FEE_CAP', `the anchor of tree size ${p.subject.size} waits unmined and its fees are at the cap of ${this.#s.maxFeeGwei} gwei`);
      p.fees = bumped;
      p.bumps++;
      await this.#send(p, data);
      this.#ok();
      this.#changed();
    }
  }

  async #anyReceipt(p: Pending): Promise<boolean> {
    try {
      for (const s of p.sent) if (await this.#provider.getTransactionReceipt(s.hash)) return true;
    } catch (err) {
      throw anchorError(err, `following the anchor of tree size ${p.subject.size}`);
    }
    return false;
  }

  /** Fees raised by bumpPercent (nodes want 10% more for a replacement), or null at the cap. */
  #bumped(f: Pending['fees']): Pending['fees'] | null {
    const cap = gwei(this.#s.maxFeeGwei);
    const up = (v: bigint): bigint => (v * BigInt(100 + Math.ceil(this.#s.bumpPercent))) / 100n + 1n;
    const min = (v: bigint): bigint => (v * 110n) / 100n;
    if ('gasPrice' in f) {
      const g = up(f.gasPrice) < cap ? up(f.gasPrice) : cap;
      return g >= min(f.gasPrice) ? { gasPrice: g } : null;
    }
    const maxFee = up(f.maxFee) < cap ? up(f.maxFee) : cap;
    const prio = up(f.prio) < maxFee ? up(f.prio) : maxFee;
    return maxFee >= min(f.maxFee) && prio >= min(f.prio) ? { maxFee, prio } : null;
  }

  async #confirm(p: Pending, mined: NonNullable<Pending['mined']>): Promise<void> {
    let blockTime: number;
    try {
      const b = await this.#provider.getBlock(mined.block);
      if (!b?.hash || b.hash.toLowerCase() !== mined.blockHash) return; // reorg under us: the next look sees it
      blockTime = b.timestamp * 1000;
    } catch (err) {
      throw anchorError(err, 'reading the anchor block');
    }
    const body: AnchorBody = {
      chain: this.chainId,
      contract: this.contract,
      account: this.account,
      tx: mined.tx,
      block: mined.block,
      blockHash: mined.blockHash,
      blockTime,
      height: p.height,
      size: p.subject.size,
      root: p.subject.root,
      checkpoint: p.subject.checkpointHash,
    };
    try {
      parseAnchorBody(body);
    } catch (err) {
      // Numbers from the endpoint out of any real chain's range (e.g. a block time past year 285,000).
      throw new LedgerError('ERR_ANCHOR_RPC', `the chain's answers about the anchor of tree size ${p.subject.size} make no valid anchor record: ${(err as Error).message}`, {
        tx: mined.tx,
      });
    }
    const receipt = await this.#host.record({ type: ANCHOR_RECORD, body: body as unknown as RecordInput['body'] });
    this.#last = { ...body, index: receipt.index, at: receipt.time };
    this.#pending = null;
    this.#unconfirmed = 0;
    this.#ok();
    this.#changed();
    this.emit('anchored', { body, receipt });
  }
}

