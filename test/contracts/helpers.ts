import * as assert from 'node:assert/strict';
import {
  evaluate,
  validateTerms,
  type ContractEvent,
  type ContractInput,
  type ContractState,
  type Terms,
} from '../../lib/contracts';
import { LedgerError, type ErrorCode } from '../../lib/errors';

/** Two fixed parties (valid Ed25519 and P-256 did:keys). */
export const PARTY_A = 'did:key:z6MkhYP9hneodRCGTkWmoiU13vNGFp9Ldxb8i9tpsbL48SsU';

/** 2026-11-25T10:00:00Z */
export const T0 = Date.UTC(2026, 10, 25, 10, 0, 0);
export const min = (m: number): number => T0 + m * 60_000;
export const sec = (s: number): number => T0 + s * 1000;

export function terms(overrides: Record<string, unknown> = {}): Terms {
  return validateTerms({
    id: 'cold-room-1',
    version: 1,
    title: 'Cold room stays below 8 °C',
    subjects: 'any',
    metric: 'temperature',
    unit: '°C',
    rule: { op: '<', limit: 8 },
    alarm: { mode: 'instant' },
    parties: [PARTY_A],
    ...overrides,
  });
}

export const reading = (time: number, value: unknown, device?: string): ContractInput =>
  device === undefined ? { kind: 'reading', time, value } : { kind: 'reading', time, value, device };
export const tick = (time: number): ContractInput => ({ kind: 'tick', time });

/** Evaluates inputs one by one and keeps every intermediate state. */
export class Harness {
  state: ContractState | undefined;
  readonly all: ContractEvent[] = [];
  constructor(readonly t: Terms) {}

  /** Feeds inputs; returns the events they produced. */
  feed(...inputs: ContractInput[]): ContractEvent[] {
    const out: ContractEvent[] = [];
    for (const i of inputs) {
      const r = evaluate(this.t, this.state, i);
      this.state = r.state;
      out.push(...r.events);
    }
    this.all.push(...out);
    return out;
  }
  read(time: number, value: unknown): ContractEvent[] {
    return this.feed(reading(time, value));
  }
  get s(): ContractState {
    assert.ok(this.state, 'no state yet');
    return this.state;
  }
}

export const types = (events: readonly ContractEvent[]): string[] => events.map((e) => e.type);

export function only<T extends ContractEvent['type']>(events: readonly ContractEvent[], type: T): Extract<ContractEvent, { type: T }> {
  const found = events.filter((e) => e.type === type);
  assert.equal(found.length, 1, `expected one ${type} in ${JSON.stringify(types(events))}`);
  return found[0] as Extract<ContractEvent, { type: T }>;
}

export function assertCode(fn: () => unknown, code: ErrorCode, match?: RegExp): LedgerError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof LedgerError, `expected a LedgerError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (match) assert.match(e.message, match);
    return e;
  }
  assert.fail(`expected ${code}, but nothing was thrown`);
}

export function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

/** The state without its counters: what a rejected reading must not change. */
export function withoutCounters(s: ContractState): unknown {
  const { counters: _c, ...rest } = s;
  return rest;
}
