// A contract bound to a ledger: registration, party signatures, evaluation and its records.
// The state is rebuilt from the ledger on load, so a restart changes nothing.
import {
  CONTRACT_EVENT,
  CONTRACT_READING,
  CONTRACT_REGISTER,
  CONTRACT_SIGN,
  ContractReplay,
  activeState,
  contractRef,
  evaluate,
  initialState,
  isActive,
  missingParties,
  readingInput,
  validateTerms,
  verifyPartySignature,
  type ContractEvent,
  type ContractRef,
  type ContractState,
  type Terms,
} from '../contracts';
import { peekEnvelope, storedEnvelope } from '../envelope/envelope';
import { LedgerError } from '../errors';
import type { Receipt, RecordInput, StoredRecord } from '../ledger';
import { toRecordBody } from '../envelope/payload';
import type { Gateway } from './gateway';

export interface Evaluation {
  events: ContractEvent[];
  state: ContractState;
  active: boolean;
}

export class ContractRunner {
  state: ContractState | undefined;
  readonly signed = new Set<string>();
  readonly ref: ContractRef;

  private constructor(
    readonly gateway: Gateway,
    readonly terms: Terms,
    public registeredAt: number,
  ) {
    this.ref = contractRef(terms);
  }

  /** Loads a contract, registering its terms on the ledger when they are not there yet. */
  static async load(gateway: Gateway, termsInput: unknown): Promise<ContractRunner> {
    const terms = validateTerms(termsInput);
    const ref = contractRef(terms);
    const ledger = gateway.ledger;
    let registeredAt = -1;
    for await (const r of ledger.byType(CONTRACT_REGISTER)) {
      if ((r.record.body as unknown as ContractRef).termsHash === ref.termsHash) {
        registeredAt = r.index;
        break;
      }
    }
    const runner = new ContractRunner(gateway, terms, registeredAt);
    if (registeredAt < 0) {
      runner.registeredAt = (await gateway.record({ type: CONTRACT_REGISTER, body: toRecordBody({ ...ref, terms }) })).index;
      return runner;
    }
    let activatedAt: number | undefined;
    for await (const r of ledger.byType(CONTRACT_SIGN, { from: registeredAt })) {
      const b = r.record.body as { termsHash?: string; party?: string };
      if (b.termsHash === ref.termsHash && typeof b.party === 'string') runner.signed.add(b.party);
      if (activatedAt === undefined && runner.active) activatedAt = r.record.time;
    }
    // Readings and the ticks that caused events, merged in ledger order: a tick that reported
    // a gap or raised an alarm before a restart must not report it again after.
    const replay = new ContractReplay(terms);
    if (activatedAt !== undefined) replay.activate(activatedAt);
    const inputs = mergeByIndex(ledger.byType(CONTRACT_READING, { from: registeredAt }), ledger.byType(CONTRACT_EVENT, { from: registeredAt }));
    for await (const r of inputs) {
      if ((r.record.body as { termsHash?: unknown } | undefined)?.termsHash === ref.termsHash) replay.apply(r.record.type, r.record.body);
    }
    runner.state = replay.state;
    return runner;
  }

  get active(): boolean {
    return isActive(this.terms, this.signed);
  }

  get missingParties(): string[] {
    return missingParties(this.terms, this.signed);
  }

  /** Records a party's signature over the terms hash (a JWS or COSE envelope by the party's did:key). */
  async sign(received: string | Uint8Array, party?: string): Promise<Receipt> {
    const envelope = storedEnvelope(received);
    const kid = peekEnvelope(envelope).kid;
    const did = party ?? (kid ? kid.split('#')[0] : undefined);
    if (!did) throw new LedgerError('ERR_INVALID_ARGUMENT', 'a contract signature must name its party (kid or msg.party)');
    if (!this.terms.parties.includes(did)) throw new LedgerError('ERR_UNKNOWN_DEVICE', `${did} is not a party of contract ${this.terms.id}`);
    verifyPartySignature(this.terms, envelope, did);
    // Signatures are public (contract documents carry them): a copy sent again records nothing.
    if (this.signed.has(did)) throw new LedgerError('ERR_REPLAY', `${did} has already signed contract ${this.terms.id}`, { device: did });
    const receipt = await this.gateway.record({
      type: CONTRACT_SIGN,
      device: did,
      body: toRecordBody({ ...this.ref, party: did }),
      envelope,
    });
    const wasActive = this.active;
    this.signed.add(did);
    if (!wasActive && this.active) this.state ??= activeState(this.terms, receipt.time);
    return receipt;
  }

  /**
   * Evaluates a reading and records it with every event it causes (nothing while not active).
   * `subject` is the device as the terms name it (subjectFor: its did:key id or enrolled name).
   */
  async reading(payload: unknown, now: number, device?: string, recordReading = true, subject = device): Promise<Evaluation> {
    if (!this.active) return { events: [], state: this.current(), active: false };
    // Not before the time already evaluated: that may be a tick's, which is recorded only when it
    // caused events, so a reading judged "out of order" after a wall clock set back would be
    // accepted when the ledger is re-run without that tick (audit finding, another state after a restart).
    const clock = this.state?.clock;
    const time = typeof clock === 'number' && clock > now ? clock : now;
    // Judge the input as it is recorded (JSON: Infinity and NaN become null, dates text), so
    // that re-running the contract on the ledger reaches the same verdict.
    const input = toRecordBody(readingInput(this.terms, payload, time, subject)) as unknown as ReturnType<typeof readingInput>;
    const r = evaluate(this.terms, this.state, input);
    const reading: RecordInput[] = recordReading
      ? [{ type: CONTRACT_READING, ...(device ? { device } : {}), body: toRecordBody({ ...this.ref, input }) }]
      : [];
    await this.commit(r.state, r.events, { kind: 'reading', time }, reading);
    return { events: r.events, state: r.state, active: true };
  }

  /** Advances the clock (gaps, running excursions); records the events it causes. */
  async tick(time: number): Promise<Evaluation> {
    if (!this.active) return { events: [], state: this.current(), active: false };
    const r = evaluate(this.terms, this.state, { kind: 'tick', time });
    await this.commit(r.state, r.events, { kind: 'tick', time });
    return { events: r.events, state: r.state, active: true };
  }

  /**
   * Records an input and the events it caused in one write, so that a crash keeps all of
   * them or none (an audit re-runs the input and expects exactly those events); the state
   * moves on once they are durable.
   */
  private async commit(
    state: ContractState,
    events: ContractEvent[],
    input: { kind: 'reading' | 'tick'; time: number },
    before: RecordInput[] = [],
  ): Promise<void> {
    const records = [...before, ...events.map((event) => ({ type: CONTRACT_EVENT, body: toRecordBody({ ...this.ref, input, event }) }))];
    if (records.length > 0) await this.gateway.recordMany(records);
    this.state = state;
  }

  view(): import('./gateway').ContractView {
    const t = this.terms;
    const state = this.current();
    return { id: t.id, title: t.title, termsHash: this.ref.termsHash, metric: t.metric, unit: t.unit, active: this.active, status: state.status, rule: t.rule, last: state.last };
  }

  current(): ContractState {
    return this.state ?? initialState(this.terms);
  }
}

/** Two streams of records, each in index order, as one in index order. */
async function* mergeByIndex(a: AsyncIterable<StoredRecord>, b: AsyncIterable<StoredRecord>): AsyncGenerator<StoredRecord> {
  const ia = a[Symbol.asyncIterator]();
  const ib = b[Symbol.asyncIterator]();
  let na = await ia.next();
  let nb = await ib.next();
  while (!na.done || !nb.done) {
    if (nb.done || (!na.done && na.value.index < nb.value.index)) {
      yield na.value;
      na = await ia.next();
    } else {
      yield nb.value;
      nb = await ib.next();
    }
  }
}
