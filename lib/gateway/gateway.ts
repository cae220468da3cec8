// The runtime-free core behind the Node-RED nodes: one ledger plus the state derived from it.
import { createHmac, createSecretKey, randomBytes, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { AnchorStatus } from '../anchor/anchorer';
import { isLedgerError, LedgerError, withoutStack } from '../errors';
import { envelopePayload, verifyEnvelope, type VerifiedEnvelope } from '../envelope/envelope';
import { Ledger, type LedgerOptions, type ProofBundle, type Receipt, type RecordInput, type StoredRecord } from '../ledger';
import { PacedSeal } from '../ledger/paced-seal';
import { bodyFromDecoded, decodePayload, sameBody, toRecordBody } from '../envelope/payload';
import { FirmwareRunner } from './firmware-runner';
import { DeviceRegistry, DEVICE_RECORD_TYPES, ENROL, REVOKE, TOFU, enrolBody, enrolsAs, type EnrolBody } from '../registry/devices';
import { freshnessOf, isNewer, mergeAccepted, type Freshness } from '../registry/freshness';
import { acceptSigned, identifySigner, type IdentifiedMessage, type VerifiedMessage, type VerifyMessageOptions } from '../registry/verify-message';
import { RecentRecords } from './recent-records';
import { RegisteredVersions } from './registered-versions';
import { SecurityLog, DEFAULT_SECURITY_INTERVAL_MS, type SecurityEntry } from './security-log';
import { resolveRefusalLimits, type RefusalLimits } from './refusal-limit';
import { SignaturePool, type SignaturePoolOptions } from './signature-pool';
import { TofuAllowance, tofuLimits, type ResolvedTofuLimits, type TofuLimits } from './tofu-limit';
import { TofuClaims, type TofuClaim, type TofuClaimListener } from './tofu-claims';
import { ANCHOR_RECORD } from '../anchor/record';
import { CONTRACT_EVENT, CONTRACT_READING, CONTRACT_REGISTER, CONTRACT_SIGN } from '../contracts/records';
import { FIRMWARE_RECORD_TYPES } from '../firmware/state';
import { cloneRisk } from '../guards/safe-value';
import { MAX_PAYLOAD_DEPTH } from '../guards/limits';
import { cosignedProofBundle } from '../witness/bundle';
import type { WitnessClient } from '../witness/client';

export const SECURITY = 'security';
/**
 * Record types the gateway and the audit give a meaning to (enrolments, contracts, firmware,
 * security events, anchors): written by the pack's own nodes, which check what they write, and
 * refused from a flow's payload (recordPayloadThen), so that a flow copying untrusted input into
 * msg.recordType cannot enrol or revoke a device, sign a contract or fake an anchor.
 */
export const RESERVED_TYPES: ReadonlySet<string> = new Set([...DEVICE_RECORD_TYPES, CONTRACT_REGISTER, CONTRACT_SIGN, CONTRACT_READING, CONTRACT_EVENT, ...FIRMWARE_RECORD_TYPES, SECURITY, ANCHOR_RECORD]);
/** Security records the sidebar lists. */
export const RECENT_SECURITY = 5;

/** Messages verify() accepted and recordMessage() has not written yet, remembered at most. */
const MAX_ISSUED = 4096;
/**
 * What those remembered messages may weigh (envelope and payload JSON, in characters or bytes):
 * a message is up to 64 KiB, and a flow need not record every message it verified.
 */
export const MAX_ISSUED_SIZE = 8 * 1024 * 1024;

/** What a proof was issued for (recordMessage's fast path, see #issued). */
interface Issued {
  device: string;
  freshness: Freshness;
  envelope: string | Uint8Array;
  /** JSON.stringify of the payload as decoded, when it came from JSON text. */
  json?: string;
  /** Length of envelope and json (counted in MAX_ISSUED_SIZE). */
  size: number;
}

/**
 * A refusal from the signature thread names the enrolled device the message claimed, so that
 * security records aggregate it per device (docs/FORMAT.md "Security records"), not per topic.
 */
function withDevice(err: unknown, device: string): unknown {
  if (!isLedgerError(err) || err.details?.device !== undefined) return err;
  return withoutStack(() => new LedgerError(err.code, err.message, { ...err.details, device }));
}

function sameEnvelope(a: string | Uint8Array, b: string | Uint8Array): boolean {
  if (typeof a === 'string' || typeof b === 'string') return a === b;
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}


/** What verify() tells the Record node, so that it can write the envelope without verifying it again. */
export interface VerifiedProof {
  counter?: number;
  time?: number;
  /** HMAC by this gateway over device, counter, time and envelope. */
  proof: string;
}

export type GatewayVerified = VerifiedMessage & { proof: string };

/** Called once with the receipt of a durable record or the error that refused it. */
export type ReceiptCallback = (err: Error | null, receipt?: Receipt) => void;

/** A receipt; `unchanged`: the record was on the ledger already and nothing was written (a repeat that changes nothing). */
export type UnchangedReceipt = Receipt & { unchanged?: true };

/** A flow message's parts as the Record node hands them over (the payload not yet converted). */
export interface PayloadToRecord {
  type: string;
  payload: unknown;
  device?: string;
  envelope?: string | Uint8Array;
}

/** JSON.stringify, or undefined for what it cannot write (a BigInt, a cycle): a later step reports those. */
function stringifyOrUndefined(v: unknown): string | undefined {
  try {
    return JSON.stringify(v);
  } catch {
    return undefined;
  }
}

export interface GatewayStats {
  verified: number;
  rejected: number;
  appended: number;
  /** Messages refused with ERR_OVERLOADED (included in rejected when Verify shed them). */
  shed: number;
  /** Rejections noted as security events since the gateway opened, by error code. */
  security: Record<string, number>;
}

/** How much work a gateway lets wait (docs: README, "Security"). */
export interface GatewayLimits extends SignaturePoolOptions {
  /** Device messages waiting to be written for the Record node at most (default 2048). */
  maxPendingWrites?: number;
  /** Interval of the security record aggregation, ms (default 10 s). */
  securityIntervalMs?: number;
  /** What device reports of refused firmware offers may add to the ledger (lib/gateway/refusal-limit.ts). */
  firmware?: RefusalLimits;
  /**
   * What trust on first use may admit on this gateway (lib/gateway/tofu-limit.ts): 256 devices,
   * 32 at once, one more every 10 s by default. While callers hold claims (claimTofuLimits, one
   * per Verify node with TOFU on), the strictest of theirs apply instead.
   */
  tofu?: TofuLimits;
  /** The clock of the TOFU admissions, ms (default Date.now; tests inject one). */
  now?: () => number;
  /** proofBundle() seals a block for records not in one at most once per this interval, ms (default ON_DEMAND_SEAL_MS, 5 s). */
  proofSealMs?: number;
}

/** What the editor's Ledger sidebar shows about a running contract. */
export interface ContractView {
  id: string;
  title: string;
  termsHash: string;
  metric: string;
  unit?: string;
  active: boolean;
  status: string;
  rule: unknown;
  last: { time: number; value: number } | null;
}

/** A contract running on a gateway, as its list holds it. */
export interface RunningContract {
  readonly ref: { readonly termsHash: string };
  view(): ContractView;
}

export class Gateway extends EventEmitter {
  readonly stats: GatewayStats = { verified: 0, rejected: 0, appended: 0, shed: 0, security: {} };
  /** Contracts evaluated in this runtime, by terms hash (a ContractSet lists its own while it runs). */
  readonly #contracts = new Map<string, RunningContract>();
  #firmware?: Promise<FirmwareRunner>;
  readonly #signatures: SignaturePool;
  readonly #security: SecurityLog;
  readonly #securityTimer: NodeJS.Timeout;
  readonly #maxPendingWrites: number;
  #pendingWrites = 0;
  /** Witnessing of this ledger's checkpoints, when the Ledger node names witnesses. */
  witnesses?: WitnessClient;
  /** Anchor nodes running on this ledger, by node id: their status for the sidebar. */
  readonly anchors = new Map<string, () => AnchorStatus>();
  /** The newest security records (the sidebar lists them): read back once, then kept from the appends. */
  readonly recentSecurity: RecentRecords;
  /** The highest registered version of each contract id (pulled documents are checked against it): read back once, then kept from the appends. */
  readonly registeredVersions: RegisteredVersions;
  /** The latest audit report produced in this runtime. */
  lastAudit?: { at: number; clean: boolean; size: number; first?: unknown };
  /** Keys the proofs verify() hands out (per open gateway). */
  readonly #proofKey = createSecretKey(randomBytes(32));
  /** Per device, the newest freshness of an envelope on the ledger: recorded envelopes must keep getting newer. */
  readonly #recorded = new Map<string, Freshness>();
  /**
   * Proofs handed out by checkIdentified() and not yet used, with what they were issued for.
   * recordMessage() finding the same device, freshness and envelope here needs neither the
   * HMAC nor a second decoding of the signed payload (the proof is only ever issued for what
   * the map holds). Oldest first, bounded in count and size; a proof that dropped out still
   * works, the slow way.
   */
  readonly #issued = new Map<string, Issued>();
  #issuedSize = 0;
  /** Admissions of devices trusted on first use, shared by every Verify node of this gateway, under the limits #tofuClaims applies. */
  readonly #tofu: TofuAllowance;
  /** Devices whose device.tofu record is being written, with the messages of theirs that wait for it. */
  readonly #tofuWriting = new Map<string, ((err: Error | null) => void)[]>();
  readonly #tofuClaims: TofuClaims;
  readonly #now: () => number;
  readonly #proofSeals: PacedSeal;

  private constructor(
    readonly ledger: Ledger,
    readonly devices: DeviceRegistry,
    readonly limits: GatewayLimits,
  ) {
    super();
    // Limits are checked before anything starts (the signature pool's threads, the timer); the
    // firmware log's here rather than at the first report, whose failure it would keep.
    this.#tofu = new TofuAllowance(tofuLimits(limits.tofu));
    this.#tofuClaims = new TofuClaims(this.#tofu, () => this.#now());
    resolveRefusalLimits(limits.firmware);
    this.recentSecurity = new RecentRecords(ledger, SECURITY, RECENT_SECURITY);
    this.registeredVersions = new RegisteredVersions(ledger);
    this.#signatures = new SignaturePool(limits);
    this.#maxPendingWrites = limits.maxPendingWrites ?? 2048;
    this.#now = limits.now ?? Date.now;
    this.#proofSeals = new PacedSeal(ledger, limits.proofSealMs);
    this.#security = new SecurityLog(limits.securityIntervalMs ?? DEFAULT_SECURITY_INTERVAL_MS);
    this.#securityTimer = setInterval(() => void this.flushSecurityEvents().catch(() => undefined), this.#security.intervalMs);
    this.#securityTimer.unref();
  }

  static async open(dir: string, opts: LedgerOptions, limits: GatewayLimits = {}): Promise<Gateway> {
    const ledger = await Ledger.open(dir, opts);
    try {
      const gw = new Gateway(ledger, await loadDevices(ledger), limits);
      for (const d of gw.devices.list()) {
        const last = gw.devices.lastAccepted(d.did);
        if (last) gw.#recorded.set(d.did, last);
      }
      ledger.on('block', (b) => gw.emit('block', b));
      return gw;
    } catch (err) {
      await ledger.close();
      throw err;
    }
  }

  /**
   * Lists a running contract under its terms hash (the latest listed wins); returns the function
   * that takes it off the list again, unless another took its place meanwhile.
   */
  listContract(contract: RunningContract): () => void {
    const hash = contract.ref.termsHash;
    this.#contracts.set(hash, contract);
    return () => {
      if (this.#contracts.get(hash) === contract) this.#contracts.delete(hash);
    };
  }

  /** What the running contracts show, in the order they were listed. */
  contractViews(): ContractView[] {
    return [...this.#contracts.values()].map((c) => c.view());
  }

  /** The running contract with this terms hash, if any. */
  contractView(termsHash: string): ContractView | undefined {
    return this.#contracts.get(termsHash)?.view();
  }

  /** Appends a record and, once it is durable, applies it to the derived state. */
  record(input: RecordInput): Promise<Receipt> {
    return new Promise((resolve, reject) => this.#recordThen(input, (err, receipt) => (err ? reject(err) : resolve(receipt as Receipt))));
  }

  /** record() with a callback, called once (synchronously when the ledger refuses the record). */
  #recordThen(input: RecordInput, done: ReceiptCallback): void {
    this.ledger.appendThen(input, (err, receipt) => {
      if (err) return done(err);
      const r = receipt as Receipt;
      try {
        this.stats.appended++;
        this.devices.apply(input.type, input.body, r.index);
        this.recentSecurity.appended(r, input);
        this.registeredVersions.appended(r, input);
        this.emit('record', r, input);
      } catch (e) {
        return done(e as Error);
      }
      done(null, r);
    });
  }

  /**
   * Appends a record that carries a device message (what the Record node writes). Its envelope
   * must come with the proof verify() gave for it and this device, and be newer than the last
   * envelope of the device on the ledger, whose device must still be enrolled; otherwise the
   * audit would report the record (bad signature, unknown or revoked device, replay).
   * Throws ERR_INVALID_ARGUMENT, ERR_REVOKED_DEVICE or ERR_REPLAY.
   */
  recordMessage(input: RecordInput, verified?: unknown): Promise<Receipt> {
    return new Promise((resolve, reject) => this.recordMessageThen(input, verified, (err, receipt) => (err ? reject(err) : resolve(receipt as Receipt))));
  }

  /** recordMessage() with a callback, called once (synchronously when the message is refused). */
  recordMessageThen(input: RecordInput, verified: unknown, done: ReceiptCallback): void {
    if (input.envelope === undefined) return this.#recordThen(input, done);
    this.#recordDeviceMessage(input, verified, false, done);
  }

  /**
   * recordMessage() for a flow message's payload as it is (what the Record node has): the body
   * is toRecordBody(payload), errors included, except when the payload is still exactly what
   * verify() decoded for the proof it carries, whose body is then that JSON as it was.
   */
  recordPayloadThen(m: PayloadToRecord, verified: unknown, done: ReceiptCallback): void {
    if (RESERVED_TYPES.has(m.type)) return done(new LedgerError('ERR_RESERVED_TYPE', `record type ${m.type} is written only by the node that gives it its meaning (Enrol, Contract, Firmware, Anchor, Verify), not by Record`, { type: m.type }));
    const input: RecordInput = { type: m.type };
    if (m.device !== undefined) input.device = m.device;
    if (m.envelope !== undefined) input.envelope = m.envelope;
    let signedJson = false;
    try {
      const proof = m.envelope !== undefined ? ((verified ?? {}) as Partial<VerifiedProof>).proof : undefined;
      const issued = typeof proof === 'string' ? this.#issued.get(proof) : undefined;
      if (issued?.json !== undefined && !(m.payload instanceof Uint8Array) && cloneRisk(m.payload, MAX_PAYLOAD_DEPTH) === undefined && stringifyOrUndefined(m.payload) === issued.json) {
        input.body = JSON.parse(issued.json) as RecordInput['body'];
        signedJson = true;
      } else {
        input.body = toRecordBody(m.payload);
      }
    } catch (err) {
      return done(err as Error);
    }
    if (m.envelope === undefined) return this.#recordThen(input, done);
    this.#recordDeviceMessage(input, verified, signedJson, done);
  }

  /** `signedJson`: input.body is the parsed JSON snapshot of the proof's issue (the payload was left as verify() decoded it). */
  #recordDeviceMessage(input: RecordInput, verified: unknown, signedJson: boolean, done: ReceiptCallback): void {
    const fresh: Freshness = {};
    const device = input.device;
    let body: RecordInput['body'];
    let last: Freshness | undefined;
    try {
      const v = (verified ?? {}) as Partial<VerifiedProof>;
      const issued = typeof v.proof === 'string' ? this.#issued.get(v.proof) : undefined;
      if (Number.isSafeInteger(v.counter)) fresh.counter = v.counter;
      if (Number.isFinite(v.time)) fresh.time = v.time;
      const known =
        issued !== undefined &&
        issued.device === device &&
        issued.freshness.counter === fresh.counter &&
        issued.freshness.time === fresh.time &&
        sameEnvelope(issued.envelope, input.envelope as string | Uint8Array);
      if (typeof device !== 'string' || typeof v.proof !== 'string' || !(known || this.#proofMatches(v.proof, device, fresh, input.envelope as string | Uint8Array)))
        throw new LedgerError('ERR_INVALID_ARGUMENT', 'msg.envelope and msg.device are not a message that Verify accepted on this ledger (msg.verified)');
      if (known) this.#forget(v.proof);
      if (!this.devices.active(device)) throw new LedgerError('ERR_REVOKED_DEVICE', `${device} was revoked after Verify accepted this message`, { device });
      // A JSON payload the flow left as it was: the body is that JSON (what signedBody would
      // compute from the envelope again: a JSON value is its own record body, -0 written as 0).
      if (known && signedJson) body = input.body;
      else {
        const json = known && input.body !== undefined ? issued.json : undefined;
        body = json !== undefined && JSON.stringify(input.body) === json ? (JSON.parse(json) as RecordInput['body']) : signedBody(input);
      }
      last = this.#recorded.get(device);
      if (!isNewer(fresh, last)) throw new LedgerError('ERR_REPLAY', `the ledger holds a message from ${device} as new as this one already`, { device });
      if (this.#pendingWrites >= this.#maxPendingWrites) {
        this.stats.shed++;
        throw new LedgerError('ERR_OVERLOADED', `${this.#pendingWrites} messages are waiting to be written; shed`, { device });
      }
    } catch (err) {
      return done(err as Error);
    }
    const next = mergeAccepted(last, fresh);
    this.#recorded.set(device, next);
    this.#pendingWrites++;
    this.#recordThen({ ...input, body }, (err, receipt) => {
      this.#pendingWrites--;
      if (err && this.#recorded.get(device) === next) {
        if (last) this.#recorded.set(device, last);
        else this.#recorded.delete(device);
      }
      done(err, receipt);
    });
  }

  #proof(device: string, f: Freshness, envelope: string | Uint8Array): Buffer {
    return createHmac('sha256', this.#proofKey)
      .update(`${device}\n${f.counter ?? ''}\n${f.time ?? ''}\n`)
      .update(envelope)
      .digest();
  }

  #proofMatches(proof: string, device: string, f: Freshness, envelope: string | Uint8Array): boolean {
    const given = Buffer.from(proof, 'base64url');
    const want = this.#proof(device, f, envelope);
    return given.length === want.length && timingSafeEqual(given, want);
  }

  /**
   * Appends records together, all or none in one synced write (a crash cannot keep some of
   * them), then applies them to the derived state in order.
   */
  async recordMany(inputs: RecordInput[]): Promise<Receipt[]> {
    const receipts = await this.ledger.appendMany(inputs);
    for (const [i, input] of inputs.entries()) {
      const receipt = receipts[i]!; // appendMany resolves with one receipt per input, in order
      this.stats.appended++;
      this.devices.apply(input.type, input.body, receipt.index);
      this.recentSecurity.appended(receipt, input);
      this.registeredVersions.appended(receipt, input);
      this.emit('record', receipt, input);
    }
    return receipts;
  }

  /**
   * Enrols a device with a device.enrol record (again: a new name or meta, or a revoked device
   * made active). Enrolling a device again exactly as it stands (enrolled and not revoked, not
   * trusted on first use, the same name and the same meta as the registry holds them: enrolsAs)
   * writes nothing (a reason given again included) and answers the receipt of the record that
   * enrolled it, with `unchanged: true`. Enrolments and revocations of one device run one after
   * the other, so two identical enrolments at once write one record.
   */
  async enrol(request: unknown): Promise<UnchangedReceipt> {
    const body = enrolBody(request);
    return this.#changeDevice(body.did, async () => {
      const device = this.devices.get(body.did);
      if (device && enrolsAs(device, body)) return { ...(await this.receiptOf(device.enrolledAt)), unchanged: true };
      return this.record({ type: ENROL, device: body.did, body: body as unknown as RecordInput['body'] });
    });
  }

  /**
   * Revokes an enrolled device with a device.revoke record. A device revoked already is left as
   * it is: nothing is written (a reason given again included), and the answer is the receipt of
   * the record that revoked it, with `unchanged: true`. Enrolments and revocations of one device
   * run one after the other, so two revocations at once write one record. Throws
   * ERR_UNKNOWN_DEVICE for a device never enrolled.
   */
  async revoke(request: unknown): Promise<UnchangedReceipt> {
    // Meta is no part of a revocation: what the request says there is not checked as a record (enrolBody).
    const body: EnrolBody = enrolBody(request, { revoke: true });
    return this.#changeDevice(body.did, async () => {
      const device = this.devices.get(body.did);
      if (!device) throw new LedgerError('ERR_UNKNOWN_DEVICE', `cannot revoke ${body.did}: it is not enrolled`);
      if (device.revokedAt !== undefined) return { ...(await this.receiptOf(device.revokedAt)), unchanged: true };
      return this.record({ type: REVOKE, device: body.did, body: { did: body.did, reason: body.reason ?? 'revoked' } });
    });
  }

  /** Runs `change` of device `did` after the enrolments and revocations of it before (each sees the registry the one before left). */
  async #changeDevice(did: string, change: () => Promise<UnchangedReceipt>): Promise<UnchangedReceipt> {
    const before = this.#changing.get(did);
    const run = (before ?? Promise.resolve()).catch(() => undefined).then(change);
    this.#changing.set(did, run);
    try {
      return await run;
    } finally {
      if (this.#changing.get(did) === run) this.#changing.delete(did);
    }
  }

  /** Enrolments and revocations being written, per device (#changeDevice runs them one after the other). */
  readonly #changing = new Map<string, Promise<unknown>>();

  /** The receipt of a record on the ledger, as its append gave it: index, leaf hash, time and the block that holds (or will hold) it. */
  async receiptOf(index: number): Promise<Receipt> {
    const stored = await this.ledger.get(index);
    const block = await this.ledger.blockOf(index);
    return { index, leafHash: Buffer.from(stored.leafHash).toString('hex'), time: stored.record.time, block: block ? block.height : this.ledger.height };
  }

  /**
   * Verifies a device message. On success the device's freshness is accepted at once (so a
   * duplicate arriving right behind it is a replay); a trust-on-first-use device is recorded.
   */
  verify(input: unknown, opts: VerifyMessageOptions = {}): Promise<GatewayVerified> {
    return new Promise((resolve, reject) => this.verifyThen(input, opts, (err, v) => (err ? reject(err) : resolve(v as GatewayVerified))));
  }

  /**
   * verify() with a callback, called exactly once (synchronously when the message is refused
   * or shed at once): what the Verify node uses, so that a message costs no promises.
   */
  verifyThen(input: unknown, opts: VerifyMessageOptions, done: (err: Error | null, v?: GatewayVerified) => void): void {
    let m: IdentifiedMessage;
    try {
      m = this.identify(input, opts);
      // Before any signature work: an admission of the gateway's TOFU allowance, or ERR_TOFU_LIMIT.
      if (m.tofu) this.#reserveTofu(m.device.did);
    } catch (err) {
      return done(err as Error);
    }
    this.#checkIdentified(m, opts, m.tofu, done);
  }

  /**
   * Asks for TOFU limits on this gateway (a Verify node with TOFU on, for as long as it runs):
   * the allowance is the gateway's, and the strictest limits of all claims held apply to every
   * verify() (lib/gateway/tofu-claims.ts). `given` is resolved over GatewayLimits.tofu; throws
   * ERR_INVALID_ARGUMENT for a limit that is no positive integer.
   */
  claimTofuLimits(given?: TofuLimits, onChange?: TofuClaimListener): TofuClaim {
    return this.#tofuClaims.claim(given, onChange);
  }

  /** The TOFU limits applied now: the strictest claimed, or GatewayLimits.tofu without a claim. */
  get tofuLimits(): ResolvedTofuLimits {
    return this.#tofuClaims.applied;
  }

  #reserveTofu(did: string): void {
    try {
      withoutStack(() => this.#tofu.reserve(did, this.devices.activeTofuCount, this.#now()));
    } catch (err) {
      this.stats.rejected++;
      throw err;
    }
  }

  /**
   * The first, synchronous step of verify(): who claims to have signed, refused at once (throws)
   * when malformed, too large, unknown or revoked, before any signature work.
   */
  identify(input: unknown, opts: VerifyMessageOptions = {}): IdentifiedMessage {
    try {
      return withoutStack(() => identifySigner(input, this.devices, opts));
    } catch (err) {
      this.stats.rejected++;
      throw err;
    }
  }

  /**
   * The rest of verify(): the signature (on the pool's thread), then freshness, in arrival order.
   * `reserved`: the message holds a TOFU admission (reserveTofu), spent or released here.
   */
  #checkIdentified(m: IdentifiedMessage, opts: VerifyMessageOptions, reserved: boolean, done: (err: Error | null, v?: GatewayVerified) => void): void {
    this.#signatures.check(m.envelope, m.device.did, !m.tofu, (err, signed) => {
      let v: VerifiedMessage;
      try {
        if (err) throw m.tofu ? err : withDevice(err, m.device.did);
        // The registry may have changed while the signature was checked: a revocation holds,
        // and a device trusted on first use meanwhile (or enrolled) is not trusted again.
        const now = this.devices.get(m.device.did);
        if (now?.revokedAt !== undefined)
          throw new LedgerError('ERR_REVOKED_DEVICE', `device ${now.name} (${now.did}) was revoked at record #${now.revokedAt}`, { device: now.did });
        if (m.tofu && now) m = { ...m, device: now, tofu: false };
        v = withoutStack(() => acceptSigned(m, signed as VerifiedEnvelope, this.devices, opts));
      } catch (e) {
        if (reserved) this.#tofu.release(m.device.did);
        this.stats.rejected++;
        if (isLedgerError(e, 'ERR_OVERLOADED')) this.stats.shed++;
        return done(e as Error);
      }
      this.devices.accept(v.device.did, v.freshness);
      if (!v.tofu) {
        // Trusted on first use (or enrolled) meanwhile: this message admits no device.
        if (reserved) this.#tofu.release(m.device.did);
        return done(null, this.#issue(v));
      }
      const accepted = v;
      const did = v.device.did;
      const writing = this.#tofuWriting.get(did);
      if (writing) {
        // Its device.tofu record is being written for an earlier message (their signature checks
        // came back together): one record and one admission per device; this one follows it.
        writing.push((e) => {
          if (reserved) this.#tofu.release(did);
          if (e) return done(e);
          done(null, this.#issue({ ...accepted, device: this.devices.get(did) ?? accepted.device, tofu: false }));
        });
        return;
      }
      this.#tofuWriting.set(did, []);
      this.#recordThen({ type: TOFU, device: did, body: { did, name: v.device.name, reason: 'trust on first use' } }, (e) => {
        const followers = this.#tofuWriting.get(did) ?? [];
        this.#tofuWriting.delete(did);
        if (e) {
          // As if its messages never came (all of them fail with this write's error): no admission
          // spent, no freshness left behind, so a later message (the first one resent included) can
          // enrol it, and failing writes cannot pile up entries for keys never enrolled.
          if (reserved) this.#tofu.release(did);
          this.devices.forgetUnenrolled(did);
          done(e);
        } else {
          // Spent only now, with the device.tofu record on the ledger and counted by the registry.
          if (reserved) this.#tofu.spend(did, this.#now());
          accepted.device = this.devices.get(did) ?? accepted.device;
          done(null, this.#issue(accepted));
        }
        for (const f of followers) f(e);
      });
    });
  }

  /** A proof for an accepted message, remembered for recordMessage(). */
  #issue(v: VerifiedMessage): GatewayVerified {
    this.stats.verified++;
    const proof = this.#proof(v.device.did, v.freshness, v.envelope).toString('base64url');
    const json = v.payloadIsJson ? JSON.stringify(v.payload) : undefined;
    const size = v.envelope.length + (json?.length ?? 0);
    while (this.#issued.size > 0 && (this.#issued.size >= MAX_ISSUED || this.#issuedSize + size > MAX_ISSUED_SIZE)) this.#forget(this.#issued.keys().next().value as string);
    this.#issued.set(proof, { device: v.device.did, freshness: v.freshness, envelope: v.envelope, json, size });
    this.#issuedSize += size;
    // acceptSigned made `v` for this message alone: completed in place rather than copied.
    const out = v as GatewayVerified;
    out.proof = proof;
    return out;
  }

  #forget(proof: string): void {
    const issued = this.#issued.get(proof);
    if (!issued) return;
    this.#issued.delete(proof);
    this.#issuedSize -= issued.size;
  }

  /**
   * Notes a rejected message as a security event (without its payload, which is untrusted).
   * The first of its (device or topic, code) in an interval is written at once (and awaited);
   * the rest are aggregated into one record per interval (lib/gateway/security-log.ts).
   */
  async securityEvent(err: unknown, context: { device?: unknown; topic?: unknown; source?: unknown } = {}): Promise<void> {
    await this.noteSecurityEvent(err, context);
  }

  /** securityEvent() without a promise when nothing is written now (the common case in a flood). */
  noteSecurityEvent(err: unknown, context: { device?: unknown; topic?: unknown; source?: unknown } = {}): Promise<void> | undefined {
    const code = isLedgerError(err) ? err.code : 'ERR_UNKNOWN';
    const detail = (err instanceof Error ? err.message : String(err)).slice(0, 500);
    const text = (v: unknown): string | undefined => (typeof v === 'string' ? v.slice(0, 200) : undefined);
    const device = typeof context.device === 'string' && context.device.startsWith('did:key:') ? context.device : undefined;
    this.stats.security[code] = (this.stats.security[code] ?? 0) + 1;
    const now = Date.now();
    const entry = this.#security.note(code, detail, { device, topic: text(context.topic), source: text(context.source) }, now);
    return entry ? this.record(securityRecord(entry)).then(() => undefined) : undefined;
  }

  /** Writes the pending security aggregates now (the interval timer and close() call this). */
  async flushSecurityEvents(): Promise<void> {
    const entries = this.#security.take(Date.now());
    if (entries.length > 0 && !this.ledger.closed) await this.recordMany(entries.map(securityRecord));
  }

  /** Writes security records aggregated elsewhere (the firmware log's refusal limit), unless the ledger is closed. */
  async recordSecurityEntries(entries: readonly SecurityEntry[]): Promise<void> {
    if (entries.length > 0 && !this.ledger.closed) await this.recordMany(entries.map(securityRecord));
  }

  /** Signature checks waiting, records waiting to be written, accepted messages kept for Record (count, size) (for status and tests). */
  get backlog(): { signatures: number; writes: number; remembered: number; rememberedSize: number } {
    return { signatures: this.#signatures.waiting, writes: this.#pendingWrites, remembered: this.#issued.size, rememberedSize: this.#issuedSize };
  }

  /** The ledger's firmware log, shared by every Firmware node on this gateway. */
  firmware(): Promise<FirmwareRunner> {
    this.#firmware ??= FirmwareRunner.load(this);
    return this.#firmware;
  }

  /**
   * A proof bundle of record `index` (its block's checkpoint with the witnesses' cosignatures,
   * where they cosigned one): what a Query node answers, to whoever can send it messages. A record
   * not in a block yet waits for one: sealed at once, but at most once per proofSealMs for all
   * such requests together (PacedSeal), so that requests cannot seal a block each.
   */
  async proofBundle(index: number): Promise<ProofBundle> {
    if (Number.isSafeInteger(index) && index >= 0 && index < this.ledger.size) await this.#proofSeals.sealed(index);
    return cosignedProofBundle(this.ledger, index);
  }

  async close(): Promise<void> {
    this.#proofSeals.close();
    clearInterval(this.#securityTimer);
    await this.#signatures.close();
    await this.flushSecurityEvents().catch(() => undefined);
    if (this.#firmware) await this.#firmware.then((fw) => fw.close()).catch(() => undefined);
    await this.ledger.close();
    this.emit('close');
  }
}

function securityRecord(e: SecurityEntry): RecordInput {
  const body = toRecordBody(e.body);
  return e.device ? { type: SECURITY, device: e.device, body } : { type: SECURITY, body };
}

/**
 * The body of a record carrying a device message: exactly what the signed payload decodes to
 * (bodyFromPayload), which the audit requires. A body the flow changed after Verify is refused
 * (ERR_INVALID_ARGUMENT) rather than recorded beside a signature it does not match.
 */
function signedBody(input: RecordInput): RecordInput['body'] {
  const decoded = decodePayload(envelopePayload(input.envelope as string | Uint8Array));
  const body = bodyFromDecoded(decoded);
  if (input.body !== undefined && !sameBody(input.body, toRecordBody(decoded)))
    throw new LedgerError(
      'ERR_INVALID_ARGUMENT',
      'msg.payload is not the payload the device signed: a record with the device envelope holds exactly what was signed (delete msg.envelope and msg.verified to record changed data unsigned)',
      input.device ? { device: input.device } : undefined,
    );
  return body;
}

/**
 * Types whose envelope is not a device message accepted by verify(): rejected evidence, a
 * party's contract signature, and the firmware log's vendor manifests and device reports
 * (those keep their own replay state). Every other record with a device envelope is one.
 */
const NOT_VERIFIED_MESSAGES: ReadonlySet<string> = new Set([SECURITY, 'contract.sign', 'firmware.release', 'firmware.report']);

/** The counter/time a record shows its device had reached, when it is an accepted device message. */
function acceptedFreshness(record: StoredRecord['record'], did: string): Freshness | undefined {
  if (NOT_VERIFIED_MESSAGES.has(record.type)) return undefined;
  if (record.envelope !== undefined) {
    // What the device signed, whatever the flow recorded as the body (and whatever the record type).
    try {
      return freshnessOf(decodePayload(verifyEnvelope(record.envelope, did).payload));
    } catch {
      return undefined;
    }
  }
  return record.type === 'reading' ? freshnessOf(record.body) : undefined;
}

/** Rebuilds enrolment from the device records and each device's last accepted counter/time. */
export async function loadDevices(ledger: Ledger): Promise<DeviceRegistry> {
  const events: { index: number; type: string; body: unknown }[] = [];
  for (const type of DEVICE_RECORD_TYPES) {
    for await (const r of ledger.byType(type)) events.push({ index: r.index, type, body: r.record.body });
  }
  events.sort((a, b) => a.index - b.index);
  const devices = new DeviceRegistry();
  for (const e of events) devices.apply(e.type, e.body, e.index);
  for (const d of devices.list()) {
    for await (const r of ledger.byDevice(d.did, { reverse: true })) {
      const fresh = acceptedFreshness(r.record, d.did);
      if (!fresh) continue;
      devices.accept(d.did, fresh);
      break;
    }
  }
  return devices;
}
