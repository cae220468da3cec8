// The firmware log of a ledger: state rebuilt from firmware records, every decision recorded.
import { storedEnvelope } from '../envelope/envelope';
import {
  FIRMWARE_RECORD_TYPES,
  FirmwareState,
  checkRelease,
  checkReport,
  checkUpdate,
  checkVendor,
  isFirmwareRejection,
  rejectionBody,
  rejectionReason,
  type Envelope,
  type RejectionReason,
  type UpdateRequest,
} from '../firmware';
import type { ReleaseBody, ReportBody, VendorBody } from '../firmware/state';
import { LedgerError, isLedgerError } from '../errors';
import type { Ledger, Receipt, RecordInput } from '../ledger';
import { toRecordBody } from '../envelope/payload';
import type { Gateway } from './gateway';
import { FIRMWARE_REFUSAL_LIMIT, RefusalLimit } from './refusal-limit';

export const FIRMWARE_VENDOR = 'firmware.vendor';
export const FIRMWARE_RELEASE = 'firmware.release';
export const FIRMWARE_DECISION = 'firmware.decision';
export const FIRMWARE_REPORT = 'firmware.report';

/**
 * Report refusals anyone who can publish on the report topic can cause without the device's
 * key (garbage, a made-up or foreign device, a report sent again): security events,
 * aggregated, instead of a firmware.decision record each.
 */
const UNAUTHENTICATED_REPORT: readonly RejectionReason[] = ['malformed', 'unenrolled-device', 'bad-signature', 'replay'];

export interface FirmwareOutcome {
  /**
   * `unchanged`: a release registered again with the very manifest envelope it was registered
   * with, or a vendor key trusted (revoked) again that is trusted (revoked) already, which passed
   * every check and would change nothing: not recorded again; `body` and `receipt` are those of
   * the record that registered the release or gave the key its standing.
   */
  decision: 'approved' | 'rejected' | 'recorded' | 'unchanged';
  reason?: string;
  message?: string;
  body: Record<string, unknown>;
  receipt: Receipt;
}

interface FirmwareRecord {
  index: number;
  time: number;
  type: string;
  body: unknown;
}

/** The firmware records (merged from the type indexes), in ledger order. */
async function readFirmwareRecords(ledger: Ledger): Promise<FirmwareRecord[]> {
  const records: FirmwareRecord[] = [];
  for (const type of FIRMWARE_RECORD_TYPES) {
    for await (const r of ledger.byType(type)) records.push({ index: r.index, time: r.record.time, type, body: r.record.body });
  }
  return records.sort((a, b) => a.index - b.index);
}

function replay(records: readonly FirmwareRecord[]): FirmwareState {
  const state = new FirmwareState();
  for (const r of records) state.apply(r.type, r.body, r.index, r.time);
  return state;
}

/** Replays firmware records (merged from the type indexes, in ledger order) into a state. */
export async function loadFirmwareState(ledger: Ledger): Promise<FirmwareState> {
  return replay(await readFirmwareRecords(ledger));
}

/** Options of one firmware operation (see FirmwareRunner.decide). */
interface DecideOptions {
  device?: string;
  /** Rejections counted as security events instead of recorded as a decision each. */
  unrecorded?: readonly RejectionReason[];
  /** Called once the accepted record is on the ledger. */
  onRecorded?: () => void;
  /** The index of the record that holds what the accepted body would record already (then nothing is written), if any. */
  recordedAlready?: (body: Record<string, unknown>) => number | undefined;
  /** Called, and awaited, for a report the refusal limit keeps off the ledger (ERR_FIRMWARE_REFUSAL_LIMIT, thrown on). */
  onLimited?: (err: LedgerError) => Promise<void> | undefined;
}

/** Whether a report says the device runs what it last confirmed by a report (then recording it changes no firmware state). */
function runsWhatItReported(state: FirmwareState, body: ReportBody): boolean {
  const running = state.device(body.device)?.running;
  return running !== undefined && running.class === body.class && running.sequence === body.sequence && running.digest === body.digest;
}

export class FirmwareRunner {
  /** What refusal reports may add to the ledger (lib/gateway/refusal-limit.ts). */
  readonly refusals: RefusalLimit;
  readonly #refusalTimer: NodeJS.Timeout;

  private constructor(
    readonly gateway: Gateway,
    readonly state: FirmwareState,
  ) {
    this.refusals = new RefusalLimit(gateway.limits.firmware);
    this.#refusalTimer = setInterval(() => void this.flushRefusalEvents().catch(() => undefined), this.refusals.windowMs);
    this.#refusalTimer.unref();
  }

  static async load(gateway: Gateway): Promise<FirmwareRunner> {
    const records = await readFirmwareRecords(gateway.ledger);
    const runner = new FirmwareRunner(gateway, replay(records));
    // The refusals already recorded count again after a restart: each digest once, the window's number.
    for (const r of records) {
      const b = r.type === FIRMWARE_REPORT ? (r.body as Partial<ReportBody>) : undefined;
      if (b && typeof b.device === 'string' && typeof b.refused?.digest === 'string') runner.refusals.recorded(b.device, b.refused.digest, r.time);
    }
    return runner;
  }

  /** Writes the refusal reports not recorded, counted since the last window, as security records (a timer does, every window). */
  async flushRefusalEvents(now = Date.now()): Promise<void> {
    await this.gateway.recordSecurityEntries(this.refusals.take(now));
  }

  /** Stops the window timer and writes what is pending (Gateway.close() calls it before closing the ledger). */
  async close(): Promise<void> {
    clearInterval(this.#refusalTimer);
    await this.flushRefusalEvents();
  }

  private readonly isEnrolled = (did: string): boolean => this.gateway.devices.active(did);

  private async append(input: RecordInput): Promise<Receipt> {
    const receipt = await this.gateway.record(input);
    this.state.apply(input.type, input.body, receipt.index, receipt.time);
    return receipt;
  }

  /** Decisions one at a time: each is checked against the state that every record before it on the ledger made. */
  #queue: Promise<unknown> = Promise.resolve();

  /** Runs a check; records its body when it passes, or a rejected decision with the reason when it fails. */
  private decide(
    check: () => Record<string, unknown>,
    accepted: (body: Record<string, unknown>) => RecordInput,
    context: Parameters<typeof rejectionBody>[1],
    opts: DecideOptions = {},
  ): Promise<FirmwareOutcome> {
    const next = this.#queue.then(() => this.#decideNow(check, accepted, context, opts));
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async #decideNow(
    check: () => Record<string, unknown>,
    accepted: (body: Record<string, unknown>) => RecordInput,
    context: Parameters<typeof rejectionBody>[1],
    { device, unrecorded = [], onRecorded, onLimited, recordedAlready }: DecideOptions,
  ): Promise<FirmwareOutcome> {
    let body: Record<string, unknown>;
    try {
      body = check();
    } catch (err) {
      if (isLedgerError(err, FIRMWARE_REFUSAL_LIMIT)) {
        await onLimited?.(err);
        throw err;
      }
      if (unrecorded.some((reason) => isFirmwareRejection(err, reason))) {
        // Keyed by the device only when it is enrolled (docs/FORMAT.md, "Security records").
        const known = device !== undefined && this.gateway.devices.get(device) !== undefined;
        await this.gateway.noteSecurityEvent(err, { device: known ? device : undefined, source: 'firmware' });
        throw err;
      }
      const rejected = toRecordBody(rejectionBody(err, context)) as Record<string, unknown>;
      const receipt = await this.append({ type: FIRMWARE_DECISION, ...(device ? { device } : {}), body: rejected as RecordInput['body'] });
      return { decision: 'rejected', reason: rejectionReason(err) ?? 'error', message: (err as Error).message, body: rejected, receipt };
    }
    const already = recordedAlready?.(body);
    if (already !== undefined) {
      const receipt = await this.gateway.receiptOf(already);
      const recorded = (await this.gateway.ledger.get(already)).record.body as Record<string, unknown>;
      return { decision: 'unchanged', message: `on the ledger already: record ${already}`, body: recorded, receipt };
    }
    const input = accepted(body);
    const receipt = await this.append(input);
    onRecorded?.();
    const decision = input.type === FIRMWARE_DECISION ? 'approved' : 'recorded';
    return { decision, body, receipt };
  }

  /**
   * Trusts or revokes a vendor key with a firmware.vendor record. A key that stands so already
   * (trusted again, revoked again) passes the same checks and then writes nothing: decision
   * "unchanged" with the receipt and body of the record that gave it its standing. Revoking a key
   * never trusted is recorded (it cannot be trusted afterwards); trusting a revoked key is a
   * recorded rejection, as before.
   */
  trustVendor(vendor: string, did: string, action: 'trust' | 'revoke' = 'trust'): Promise<FirmwareOutcome> {
    return this.decide(
      () => checkVendor(this.state, { vendor, did, action }) as unknown as Record<string, unknown>,
      (body) => ({ type: FIRMWARE_VENDOR, body: toRecordBody(body) }),
      { subject: 'vendor', vendor },
      {
        // The same key action again (a retained MQTT message, a flow that trusts on every start).
        recordedAlready: (body) => {
          const b = body as unknown as VendorBody;
          const stands = b.action === 'trust' ? this.state.isTrusted(b.vendor, b.did) : this.state.isRevoked(b.vendor, b.did);
          return stands ? this.state.vendorKeyRecord(b.vendor, b.did)?.index : undefined;
        },
      },
    );
  }

  registerRelease(received: Envelope, now = Date.now()): Promise<FirmwareOutcome> {
    let manifest: Envelope;
    try {
      manifest = storedEnvelope(received);
    } catch {
      manifest = received; // refused by checkRelease below, and recorded as a rejection
    }
    return this.decide(
      () => checkRelease(this.state, manifest, now) as unknown as Record<string, unknown>,
      (body) => ({
        type: FIRMWARE_RELEASE,
        body: toRecordBody(body),
        envelope: manifest,
      }),
      { subject: 'release' },
      {
        // The same manifest envelope again (a retained MQTT message, a flow that registers on
        // every start): the release it registered stands, signer and expiry included.
        recordedAlready: (body) => {
          const b = body as unknown as ReleaseBody;
          const existing = this.state.release(b.manifest.vendor, b.manifest.class, b.manifest.sequence);
          return existing?.envelopeDigest === b.envelopeDigest ? existing.registered.index : undefined;
        },
      },
    );
  }

  checkUpdate(request: UpdateRequest, image?: { digest: string; size: number }, now = Date.now()): Promise<FirmwareOutcome> {
    return this.decide(
      () => checkUpdate(this.state, request, { now, isEnrolled: this.isEnrolled, ...(image ? { image } : {}) }) as unknown as Record<string, unknown>,
      (body) => ({ type: FIRMWARE_DECISION, device: request.device, body: toRecordBody(body) }),
      { subject: 'update', device: request.device },
      { device: request.device },
    );
  }

  /**
   * Records a device's signed report. A report of a refused offer (`refused`) that says nothing
   * new about what the device runs is recorded only when the device has not had a refusal of
   * that digest recorded and is below its refusals per window; otherwise it is counted in an
   * aggregated security record (ERR_FIRMWARE_REFUSAL_LIMIT, thrown to the caller). `received`
   * is what arrived: anything but a JWS string or COSE bytes is a malformed report.
   */
  report(received: unknown, device: string, now = Date.now()): Promise<FirmwareOutcome> {
    let envelope: Envelope;
    try {
      envelope = storedEnvelope(received);
    } catch {
      // Not an envelope (anything a publisher sends, JSON that an MQTT in node parsed too): refused
      // by checkReport below as malformed, and counted in the security records.
      envelope = received as Envelope;
    }
    let refusal: { device: string; digest: string } | undefined;
    return this.decide(
      () => {
        const body = checkReport(this.state, envelope, device, { now, isEnrolled: this.isEnrolled });
        refusal = undefined;
        if (body.refused !== undefined) {
          const verdict = this.refusals.check(body.device, body.refused.digest, now);
          if (verdict !== 'record' && runsWhatItReported(this.state, body)) {
            const why =
              verdict === 'repeated'
                ? `a refusal of ${body.refused.digest} by ${body.device} is on the ledger already`
                : `device ${body.device} had ${this.refusals.perWindow} refusals recorded within ${this.refusals.windowMs} ms`;
            throw new LedgerError(FIRMWARE_REFUSAL_LIMIT, `refusal report not recorded: ${why}`, {
              device: body.device,
              digest: body.refused.digest,
              limit: verdict,
            });
          }
          refusal = { device: body.device, digest: body.refused.digest };
        }
        return body as unknown as Record<string, unknown>;
      },
      (body) => ({
        type: FIRMWARE_REPORT,
        device,
        body: toRecordBody(body),
        envelope,
      }),
      { subject: 'report', device },
      {
        device,
        unrecorded: UNAUTHENTICATED_REPORT,
        onRecorded: () => {
          if (refusal) this.refusals.recorded(refusal.device, refusal.digest, now);
        },
        onLimited: (err) => {
          const counted = this.gateway.stats.security;
          counted[FIRMWARE_REFUSAL_LIMIT] = (counted[FIRMWARE_REFUSAL_LIMIT] ?? 0) + 1;
          const { entry, due } = this.refusals.note(String(err.details?.device), err.message, now);
          return this.gateway.recordSecurityEntries(entry ? [...due, entry] : due);
        },
      },
    );
  }
}
