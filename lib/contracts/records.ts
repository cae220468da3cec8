// How contracts live on the ledger: the record bodies, and re-running them for the audit.
import { evaluate, initialState, type ContractEvent, type ContractInput, type ContractState } from './evaluator';
import { isActive } from './signatures';
import { extractMetric } from './metric';
import { termsHashHex } from './terms-hash';
import { validateTerms, type Terms } from './terms';

export const CONTRACT_REGISTER = 'contract.register';
export const CONTRACT_SIGN = 'contract.sign';
export const CONTRACT_READING = 'contract.reading';
export const CONTRACT_EVENT = 'contract.event';

export interface ContractRef {
  contract: string;
  version: number;
  termsHash: string;
}

export interface RegisterBody extends ContractRef {
  terms: Terms;
}
export interface SignBody extends ContractRef {
  party: string;
}
/** The input exactly as evaluated: replaying these reproduces the verdicts. */
export interface ReadingBody extends ContractRef {
  input: { kind: 'reading'; time: number; value: unknown; device?: string };
}
export interface EventBody extends ContractRef {
  input: { kind: 'reading' | 'tick'; time: number };
  event: ContractEvent;
}

export function contractRef(terms: Terms): ContractRef {
  return { contract: terms.id, version: terms.version, termsHash: termsHashHex(terms) };
}

/** What to record of a reading: the metric when the payload has one, else the payload (rejected on replay too). */
export function readingInput(terms: Terms, payload: unknown, time: number, device?: string): ReadingBody['input'] {
  const m = extractMetric(payload, terms.metric);
  const input: ReadingBody['input'] = { kind: 'reading', time, value: m.ok ? m.value : (payload ?? null) };
  if (device !== undefined) input.device = device;
  return input;
}

/**
 * The evaluator's state when a contract becomes active: silence is counted from `validFrom`,
 * else from the gateway time of the record that activated it (its last party signature), a
 * moment on the ledger, so the runtime and an audit count a gap from the same origin.
 */
export function activeState(terms: Terms, time: number): ContractState {
  const s = initialState(terms);
  if (s.origin === null) s.origin = time;
  return s;
}

/**
 * The evaluator's state rebuilt from one contract's records, fed in ledger order: each
 * `contract.reading` input, and each tick named by a `contract.event` (once per tick time:
 * one tick may have caused several events). This is the input sequence an audit re-runs, so
 * a runtime that resumes from it after a restart reaches the verdicts the audit expects.
 */
export class ContractReplay {
  state: ContractState | undefined;
  #lastTick: number | undefined;

  constructor(readonly terms: Terms) {}

  /** The contract became active at `time` (the gateway time of the signature that completed it). */
  activate(time: number): void {
    this.state ??= activeState(this.terms, time);
  }

  apply(type: string, body: unknown): void {
    if (!body || typeof body !== 'object') return;
    if (type === CONTRACT_READING) {
      const input = (body as Partial<ReadingBody>).input;
      if (input && input.kind === 'reading') this.state = evaluate(this.terms, this.state, input).state;
      return;
    }
    if (type !== CONTRACT_EVENT) return;
    const input = (body as Partial<EventBody>).input;
    if (!input || input.kind !== 'tick' || typeof input.time !== 'number' || input.time === this.#lastTick) return;
    this.#lastTick = input.time;
    this.state = evaluate(this.terms, this.state, { kind: 'tick', time: input.time }).state;
  }
}

// Events are compared without `detectedAt`: a tick that produced no event is not recorded, and
// such a tick only changes when a later violation was noticed, never what it was.
// Numbers compare to 12 significant digits: the evaluator rounds deviations to the precision of
// their inputs (3.8, where binary subtraction gives 3.8000000000000007), and ledgers recorded
// before it did still audit clean. No reading or limit carries 12 significant digits.
const sameNumber = (x: number): number => (Number.isFinite(x) && !Number.isInteger(x) ? Number(x.toPrecision(12)) : x);

function comparable(e: ContractEvent): string {
  const { detectedAt: _ignored, ...rest } = e as ContractEvent & { detectedAt?: number };
  return JSON.stringify(normalise(rest));
}

function normalise(v: unknown): unknown {
  if (typeof v === 'number') return sameNumber(v);
  if (Array.isArray(v)) return v.map(normalise);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, normalise((v as Record<string, unknown>)[k])]));
  return v;
}

export interface VerdictMismatch {
  index: number;
  contract: string;
  detail: string;
}

export interface RecheckerOptions {
  /** Most mismatches kept in `mismatches` (default 1000); `omitted` counts the rest. */
  maxMismatches?: number;
  /** Called with every mismatch as it is found, kept or not. */
  onMismatch?: (m: VerdictMismatch) => void;
}

/**
 * Re-runs every registered contract over its recorded inputs, record by record in ledger
 * order, and reports each recorded verdict that the evaluator does not reproduce: the first
 * `maxMismatches` in `mismatches`, every one to `onMismatch`. A ledger from someone else can
 * hold any number of mismatching records; what is kept of them stays bounded.
 */
export class ContractRechecker {
  private readonly contracts = new Map<string, { terms: Terms; state?: ContractState; expected: string[]; lastTick?: number; signed: Set<string> }>();
  /** The first mismatches found, in ledger order (at most `maxMismatches`). */
  readonly mismatches: VerdictMismatch[] = [];
  /** Mismatches found beyond those kept in `mismatches`. */
  omitted = 0;
  readonly #max: number;
  readonly #onMismatch: ((m: VerdictMismatch) => void) | undefined;

  constructor(opts: RecheckerOptions = {}) {
    this.#max = Math.max(0, opts.maxMismatches ?? 1000);
    this.#onMismatch = opts.onMismatch;
  }

  /** Every mismatch found so far, kept or not. */
  get count(): number {
    return this.mismatches.length + this.omitted;
  }

  #mismatch(index: number, contract: string, detail: string): void {
    const m: VerdictMismatch = { index, contract, detail };
    if (this.mismatches.length < this.#max) this.mismatches.push(m);
    else this.omitted++;
    this.#onMismatch?.(m);
  }

  apply(type: string, body: unknown, index: number, time?: number): void {
    if (!body || typeof body !== 'object') return;
    const b = body as Partial<RegisterBody>;
    if (type === CONTRACT_REGISTER) {
      try {
        const terms = validateTerms(b.terms);
        if (termsHashHex(terms) !== b.termsHash) {
          this.#mismatch(index, String(b.contract), 'registered terms do not match their recorded hash');
          return;
        }
        if (!this.contracts.has(b.termsHash)) this.contracts.set(b.termsHash, { terms, expected: [], signed: new Set() });
      } catch (err) {
        this.#mismatch(index, String(b.contract), `registered terms are invalid: ${(err as Error).message}`);
      }
      return;
    }
    if (type === CONTRACT_SIGN) {
      const c = typeof b.termsHash === 'string' ? this.contracts.get(b.termsHash) : undefined;
      const party = (body as Partial<SignBody>).party;
      if (!c || typeof party !== 'string') return;
      c.signed.add(party);
      if (!c.state && time !== undefined && isActive(c.terms, c.signed)) c.state = activeState(c.terms, time);
      return;
    }
    if (type !== CONTRACT_READING && type !== CONTRACT_EVENT) return;
    const c = typeof b.termsHash === 'string' ? this.contracts.get(b.termsHash) : undefined;
    if (!c) {
      this.#mismatch(index, String(b.contract), `${type} for a contract that was never registered`);
      return;
    }
    if (type === CONTRACT_READING) {
      const input = (body as ReadingBody).input;
      if (input) this.run(c, input, index);
      return;
    }
    const { input, event } = body as EventBody;
    if (!event || !input) return;
    if (input.kind === 'tick' && c.lastTick !== input.time) {
      c.lastTick = input.time;
      this.run(c, { kind: 'tick', time: input.time }, index);
    }
    const expected = c.expected.shift();
    if (expected === undefined || expected !== comparable(event)) {
      this.#mismatch(
        index,
        c.terms.id,
        expected === undefined
          ? `recorded ${event.type} that re-running the contract does not produce`
          : `recorded ${event.type} differs from what re-running the contract gives (${(JSON.parse(expected) as { type: string }).type})`,
      );
    }
  }

  private run(c: { terms: Terms; state?: ContractState; expected: string[] }, input: ContractInput, index: number): void {
    if (c.expected.length > 0) {
      this.#mismatch(index, c.terms.id, `${c.expected.length} verdict(s) of the evaluator were never recorded`);
      c.expected.length = 0;
    }
    const r = evaluate(c.terms, c.state, input);
    c.state = r.state;
    for (const e of r.events) c.expected.push(comparable(e));
  }

  /** Call at the end: adds the verdicts the evaluator produced that are missing from the ledger; returns the kept mismatches. */
  finish(lastIndex: number): VerdictMismatch[] {
    for (const c of this.contracts.values()) {
      if (c.expected.length > 0)
        this.#mismatch(lastIndex, c.terms.id, `${c.expected.length} verdict(s) of the evaluator were never recorded`);
    }
    return this.mismatches;
  }
}
