// The contracts one host (a Contract node) runs on a gateway: they are loaded, listed on the
// gateway while they run, and every input (reading, clock tick, party signature, pulled
// contract document) goes through one queue, so evaluation order equals ledger order.
import { checkContractVersion, contractDocument, registrationOf, verifyContractDocument, type ContractDocument, type VerifiedContract } from '../contracts/pull';
import { CONTRACT_REGISTER, CONTRACT_SIGN } from '../contracts/records';
import { subjectFor } from '../contracts/terms-list';
import type { ContractEvent } from '../contracts/evaluator';
import { validateTerms, type Terms } from '../contracts/terms';
import { LedgerError, isLedgerError } from '../errors';
import type { Receipt } from '../ledger';
import { ContractRunner } from './contract-runner';
import type { Gateway } from './gateway';

/** A contract that judged an input, with the events it caused (none for an unremarkable reading). */
export interface Judged {
  runner: ContractRunner;
  events: ContractEvent[];
}

export interface Signed {
  runner: ContractRunner;
  receipt: Receipt;
  /** The contract document after this signature, when asked for. */
  document?: ContractDocument;
}

export interface Pulled {
  runner: ContractRunner;
  termsHash: string;
}

/** Who a reading comes from: the did:key id and/or the name a subject list may use. */
export interface ReadingSource {
  id?: string;
  name?: string;
}

export class ContractSet {
  /** The contracts given at the start, loaded (registered on the ledger when new). */
  readonly ready: Promise<ContractRunner[]>;
  #runners: ContractRunner[] = [];
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;
  #timer: NodeJS.Timeout | undefined;
  /** Contract ids whose signed older version was looked for on the ledger (#restoreSigned). */
  readonly #restored = new Set<string>();
  /** Terms hashes of signed older documents refused: a version at least as new was signed by every party here (#pullSignedOlder). */
  readonly #staleSigned = new Set<string>();
  readonly #unlist = new Map<ContractRunner, () => void>();
  readonly #gateway: () => Promise<Gateway>;

  /**
   * Starts loading `terms` on the gateway. A function, so that terms that do not parse reject
   * `ready` (and every input after) instead of throwing here; none when they come as documents.
   */
  constructor(gateway: () => Promise<Gateway>, terms: () => readonly Terms[] = () => []) {
    this.#gateway = gateway;
    this.ready = (async () => {
      const list = terms();
      const gw = await gateway();
      const loaded = await Promise.all(list.map((t) => ContractRunner.load(gw, t)));
      for (const r of loaded) this.#add(gw, r);
      return this.#runners;
    })();
  }

  /** The running contracts (empty until `ready`). */
  get runners(): readonly ContractRunner[] {
    return this.#runners;
  }

  /** Runs `fn` after every input before it has been handled. */
  #serial<T>(fn: (list: ContractRunner[]) => Promise<T>): Promise<T> {
    const next = this.#queue.then(() => this.ready).then(fn);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /** Adds `runner` at the end, or just before `before` when given. */
  #add(gw: Gateway, runner: ContractRunner, before?: ContractRunner): void {
    if (this.#runners.includes(runner)) return;
    const at = before ? this.#runners.indexOf(before) : -1;
    if (at >= 0) this.#runners.splice(at, 0, runner);
    else this.#runners.push(runner);
    if (!this.#closed) this.#unlist.set(runner, gw.listContract(runner));
  }

  /** Stops running `runner` (superseded by a newer version): off this set and the gateway's list. */
  #retire(runner: ContractRunner): void {
    const i = this.#runners.indexOf(runner);
    if (i >= 0) this.#runners.splice(i, 1);
    this.#unlist.get(runner)?.();
    this.#unlist.delete(runner);
  }

  /** Evaluates a reading with every contract whose subjects include its source. */
  reading(payload: unknown, source: ReadingSource | undefined, opts: { record?: boolean; now?: number } = {}): Promise<Judged[]> {
    return this.#serial(async (list) => {
      const now = opts.now ?? Date.now();
      const judged: Judged[] = [];
      for (const runner of list) {
        const subject = subjectFor(runner.terms, source);
        if (subject === null) continue;
        const ev = await runner.reading(payload, now, source?.id, opts.record !== false, subject);
        if (ev.active) judged.push({ runner, events: ev.events });
      }
      return judged;
    });
  }

  /** Advances every contract's clock; returns the active ones whose tick caused events. */
  tick(now = Date.now()): Promise<Judged[]> {
    return this.#serial(async (list) => {
      const judged: Judged[] = [];
      for (const runner of list) {
        const { events, active } = await runner.tick(now);
        if (active && events.length) judged.push({ runner, events });
      }
      return judged;
    });
  }

  /** Ticks every `ms` until closed; each tick's result or failure goes to the callbacks. */
  startClock(ms: number, onTick: (judged: Judged[]) => void, onError: (err: unknown) => void): void {
    if (this.#closed || this.#timer) return;
    this.#timer = setInterval(() => {
      this.tick().then(onTick, onError);
    }, ms);
    this.#timer.unref();
  }

  /**
   * Records a party's signature (a JWS string or COSE bytes) on the contract with id `contract`,
   * or on the first one when none is named. The party is the envelope's kid unless given.
   */
  sign(signature: unknown, opts: { contract?: unknown; party?: unknown; withDocument?: boolean } = {}): Promise<Signed> {
    return this.#serial(async (list) => {
      if (typeof signature !== 'string' && !(signature instanceof Uint8Array))
        throw new LedgerError('ERR_MALFORMED_ENVELOPE', 'a contract signature must be a JWS string or COSE bytes');
      // Of several versions of one id (a newer one awaiting signatures beside the one every party
      // signed), the one still awaiting signatures: every party signed the other already.
      const named = list.filter((r) => !opts.contract || opts.contract === r.terms.id);
      const runner = named.find((r) => !r.active) ?? named[0] ?? list[0];
      if (!runner) throw new LedgerError('ERR_NOT_FOUND', 'no contract is loaded to sign');
      const receipt = await runner.sign(signature, typeof opts.party === 'string' ? opts.party : undefined);
      // Now signed by every party, it supersedes the older versions of its id that ran meanwhile.
      if (runner.active) for (const old of list.filter((r) => r.terms.id === runner.terms.id && r.terms.version < runner.terms.version)) this.#retire(old);
      const signed: Signed = { runner, receipt };
      if (opts.withDocument) {
        const doc = await contractDocument((await this.#gateway()).ledger, runner.ref.termsHash);
        if (doc) signed.document = doc;
      }
      return signed;
    });
  }

  /** The documents of the contracts that are active now (each party signed), for devices to pull. */
  activeDocuments(): Promise<Array<{ runner: ContractRunner; document: ContractDocument }>> {
    return this.#serial(async (list) => {
      const out: Array<{ runner: ContractRunner; document: ContractDocument }> = [];
      for (const runner of list) {
        if (this.#closed || !runner.active) continue;
        const document = await contractDocument((await this.#gateway()).ledger, runner.ref.termsHash);
        if (document) out.push({ runner, document });
      }
      return out;
    });
  }

  /**
   * Loads the terms of a contract document another gateway published (checked against its key
   * `originKey`) and records the parties' signatures it carries that are not recorded here yet.
   * This ledger's registrations say which version of a contract id is current (kept in memory by
   * the gateway: read back once, then updated as it registers): a document of an older version is
   * refused (ERR_REPLAY) unless every party signed it and no newer version is signed by every
   * party here (#pullSignedOlder), one of the current version with other terms too
   * (ERR_CONTRACT_CONFLICT); a newer version replaces the older ones this set runs.
   */
  pull(document: unknown, originKey: string): Promise<Pulled> {
    return this.#serial(async (list) => {
      if (!originKey) throw new LedgerError('ERR_INVALID_ARGUMENT', 'pulling terms needs the origin gateway key');
      const v = verifyContractDocument(document, originKey);
      const gw = await this.#gateway();
      // The gateway keeps the registered versions: a document sent again and again reads no ledger.
      try {
        checkContractVersion(await gw.registeredVersions.get(v.terms.id), v);
      } catch (err) {
        if (!isLedgerError(err, 'ERR_REPLAY') || !v.active) throw err;
        return this.#pullSignedOlder(gw, list, v, err);
      }
      const runner = await this.#runnerOf(gw, list, v);
      // Terms every party signed bind until a newer version of them is signed by every party: one
      // that some party has not signed (yet) runs beside them and judges nothing.
      for (const old of list.filter((r) => r !== runner && r.terms.id === v.terms.id && (runner.active || !r.active))) this.#retire(old);
      if (!runner.active && !list.some((r) => r.terms.id === v.terms.id && r.active)) await this.#restoreSigned(gw, runner);
      return { runner, termsHash: v.termsHash };
    });
  }

  /**
   * The runner of a pulled document's terms (loaded and added, before `before` when given, if this
   * set does not run them yet), with the parties' signatures it carries that are not recorded yet.
   */
  async #runnerOf(gw: Gateway, list: ContractRunner[], v: VerifiedContract, before?: ContractRunner): Promise<ContractRunner> {
    let runner = list.find((r) => r.ref.termsHash === v.termsHash);
    if (!runner) {
      runner = await ContractRunner.load(gw, v.terms);
      this.#add(gw, runner, before);
    }
    for (const party of v.signed) {
      if (runner.signed.has(party)) continue;
      const envelope = v.envelopes[party];
      if (envelope !== undefined) await runner.sign(envelope, party);
    }
    return runner;
  }

  /**
   * A document of a version every party signed, older than the highest registered here: this
   * gateway missed it becoming signed (it pulled the newer version, or an older copy, only).
   * Those terms bind until a newer version is signed by every party, so they run (ahead of the
   * newer ones, which run beside them) unless this set runs, or this ledger holds, a version at
   * least as new that every party signed: then it is the replay `stale` says. Other terms
   * registered here under that version are ERR_CONTRACT_CONFLICT. The ledger is read once per
   * refused document (#staleSigned): one sent again and again reads it no more.
   */
  async #pullSignedOlder(gw: Gateway, list: ContractRunner[], v: VerifiedContract, stale: unknown): Promise<Pulled> {
    const { id, version } = v.terms;
    if (this.#staleSigned.has(v.termsHash) || list.some((r) => r.terms.id === id && r.active && r.terms.version >= version)) throw stale;
    const newer = new Map<string, ReadonlySet<string>>(); // terms hash -> parties, of the versions above
    let from = Infinity;
    for await (const r of gw.ledger.byType(CONTRACT_REGISTER)) {
      const reg = registrationOf(r.record.body);
      if (reg?.contract !== id || reg.version < version) continue;
      if (reg.version === version && reg.termsHash !== v.termsHash)
        throw new LedgerError('ERR_CONTRACT_CONFLICT', `contract ${id} version ${version} has other terms (${v.termsHash}) than the ones registered (${reg.termsHash})`, {
          contract: id,
          version,
          termsHash: v.termsHash,
          current: reg.termsHash,
        });
      const parties = (r.record.body as { terms?: { parties?: unknown } }).terms?.parties;
      if (reg.version > version && Array.isArray(parties)) {
        newer.set(reg.termsHash, new Set(parties.filter((p): p is string => typeof p === 'string')));
        from = Math.min(from, r.index);
      }
    }
    const signers = new Map<string, Set<string>>();
    if (newer.size > 0) {
      for await (const r of gw.ledger.byType(CONTRACT_SIGN, { from })) {
        const b = r.record.body as { termsHash?: unknown; party?: unknown };
        const parties = typeof b.termsHash === 'string' ? newer.get(b.termsHash) : undefined;
        if (!parties || typeof b.party !== 'string' || !parties.has(b.party)) continue;
        const got = signers.get(b.termsHash as string) ?? new Set<string>();
        got.add(b.party);
        signers.set(b.termsHash as string, got);
      }
    }
    if ([...newer].some(([hash, parties]) => parties.size > 0 && signers.get(hash)?.size === parties.size)) {
      this.#staleSigned.add(v.termsHash);
      throw stale;
    }
    const runner = await this.#runnerOf(gw, list, v, list.find((r) => r.terms.id === id && r.terms.version > version));
    for (const old of list.filter((r) => r !== runner && r.terms.id === id && r.terms.version < version)) this.#retire(old);
    return { runner, termsHash: v.termsHash };
  }

  /**
   * Loads the highest version of `pending`'s contract id below it that every party signed on this
   * ledger, to run until `pending` is signed by all (after a restart nothing runs until a document
   * arrives, and the origin keeps the document of the newest version retained). Once per contract
   * id: a document sent again and again reads the ledger once.
   */
  async #restoreSigned(gw: Gateway, pending: ContractRunner): Promise<void> {
    const id = pending.terms.id;
    if (this.#restored.has(id)) return;
    this.#restored.add(id);
    const older: Terms[] = [];
    for await (const r of gw.ledger.byType(CONTRACT_REGISTER)) {
      const reg = registrationOf(r.record.body);
      if (reg?.contract !== id || reg.version >= pending.terms.version) continue;
      try {
        older.push(validateTerms((r.record.body as { terms?: unknown }).terms));
      } catch {
        // Terms this ledger could not run then cannot bind now.
      }
    }
    older.sort((a, b) => b.version - a.version);
    for (const terms of older) {
      const runner = await ContractRunner.load(gw, terms);
      if (!runner.active) continue;
      // Ahead of the pending version, where it stood before the restart: the node shows the first
      // contract's status, and this is the one judging readings.
      this.#add(gw, runner, pending);
      return;
    }
  }

  /** Stops the clock and takes the contracts off the gateway's list; resolves once the queue is done. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    for (const unlist of this.#unlist.values()) unlist();
    this.#unlist.clear();
    await this.#queue.then(
      () => undefined,
      () => undefined,
    );
  }
}
