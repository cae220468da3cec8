import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as fc from 'fast-check';
import { signContract, validateTerms } from '../../lib/contracts';
import { createManifest, createReport } from '../../lib/firmware';
import { auditLedger, generateKey, jwkToKey, keyToDid, keyToJwk, Ledger, signEnvelope, type PrivateKey } from '../../lib/index';
import { openGateways } from '../../lib/gateway';
import { helper, onTab, packNodes, tempUserDir } from './support';
import { until } from '../support/until';

// Every node of the pack, fed malformed messages by fast-check through one running flow with
// a Catch and a Complete node. Each message must end in exactly one of: done() (Complete) or
// done(err) with a typed code (Catch). After each node the ledger holds exactly the records
// the successful messages (and the recorded rejections) account for, and at the end an
// offline audit of the ledger is clean.
//
// FUZZ_RUNS scales the number of messages per node (default 120); FUZZ_SEED replays a run;
// FUZZ_COLLECT=1 prints every bad outcome instead of stopping at the first, and lists the
// records and messages when the accounting does not add up; FUZZ_SHRINK=1 lets fast-check
// shrink a failing message; FUZZ_KEEP=1 keeps the user directory with the ledger.

const RUNS = Number(process.env.FUZZ_RUNS ?? 120);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const BURST = Math.max(10, Math.round(RUNS / 4));
const SETTLE_MS = 15_000;

// ------------------------------------------------------------------------------------ keys

const d1 = generateKey('Ed25519'); // enrolled, name "d1"
const d2 = generateKey('ES256'); // enrolled, name "d2"
const operator = generateKey('Ed25519');
const customer = generateKey('ES256');
const vendor = generateKey('Ed25519');
const identityKey = generateKey('Ed25519');
const strangers = Array.from({ length: 4 }, (_, i) => generateKey(i % 2 ? 'ES256' : 'Ed25519'));

const terms = validateTerms({
  id: 'cold-room-fuzz',
  version: 1,
  title: 'Fuzzed cold room',
  subjects: 'any',
  metric: 'temperature',
  unit: '°C',
  rule: { op: '<', limit: -20 },
  alarm: { mode: 'instant' },
  hysteresis: 0.5,
  parties: [keyToDid(operator), keyToDid(customer)],
});

// ------------------------------------------------------------------------- the flow

const NODE_IDS = ['sign-jws', 'sign-cose', 'verify', 'verify-tofu', 'enrol', 'record', 'query', 'contract', 'firmware', 'audit'] as const;
type NodeId = (typeof NODE_IDS)[number];

const flow = () =>
  onTab([
    { id: 'ledger', type: 'iot-ledger-config', ledgerName: 'fuzz', blockRecords: 50, blockSeconds: 3600 },
    { id: 'identity', type: 'iot-ledger-identity', name: 'pi', alg: 'Ed25519', did: keyToDid(identityKey) },
    { id: 'sign-jws', type: 'iot-ledger-sign', identity: 'identity', format: 'jws', wires: [['out']] },
    { id: 'sign-cose', type: 'iot-ledger-sign', identity: 'identity', format: 'cose', wires: [['out']] },
    { id: 'verify', type: 'iot-ledger-verify', ledger: 'ledger', outputs: 1, wires: [['out']] },
    { id: 'verify-tofu', type: 'iot-ledger-verify', ledger: 'ledger', outputs: 2, tofu: true, wires: [['out'], ['rejected']] },
    { id: 'enrol', type: 'iot-ledger-enrol', ledger: 'ledger', action: 'msg', wires: [['out']] },
    { id: 'record', type: 'iot-ledger-record', ledger: 'ledger', recordType: 'reading', wires: [['out']] },
    { id: 'query', type: 'iot-ledger-query', ledger: 'ledger', mode: 'latest', limit: 10, wires: [['out']] },
    { id: 'contract', type: 'iot-ledger-contract', ledger: 'ledger', terms: JSON.stringify(terms), tickSeconds: 3600, wires: [['events'], ['out']] },
    { id: 'firmware', type: 'iot-ledger-firmware', ledger: 'ledger', mode: 'check', wires: [['out']] },
    { id: 'audit', type: 'iot-ledger-audit', ledger: 'ledger', mode: 'full', interval: 0, wires: [['out']] },
    { id: 'catcher', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'completer', type: 'complete', scope: [...NODE_IDS], uncaught: false, wires: [['done']] },
    { id: 'out', type: 'helper' },
    { id: 'events', type: 'helper' },
    { id: 'rejected', type: 'helper' },
    { id: 'caught', type: 'helper' },
    { id: 'done', type: 'helper' },
  ]);

// --------------------------------------------------------------------- bookkeeping

type Msg = Record<string, unknown>;
interface Outcome {
  kind: 'done' | 'caught';
  /** Verify counted a rejection without reporting it (msg.rejected.unreported). */
  unreported?: boolean;
  code?: unknown;
  message?: string;
}
interface Sent {
  id: number;
  node: NodeId;
  outcomes: Outcome[];
  out: Msg[];
  events: Msg[];
  settled: Promise<Outcome>;
}

const sent = new Map<number, Sent>();
const waiters = new Map<number, (o: Outcome) => void>();
const strays: Msg[] = [];
let nextId = 1;

function noteOutcome(m: Msg, o: Outcome): void {
  const s = sent.get(m.fuzzId as number);
  if (!s) {
    strays.push(m);
    return;
  }
  s.outcomes.push(o);
  waiters.get(s.id)?.(o);
  waiters.delete(s.id);
}

function listen(): void {
  const on = (id: string, fn: (m: Msg) => void) => helper.getNode(id).on('input', fn);
  on('done', (m) => noteOutcome(m, { kind: 'done', unreported: (m.rejected as { unreported?: unknown } | undefined)?.unreported === true }));
  on('caught', (m) => {
    const e = m.error as { code?: unknown; message?: string } | undefined;
    noteOutcome(m, { kind: 'caught', code: e?.code, message: e?.message });
  });
  on('out', (m) => sent.get(m.fuzzId as number)?.out.push(m));
  on('events', (m) => sent.get(m.fuzzId as number)?.events.push(m));
}

/** Sends a message into a node; resolves with its first outcome. */
function send(node: NodeId, msg: Msg): Sent {
  const id = nextId++;
  let resolve!: (o: Outcome) => void;
  const settled = new Promise<Outcome>((r) => (resolve = r));
  const timer = setTimeout(() => resolve({ kind: 'caught', code: 'TIMEOUT', message: `no Complete or Catch within ${SETTLE_MS} ms` }), SETTLE_MS);
  waiters.set(id, (o) => {
    clearTimeout(timer);
    resolve(o);
  });
  const s: Sent = { id, node, outcomes: [], out: [], events: [], settled };
  sent.set(id, s);
  Object.defineProperty(msg, 'fuzzId', { value: id, enumerable: true, writable: true, configurable: true });
  (helper.getNode(node)).receive(msg);
  return s;
}

/** Waits, bounded, until a node's output for a settled message has reached its helper node. */
async function outputOf(s: Sent): Promise<Msg> {
  return until(`the output of message ${s.id} to ${s.node}`, () => s.out[0], { timeoutMs: SETTLE_MS, pollMs: 5 });
}

/**
 * Node-RED delivers messages in order (one queue): once a query sent now has come back, every
 * outcome and output that the nodes had sent before it has been delivered too.
 */
async function barrier(): Promise<void> {
  const s = send('query', { payload: { mode: 'latest', limit: 1 } });
  assert.equal((await s.settled).kind, 'done');
  await outputOf(s);
}

/** A short description of a message for failure reports (no megabytes). */
function describe_(v: unknown, depth = 0): string {
  if (typeof v === 'string') return v.length > 80 ? `string(${v.length}) ${JSON.stringify(v.slice(0, 40))}…` : JSON.stringify(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (v instanceof Uint8Array) return `bytes(${v.length})`;
  if (v === null || typeof v !== 'object') return String(v);
  if (depth > 2) return Array.isArray(v) ? '[…]' : '{…}';
  if (Array.isArray(v)) return `[${v.slice(0, 5).map((x) => describe_(x, depth + 1)).join(', ')}${v.length > 5 ? ', …' : ''}]`;
  const proto = Object.getPrototypeOf(v) === null ? 'null-proto ' : v.constructor && v.constructor !== Object ? `${v.constructor.name} ` : '';
  return `${proto}{${Object.keys(v)
    .slice(0, 8)
    .map((k) => `${k}: ${describe_((v as Msg)[k], depth + 1)}`)
    .join(', ')}}`;
}

/** The outcome is typed: done, or exactly the Catch message of a LedgerError code. */
function checkOutcome(node: NodeId, msg: Msg, o: Outcome): void {
  if (o.kind === 'done') return;
  const ok = typeof o.code === 'string' && o.code.startsWith('ERR_') && o.code !== 'ERR_INTERNAL' && o.code !== 'ERR_UNKNOWN';
  const what = `${node}: ${String(o.code)} "${o.message}" for ${describe_(msg)}`;
  if (process.env.FUZZ_COLLECT && !ok) console.log(`PROBLEM ${what}`);
  else assert.ok(ok, what);
}

/**
 * A rejection Verify counted without reporting it (past its budget of reports a second): done()
 * with msg.rejected set, nothing sent on.
 */
function unreported(s: Sent): boolean {
  const yes = s.outcomes[0]?.kind === 'done' && s.outcomes[0].unreported === true;
  if (yes) assert.equal(s.out.length, 0, `message ${s.id}: an unreported rejection was sent on`);
  return yes;
}

/** Rejections a settled message caused Verify (or Firmware, for a report it refused) to note as a security event. */
function rejectionsOf(s: Sent): number {
  if (s.node === 'firmware') return s.outcomes[0]?.kind === 'caught' && s.outcomes[0].code === 'ERR_FIRMWARE_REJECTED' ? 1 : 0;
  return (s.node === 'verify' || s.node === 'verify-tofu') && (s.outcomes[0]?.kind !== 'done' || unreported(s)) ? 1 : 0;
}

/** How many records other than security records a settled message appended, from what the node sent. */
function appendsOf(s: Sent): number {
  const ok = s.outcomes[0]?.kind === 'done';
  switch (s.node) {
    case 'verify':
      return 0;
    case 'verify-tofu':
      return ok && s.out.some((m) => (m.device as { tofu?: boolean } | undefined)?.tofu) ? 1 : 0;
    case 'enrol':
      // A device enrolled as given or revoked already: nothing written (msg.payload.unchanged).
      return ok && !s.out.some((m) => (m.payload as { unchanged?: boolean } | undefined)?.unchanged) ? 1 : 0;
    case 'firmware':
      // A release registered again with the same envelope, a vendor key trusted or revoked again: nothing written (decision "unchanged").
      return ok && !s.out.some((m) => (m.firmware as { decision?: string } | undefined)?.decision === 'unchanged') ? 1 : 0;
    case 'record':
      return ok ? 1 : 0;
    case 'contract': {
      if (!ok) return 0;
      const judged = s.out.reduce((n, m) => n + (Array.isArray(m.contract) ? m.contract.length : m.contract ? 1 : 0), 0);
      return judged + s.events.length; // each judged reading, each event, each party signature
    }
    default:
      return 0;
  }
}

async function ledgerSize(): Promise<number> {
  const s = send('query', { payload: { mode: 'latest', limit: 1 } });
  assert.equal((await s.settled).kind, 'done');
  const list = (await outputOf(s)).payload as { index: number }[];
  return list.length ? list[list.length - 1].index + 1 : 0;
}

/** Sends every message of a property run one after the other, then a concurrent burst. */
/** Security events are aggregated: write what is pending now. */
async function flushSecurity(): Promise<void> {
  for (const gw of await openGateways()) await gw.flushSecurityEvents();
}

/** Records in [from, to): security records (by the rejections they count) and the others. */
async function appended(from: number, to: number): Promise<{ rejections: number; other: number; records: { index: number; type: string; body: unknown }[] }> {
  if (to <= from) return { rejections: 0, other: 0, records: [] };
  const q = send('query', { payload: { mode: 'range', from, to, limit: 10000 } });
  assert.equal((await q.settled).kind, 'done');
  const records = (await outputOf(q)).payload as { index: number; type: string; body: unknown }[];
  const security = records.filter((r) => r.type === 'security');
  return {
    rejections: security.reduce((n, r) => n + (r.body as { count: number }).count, 0),
    other: records.length - security.length,
    records,
  };
}

async function fuzz(node: NodeId | ((m: Msg) => NodeId), arb: fc.Arbitrary<() => Msg>, runs = RUNS, burst = BURST): Promise<void> {
  const target = (m: Msg) => (typeof node === 'function' ? node(m) : node);
  await flushSecurity();
  const before = await ledgerSize();
  const mine: Sent[] = [];
  await fc.assert(
    fc.asyncProperty(arb, async (make) => {
      const msg = make();
      const n = target(msg);
      const s = send(n, msg);
      mine.push(s);
      checkOutcome(n, msg, await s.settled);
    }),
    { numRuns: runs, seed: SEED, endOnFailure: process.env.FUZZ_SHRINK !== '1' },
  );
  const together = fc.sample(arb, { numRuns: burst, seed: SEED }).map((make) => {
    const msg = make();
    return { msg, s: send(target(msg), msg) };
  });
  for (const { msg, s } of together) {
    mine.push(s);
    checkOutcome(s.node, msg, await s.settled);
  }
  await barrier(); // second outcomes and outputs still on their way
  for (const s of mine) assert.equal(s.outcomes.length, 1, `message ${s.id} to ${s.node}: ${JSON.stringify(s.outcomes)}`);
  const expected = mine.reduce((n, s) => n + appendsOf(s), 0);
  const rejections = mine.reduce((n, s) => n + rejectionsOf(s), 0);
  await flushSecurity();
  const after = await ledgerSize();
  const got = await appended(before, after);
  if (process.env.FUZZ_COLLECT && (got.other !== expected || got.rejections !== rejections)) {
    for (const r of got.records) console.log('REC', r.index, r.type, describe_(r.body));
    for (const s of mine) console.log('MSG', s.id, s.node, JSON.stringify(s.outcomes), appendsOf(s), s.out.length, s.events.length);
  }
  assert.equal(got.other, expected, `${got.other} records appended, the ${mine.length} messages account for ${expected}`);
  assert.equal(got.rejections, rejections, `security records count ${got.rejections} rejections, the ${mine.length} messages ${rejections}`);
  assert.deepEqual(strays.map(describe_), []);
}

// ------------------------------------------------------------------------ arbitraries

const b64u = (x: string | Uint8Array) => Buffer.from(x).toString('base64url');
const json = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? String(x) : x)) ?? 'null';
const MB = 1 << 20;
const huge: unknown[] = [
  'x'.repeat(MB),
  `${b64u('{"alg":"EdDSA","kid":"did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"}')}.${'A'.repeat(MB)}.${'B'.repeat(86)}`,
  '\uD800'.repeat(MB / 2),
  `{"temperature":${'9'.repeat(MB)}}`,
  '['.repeat(MB),
  `${'a.'.repeat(MB / 2)}`,
  randomBytes(MB),
  Buffer.concat([Buffer.from([0xd2, 0x84, 0x5a, 0x00, 0x10, 0x00, 0x00]), randomBytes(MB)]),
  { temperature: -21, blob: 'y'.repeat(MB) },
  Array.from({ length: 100_000 }, (_, i) => i),
];
const hugeArb = fc.constantFrom(...huge);

/** Objects whose own keys are the ones that bite: __proto__, constructor, prototype, toString. */
const protoArb = fc
  .tuple(fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', 'toJSON', 'then'), fc.jsonValue({ maxDepth: 2 }))
  .chain(([k, v]) =>
    fc.constantFrom(
      () => JSON.parse(`{${JSON.stringify(k)}: ${json(v)}, "did": ${JSON.stringify(keyToDid(d1))}}`) as Msg,
      () => JSON.parse(`{"__proto__": {"did": "did:key:x", "counter": 5}, ${JSON.stringify(k)}: ${json(v)}}`) as Msg,
      () => Object.assign(Object.create(null) as Msg, { [k]: v, temperature: 1 }),
    ),
  );

const anythingArb = fc.anything({
  maxDepth: 3,
  maxKeys: 5,
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withTypedArray: true,
  withSparseArray: true,
  withUnicodeString: true,
});

const didGarbage = fc.oneof(
  fc.string().map((s) => `did:key:z6Mk${s}`),
  fc.string().map((s) => `did:key:zDn${s}`),
  fc.constantFrom('did:key:', 'did:key:z', 'did:web:example.com', `${keyToDid(d1)}#frag`, `${keyToDid(d1)}x`, keyToDid(d1).toUpperCase()),
);
const freshDid = fc.boolean().map((p) => keyToDid(generateKey(p ? 'ES256' : 'Ed25519')));
const didArb = fc.oneof(fc.constantFrom(keyToDid(d1), keyToDid(d2), ...strangers.map(keyToDid)), freshDid, didGarbage);

/** Garbage of every JavaScript shape; thunks so that big and fresh values are made per message. */
const garbage: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: anythingArb },
  fc.double(),
  fc.integer(),
  fc.bigInt(),
  fc.constantFrom(null, undefined, true, false, NaN, -0, Infinity, '', '{}', '[]', 'null'),
  fc.string({ unit: 'binary' }),
  fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b)),
  protoArb.map((f) => f()),
  { weight: 1, arbitrary: hugeArb },
  didArb,
);

const headerArb = fc.record(
  {
    alg: fc.oneof(fc.constantFrom('EdDSA', 'ES256', 'Ed25519', 'ESP256', 'none', 'HS256', 'RS256'), garbage),
    kid: fc.oneof(didArb, garbage),
    crit: garbage,
    b64: garbage,
    typ: garbage,
  },
  { requiredKeys: [] },
);
const jwsGarbage = fc
  .tuple(
    fc.oneof(headerArb.map((h) => b64u(json(h))), fc.base64String(), fc.string()),
    fc.oneof(fc.uint8Array({ maxLength: 200 }).map(b64u), anythingArb.map((v) => b64u(json(v))), fc.string()),
    fc.oneof(fc.uint8Array({ minLength: 64, maxLength: 64 }).map(b64u), fc.uint8Array({ maxLength: 80 }).map(b64u), fc.string()),
    fc.nat({ max: 4 }),
  )
  .map(([h, p, s, extra]) => [h, p, s, ...Array.from({ length: extra }, () => 'e30')].slice(0, 3 + (extra % 2)).join('.'));
const coseGarbage = fc
  .uint8Array({ maxLength: 300 })
  .chain((b) => fc.constantFrom(Buffer.from(b), Buffer.concat([Buffer.from([0xd2, 0x84]), b]), Buffer.concat([Buffer.from([0x84, 0x43, 0xa1, 0x01, 0x27, 0xa0]), b])));

interface Mutation {
  op: 'flip' | 'truncate' | 'insert' | 'swap' | 'extend' | 'to-string' | 'to-bytes';
  pos: number;
  byte: number;
}
const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  op: fc.constantFrom('flip', 'truncate', 'insert', 'swap', 'extend', 'to-string', 'to-bytes'),
  pos: fc.nat(),
  byte: fc.integer({ min: 0, max: 255 }),
});

/** A valid envelope damaged in one place. */
function mutate(env: string | Uint8Array, m: Mutation): string | Uint8Array {
  if (typeof env === 'string') {
    const i = m.pos % env.length;
    const c = String.fromCharCode(m.byte);
    switch (m.op) {
      case 'flip':
        return env.slice(0, i) + (env[i] === c ? String.fromCharCode(m.byte ^ 1) : c) + env.slice(i + 1);
      case 'truncate':
        return env.slice(0, i);
      case 'insert':
        return env.slice(0, i) + c + env.slice(i);
      case 'swap': {
        const p = env.split('.');
        return [p[1], p[0], ...p.slice(2)].join('.');
      }
      case 'extend':
        return `${env}.${b64u('{}')}`;
      case 'to-string':
        return env.toUpperCase();
      case 'to-bytes':
        return Buffer.from(env);
    }
  }
  const b = Buffer.from(env);
  const i = m.pos % b.length;
  switch (m.op) {
    case 'flip':
      b[i] ^= m.byte || 1;
      return b;
    case 'truncate':
      return b.subarray(0, i);
    case 'insert':
      return Buffer.concat([b.subarray(0, i), Buffer.from([m.byte]), b.subarray(i)]);
    case 'swap':
      return Buffer.concat([b.subarray(i), b.subarray(0, i)]);
    case 'extend':
      return Buffer.concat([b, Buffer.from([m.byte])]);
    case 'to-string':
      return b.toString('latin1');
    case 'to-bytes':
      return new Uint8Array(b);
  }
}

let counter = 1_000;
const reading = (key: PrivateKey, body: Msg, format: 'jws' | 'cose') =>
  signEnvelope({ ...body, counter: ++counter, ts: Date.now() }, key, { format, kid: keyToDid(key) });
const formatArb = fc.constantFrom<'jws' | 'cose'>('jws', 'cose');
const asPayload = (e: string | Uint8Array) => (typeof e === 'string' ? e : Buffer.from(e));
const accepted: (string | Uint8Array)[] = [];

/** Device envelopes: valid, replayed, mutated, by strangers, with garbage inside a good signature. */
const envelopeArb: fc.Arbitrary<() => unknown> = fc.oneof(
  fc.tuple(fc.constantFrom(d1, d2), formatArb, fc.double()).map(([k, f, t]) => () => {
    const e = reading(k, { temperature: t }, f);
    accepted.push(e);
    return asPayload(e);
  }),
  fc.tuple(fc.constantFrom(d1, d2), formatArb, mutationArb).map(([k, f, m]) => () => mutate(asPayload(reading(k, { temperature: -20 }, f)), m)),
  fc.nat().map((i) => () => (accepted.length ? asPayload(accepted[i % accepted.length]) : 'none yet')),
  fc.tuple(fc.constantFrom(...strangers), formatArb).map(([k, f]) => () => asPayload(reading(k, { temperature: 1 }, f))),
  fc.tuple(fc.constantFrom(d1, d2, ...strangers), formatArb, garbage, fc.boolean()).map(([k, f, g, kid]) => () => {
    // garbage signed correctly: the payload is what is malformed
    let body: unknown = g;
    if (typeof g === 'bigint' || g === undefined || typeof g === 'number' || typeof g === 'boolean' || g === null) body = json(g);
    try {
      return asPayload(signEnvelope(body as string, k, { format: f, kid: kid ? keyToDid(k) : undefined }));
    } catch {
      return 'unsignable';
    }
  }),
  fc.tuple(fc.constantFrom(d1, d2), formatArb, fc.record({ counter: garbage, ts: garbage, time: garbage, seq: garbage }, { requiredKeys: [] })).map(
    ([k, f, fresh]) =>
      () => {
        let e: string | Uint8Array;
        try {
          e = signEnvelope(JSON.parse(json({ temperature: -21, ...fresh })) as object, k, { format: f, kid: keyToDid(k) });
        } catch {
          e = 'unsignable';
        }
        return asPayload(e);
      },
  ),
  jwsGarbage.map((s) => () => s),
  coseGarbage.map((b) => () => b),
  garbage.map((g) => () => g),
);

const thunk = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<() => T> => a.map((v) => () => v);
/** A message with the given optional fields (each present or absent). */
function msgArb(fields: Record<string, fc.Arbitrary<() => unknown>>): fc.Arbitrary<() => Msg> {
  return fc.record(fields, { requiredKeys: [] }).map((f) => () => {
    const msg: Msg = {};
    for (const [k, make] of Object.entries(f)) msg[k] = (make as () => unknown)();
    return msg;
  });
}

const deviceField = fc.oneof(
  thunk(didArb),
  thunk(fc.constantFrom('d1', 'd2')),
  thunk(fc.record({ id: fc.oneof(didArb, garbage), name: fc.oneof(fc.constantFrom('d1', 'd2'), garbage) }, { requiredKeys: [] })),
  thunk(garbage),
);

// ---------------------------------------------------------------------------- tests

describe('nodes: fuzzing every node with malformed messages', function () {
  this.timeout(120_000);
  let userDir: string;
  const problems: unknown[] = [];
  const onUncaught = (err: unknown) => problems.push(err);

  before(async function () {
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
    userDir = tempUserDir();
    helper.settings({ userDir });
    await new Promise<void>((resolve) => helper.startServer(resolve));
    await helper.load(packNodes(), flow(), { identity: { jwk: JSON.stringify(keyToJwk(identityKey, true)) } });
    listen();
    // What the fuzzed messages can succeed against: two devices, an active contract, a vendor and a release.
    const setup: [NodeId, Msg][] = [
      ['enrol', { payload: { did: keyToDid(d1), name: 'd1' } }],
      ['enrol', { payload: { did: keyToDid(d2), name: 'd2' } }],
      ['contract', { topic: 'contract/sign', payload: signContract(terms, operator, { kid: keyToDid(operator) }) }],
      ['contract', { contractSignature: signContract(terms, customer, { kid: keyToDid(customer) }) }],
      ['firmware', { mode: 'vendor', payload: { vendor: 'acme', did: keyToDid(vendor) } }],
      ['firmware', { mode: 'release', payload: release(1) }],
    ];
    for (const [node, msg] of setup) {
      const o = await send(node, msg).settled;
      assert.equal(o.kind, 'done', `setup ${node}: ${JSON.stringify(o)}`);
    }
  });

  after(async () => {
    process.removeListener('uncaughtException', onUncaught);
    process.removeListener('unhandledRejection', onUncaught);
    await helper.unload().catch(() => undefined);
    await new Promise<void>((resolve) => helper.stopServer(resolve));
    if (process.env.FUZZ_KEEP) console.log(`ledger kept in ${userDir}`);
    else fs.rmSync(userDir, { recursive: true, force: true });
  });

  afterEach(() => assert.deepEqual(problems.map(String), [], 'uncaught exceptions or unhandled rejections'));

  let sequence = 1;
  function release(seq = ++sequence, key: PrivateKey = vendor, format: 'jws' | 'cose' = 'jws') {
    const digest = seq.toString(16).padStart(64, '0');
    return asPayload(createManifest({ vendor: 'acme', class: 'thermo-v1', version: `1.${seq}.0`, sequence: seq, digest, size: 1000 + seq }, key, format));
  }

  it('sign (JWS and COSE)', async () => {
    await fuzz((m) => (m.cose ? 'sign-cose' : 'sign-jws'), msgArb({ payload: thunk(garbage), cose: thunk(fc.boolean()), topic: thunk(garbage) }));
  });

  it('verify (registered devices only, and trust on first use)', async () => {
    await fuzz(
      (m) => (m.tofu ? 'verify-tofu' : 'verify'),
      msgArb({ payload: envelopeArb, topic: thunk(fc.oneof(fc.string(), garbage)), device: deviceField, tofu: thunk(fc.boolean()) }),
      RUNS * 2,
    );
  });

  it('enrol', async () => {
    const pool = strangers.map(keyToDid);
    const request = fc.record(
      {
        action: fc.oneof(fc.constantFrom('enrol', 'revoke', 'Enrol', ''), garbage),
        did: fc.oneof(freshDid, fc.constantFrom(...pool), didGarbage, garbage),
        name: fc.oneof(fc.string(), fc.constant('n'.repeat(201)), garbage),
        meta: fc.oneof(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 })), garbage),
        reason: garbage,
      },
      { requiredKeys: [] },
    );
    await fuzz('enrol', msgArb({ payload: fc.oneof({ weight: 3, arbitrary: thunk(request) }, thunk(garbage), protoArb) }));
  });

  it('record', async () => {
    // Messages Verify accepted (from the previous test), sent again, out of order, or with parts swapped or changed.
    const pool = [...sent.values()].filter((x) => x.node.startsWith('verify') && x.outcomes[0]?.kind === 'done' && !unreported(x)).map((x) => x.out[0]);
    // The verify fuzz's share of valid envelopes is random (about 1 in 8), and its garbage may
    // have moved d1's and d2's counters far ahead: readings of new devices (trust on first use)
    // top the pool up.
    const newcomers = Array.from({ length: 4 }, () => generateKey('Ed25519'));
    for (let i = 0; pool.length < 40 && i < 80; i++) {
      const s = send('verify-tofu', { payload: asPayload(reading(newcomers[i % 4], { temperature: -21 }, i % 8 < 4 ? 'jws' : 'cose')) });
      if ((await s.settled).kind === 'done' && !unreported(s)) pool.push(s.out[0]);
    }
    assert.ok(pool.length >= 40, `only ${pool.length} verified messages to replay`);
    const verifiedMsg = fc
      .tuple(fc.nat(), fc.nat(), fc.constantFrom('as is', 'as is', 'counter', 'time', 'envelope', 'device', 'proof', 'no proof'))
      .map(([i, j, change]) => () => {
        const m = pool[i % pool.length];
        const other = pool[j % pool.length];
        const verified = { ...(m.verified as Msg) };
        const msg: Msg = { payload: m.payload, device: m.device, envelope: m.envelope, verified };
        if (change === 'counter') verified.counter = Number(verified.counter) + 1;
        if (change === 'time') verified.time = 1;
        if (change === 'envelope') msg.envelope = other.envelope;
        if (change === 'device') msg.device = other.device;
        if (change === 'proof') verified.proof = (other.verified as Msg).proof;
        if (change === 'no proof') delete verified.proof;
        return msg;
      });
    const type = fc.oneof(fc.constantFrom('reading', 'note', 'a.b-c_1', 'READING', '', ' reading', 'r'.repeat(65), '1abc', 'reading\n', '__proto__', 'constructor'), garbage);
    const env = fc.oneof(thunk(garbage), envelopeArb, thunk(fc.string({ unit: 'binary' })));
    const verified = fc.oneof(thunk(garbage), thunk(fc.record({ counter: garbage, time: garbage, proof: fc.oneof(fc.base64String(), garbage) }, { requiredKeys: [] })));
    const forged = msgArb({ payload: fc.oneof(thunk(garbage), protoArb), recordType: thunk(type), device: deviceField, envelope: env, verified, topic: thunk(garbage) });
    await fuzz('record', fc.oneof(forged, verifiedMsg));
  });

  it('query', async () => {
    const num = fc.oneof(fc.integer({ min: -3, max: 400 }), fc.double(), fc.bigInt(), fc.constantFrom('0', '1e3', '-1', '0x10', '2025-01-01', '', ' 7 ', '9007199254740993'), garbage);
    const q = fc.record(
      {
        mode: fc.oneof(fc.constantFrom('latest', 'index', 'range', 'device', 'type', 'time', 'proof', 'block', 'LATEST', '__proto__', 'toString'), garbage),
        index: num,
        from: num,
        to: num,
        limit: num,
        height: num,
        device: fc.oneof(didArb, garbage),
        did: fc.oneof(didArb, garbage),
        type: fc.oneof(fc.constantFrom('reading', 'security', 'device.enrol', '', '\u0000'), garbage),
      },
      { requiredKeys: [] },
    );
    await fuzz('query', msgArb({ payload: fc.oneof({ weight: 4, arbitrary: thunk(q) }, thunk(garbage), protoArb) }));
  });

  it('contract', async () => {
    const signature = fc.oneof(
      fc.tuple(fc.constantFrom(operator, customer, d1, ...strangers), formatArb).map(([k, f]) => () => asPayload(signContract(terms, k, { format: f, kid: keyToDid(k) }))),
      fc.tuple(fc.constantFrom(operator, customer), formatArb, mutationArb).map(([k, f, m]) => () => mutate(asPayload(signContract(terms, k, { format: f, kid: keyToDid(k) })), m)),
      fc.tuple(fc.constantFrom(operator, customer), formatArb).map(([k, f]) => () => asPayload(signContract({ ...terms, version: 2 }, k, { format: f, kid: keyToDid(k) }))),
      fc.tuple(fc.constantFrom(operator, customer), formatArb).map(([k, f]) => () => asPayload(signContract(terms, k, { format: f }))),
      thunk(jwsGarbage),
      thunk(coseGarbage),
      thunk(garbage),
    );
    const payload = fc.oneof(
      { weight: 3, arbitrary: thunk(fc.record({ temperature: fc.oneof(fc.double(), fc.integer({ min: -40, max: 10 }), garbage), unit: garbage }, { requiredKeys: [] })) },
      thunk(garbage),
      protoArb,
      signature,
    );
    await fuzz(
      'contract',
      msgArb({
        payload,
        topic: thunk(fc.oneof(fc.constant('contract/sign'), garbage)),
        device: deviceField,
        contractSignature: signature,
        contract: thunk(fc.oneof(fc.constant(terms.id), garbage)),
        party: thunk(fc.oneof(fc.constantFrom(keyToDid(operator), keyToDid(customer)), didArb, garbage)),
      }),
    );
  });

  it('firmware', async () => {
    const manifest = fc.oneof(
      fc.tuple(formatArb).map(([f]) => () => release(undefined, vendor, f)),
      fc.constant(() => release(1)), // a rollback
      fc.tuple(fc.constantFrom(d1, ...strangers)).map(([k]) => () => release(undefined, k)),
      mutationArb.map((m) => () => mutate(release(), m)),
      thunk(jwsGarbage),
      thunk(coseGarbage),
      thunk(garbage),
    );
    const report = fc.oneof(
      fc.tuple(fc.integer({ min: -2, max: 40 }), formatArb).map(
        ([seq, f]) =>
          () =>
            asPayload(createReport({ class: 'thermo-v1', vendor: 'acme', version: '1.1.0', sequence: Math.max(1, seq), digest: (1).toString(16).padStart(64, '0'), counter: ++counter }, d1, f)),
      ),
      mutationArb.map((m) => () => mutate(asPayload(createReport({ class: 'thermo-v1', vendor: 'acme', version: '1.1.0', sequence: 1, digest: '1'.padStart(64, '0'), counter: ++counter }, d1)), m)),
      thunk(garbage),
    );
    const request = fc.record(
      {
        device: fc.oneof(fc.constantFrom(keyToDid(d1), keyToDid(d2)), didArb, garbage),
        deviceClass: fc.oneof(fc.constant('thermo-v1'), garbage),
        vendor: fc.oneof(fc.constant('acme'), garbage),
        class: fc.oneof(fc.constant('thermo-v1'), garbage),
        sequence: fc.oneof(fc.integer({ min: -1, max: 50 }), garbage),
        image: fc.oneof(fc.record({ digest: fc.oneof(fc.constant('1'.padStart(64, '0')), garbage), size: garbage }, { requiredKeys: [] }), garbage),
        action: fc.oneof(fc.constantFrom('trust', 'revoke'), garbage),
        did: fc.oneof(didArb, garbage),
      },
      { requiredKeys: [] },
    );
    const withManifest = fc.tuple(request, manifest).map(([r, m]) => () => ({ ...r, manifest: m() }));
    await fuzz(
      'firmware',
      msgArb({
        mode: thunk(fc.oneof(fc.constantFrom('release', 'check', 'report', 'vendor', 'Release', '__proto__', 'toString', ''), garbage)),
        payload: fc.oneof(manifest, report, thunk(request), withManifest, protoArb),
        device: deviceField,
        deviceId: thunk(fc.oneof(didArb, garbage)),
      }),
      RUNS * 2,
    );
  });

  it('audit (inputs are ignored: one run)', async () => {
    await fuzz('audit', msgArb({ payload: thunk(garbage), topic: thunk(garbage), mode: thunk(garbage) }), 1, 2);
  });

  it('audit node: reports the open ledger clean', async () => {
    const s = send('audit', { payload: huge[0] });
    assert.equal((await s.settled).kind, 'done', JSON.stringify(s.outcomes));
    const report = (await outputOf(s)).payload as { clean: boolean; findings: unknown[] };
    assert.equal(report.clean, true, JSON.stringify(report.findings.slice(0, 3)));
  });

  it('leaves a ledger that an offline audit finds clean, with every record accounted for', async () => {
    const size = await ledgerSize();
    await helper.unload();
    const dir = path.join(userDir, 'iot-ledger', 'ledgers', 'fuzz');
    const gatewayKey = jwkToKey(JSON.parse(fs.readFileSync(path.join(userDir, 'iot-ledger', 'keys', 'fuzz.gateway.jwk'), 'utf8')));
    const report = await auditLedger(dir, { trustedKey: keyToDid(gatewayKey) });
    assert.equal(report.clean, true, JSON.stringify(report.findings.slice(0, 3)));
    assert.equal(report.size, size);
    const ledger = await Ledger.open(dir, { readOnly: true });
    try {
      assert.equal(ledger.size, size);
      let withEnvelope = 0;
      for await (const r of ledger.range(0)) if (r.record.envelope !== undefined && r.record.type !== 'security') withEnvelope++;
      // About one record message in eight replays a verified one unchanged (random, from a pool of 40 or more).
      assert.ok(withEnvelope > 5, `only ${withEnvelope} records carry a device envelope: the fuzz hardly reached the Record node's success path`);
    } finally {
      await ledger.close();
    }
  });
});
