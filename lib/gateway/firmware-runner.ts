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
import type { Ledger, Receipt, RecordInput } from '../ledger';
import { toRecordBody } from '../envelope/payload';
import type { Gateway } from './gateway';

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
  decision: 'approved' | 'rejected' | 'recorded';
  reason?: string;
  message?: string;
  body: Record<string, unknown>;
  receipt: Receipt;
}

/** Replays firmware records (merged from the type indexes, in ledger order) into a state. */
export async function loadFirmwareState(ledger: Ledger): Promise<FirmwareState> {
  const records: { index: number; time: number; type: string; body: unknown }[] = [];
  for (const type of FIRMWARE_RECORD_TYPES) {
    for await (const r of ledger.byType(type)) records.push({ index: r.index, time: r.record.time, type, body: r.record.body });
  }
  records.sort((a, b) => a.index - b.index);
  const state = new FirmwareState();
  for (const r of records) state.apply(r.type, r.body, r.index, r.time);
  return state;
}

export class FirmwareRunner {
  private constructor(
    readonly gateway: Gateway,
    readonly state: FirmwareState,
  ) {}

  static async load(gateway: Gateway): Promise<FirmwareRunner> {
    return new FirmwareRunner(gateway, await loadFirmwareState(gateway.ledger));
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
    device?: string,
    unrecorded: readonly RejectionReason[] = [],
  ): Promise<FirmwareOutcome> {
    const next = this.#queue.then(() => this.#decideNow(check, accepted, context, device, unrecorded));
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async #decideNow(
    check: () => Record<string, unknown>,
    accepted: (body: Record<string, unknown>) => RecordInput,
    context: Parameters<typeof rejectionBody>[1],
    device: string | undefined,
    unrecorded: readonly RejectionReason[],
  ): Promise<FirmwareOutcome> {
    let body: Record<string, unknown>;
    try {
      body = check();
    } catch (err) {
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
    const input = accepted(body);
    const receipt = await this.append(input);
    const decision = input.type === FIRMWARE_DECISION ? 'approved' : 'recorded';
    return { decision, body, receipt };
  }

  trustVendor(vendor: string, did: string, action: 'trust' | 'revoke' = 'trust'): Promise<FirmwareOutcome> {
    return this.decide(
      () => checkVendor(this.state, { vendor, did, action }) as unknown as Record<string, unknown>,
      (body) => ({ type: FIRMWARE_VENDOR, body: toRecordBody(body) }),
      { subject: 'vendor', vendor },
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
    );
  }

  checkUpdate(request: UpdateRequest, image?: { digest: string; size: number }, now = Date.now()): Promise<FirmwareOutcome> {
    return this.decide(
      () => checkUpdate(this.state, request, { now, isEnrolled: this.isEnrolled, ...(image ? { image } : {}) }) as unknown as Record<string, unknown>,
      (body) => ({ type: FIRMWARE_DECISION, device: request.device, body: toRecordBody(body) }),
      { subject: 'update', device: request.device },
      request.device,
    );
  }

  report(received: Envelope, device: string, now = Date.now()): Promise<FirmwareOutcome> {
    let envelope: Envelope;
    try {
      envelope = storedEnvelope(received);
    } catch {
      envelope = received; // refused by checkReport below, and recorded as a rejection
    }
    return this.decide(
      () => checkReport(this.state, envelope, device, { now, isEnrolled: this.isEnrolled }) as unknown as Record<string, unknown>,
      (body) => ({
        type: FIRMWARE_REPORT,
        device,
        body: toRecordBody(body),
        envelope,
      }),
      { subject: 'report', device },
      device,
      UNAUTHENTICATED_REPORT,
    );
  }
}
