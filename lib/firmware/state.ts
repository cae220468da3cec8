// Firmware state derived from ledger records alone: vendor keys, registered releases, and per
// device what it runs since when and who approved it. `apply` follows the records mechanically
// and never judges them; the rules (rules.ts) decide what may be written, and the audit
// (recheck.ts) replays those rules over the state as it stood before each record.
import { LedgerError } from '../errors';
import { HEX_DIGEST } from './payload';
import { parseManifest, type Manifest } from './manifest';
import { parseRefusal, type Refusal } from './report';

export const FIRMWARE_RECORD_TYPES = ['firmware.vendor', 'firmware.release', 'firmware.decision', 'firmware.report'] as const;
export type FirmwareRecordType = (typeof FIRMWARE_RECORD_TYPES)[number];

/** Where something happened: the record's index (leaf position) and gateway time (ms). */
export interface RecordRef {
  index: number;
  time: number;
}

// ---- record bodies -------------------------------------------------------------------------

/** Body of 'firmware.vendor': trust or revoke one vendor key. */
export interface VendorBody {
  vendor: string;
  did: string;
  action: 'trust' | 'revoke';
}

/** Body of 'firmware.release' (the manifest envelope itself goes in the record's `envelope`). */
export interface ReleaseBody {
  manifest: Manifest;
  /** did:key of the vendor key that signed the manifest. */
  signer: string;
  /** Hex SHA-256 of the manifest envelope bytes (JWS as UTF-8 text, COSE as is). */
  envelopeDigest: string;
  /** Check time (ms) the rules ran at; expiry was judged against it. */
  at: number;
}

/** Body of an approving 'firmware.decision'. */
export interface ApprovedDecisionBody {
  decision: 'approved';
  subject: 'update';
  device: string;
  vendor: string;
  class: string;
  sequence: number;
  version: string;
  digest: string;
  size: number;
  /** did:key of the vendor key that signed the manifest. */
  signer: string;
  /** Index of the 'firmware.release' record of this release. */
  release: number;
  /** Check time (ms) the rules ran at; expiry was judged against it. */
  at: number;
  /** What the device had installed before, if known. */
  from?: { sequence: number; digest: string };
  /** Who asked for the update (operator, flow, gateway id), when the caller says. */
  approver?: string;
  /** Device class the caller asserted, when given. */
  deviceClass?: string;
  deviceVendor?: string;
  /** The image that was checked against the manifest, when given. */
  image?: { digest: string; size: number };
}

/** Body of a refusing 'firmware.decision' (see rejectionBody). */
export interface RejectedDecisionBody {
  decision: 'rejected';
  subject: 'update' | 'release' | 'report' | 'vendor';
  reason: string;
  message: string;
  device?: string;
  vendor?: string;
  class?: string;
  sequence?: number;
  digest?: string;
  signer?: string;
  at?: number;
  /** A refused report's counter and ts (its signature verified): they advance the device's, like a recorded report's. */
  counter?: number;
  ts?: number;
}

export type DecisionBody = ApprovedDecisionBody | RejectedDecisionBody;

/**
 * What a report says about the device, relative to the state before it:
 * 'confirmed' the device runs what it was last approved / last reported;
 * 'pending' an update was approved but the device still runs what it ran before;
 * 'initial' the first report of the device, of a registered release;
 * 'unapproved' a registered release that was never approved for this device;
 * 'downgraded' a registered release below what the device had (a rollback happened);
 * 'unregistered' no release is registered for that class and sequence.
 */
export type ReportStatus = 'confirmed' | 'pending' | 'initial' | 'unapproved' | 'downgraded' | 'unregistered';
export const REPORT_STATUSES: readonly ReportStatus[] = ['confirmed', 'pending', 'initial', 'unapproved', 'downgraded', 'unregistered'];

/** Body of 'firmware.report' (the device's envelope goes in the record's `envelope`). */
export interface ReportBody {
  device: string;
  class: string;
  version: string;
  sequence: number;
  digest: string;
  status: ReportStatus;
  vendor?: string;
  counter?: number;
  ts?: number;
  /** Index of the matching 'firmware.release' record, when registered. */
  release?: number;
  /** An offer the device refused, as it signed it (see Report.refused). */
  refused?: Refusal;
}

// ---- derived state -------------------------------------------------------------------------

export interface Release {
  vendor: string;
  class: string;
  sequence: number;
  version: string;
  digest: string;
  size: number;
  manifest: Manifest;
  signer: string;
  envelopeDigest: string;
  /** The record that registered (or last re-registered) it. */
  registered: RecordRef;
}

export interface Approval extends RecordRef {
  vendor: string;
  /** Vendor key that signed the manifest. */
  signer: string;
  approver?: string;
}

/** One stretch of firmware on a device: from the record that put it there to the one that replaced it. */
export interface VersionSpan {
  vendor?: string;
  class: string;
  sequence: number;
  version: string;
  digest: string;
  from: RecordRef;
  to?: RecordRef;
  /** The approving decision for this release on this device, if any. */
  approvedBy?: Approval;
  /** First report by which the device confirmed running it. */
  confirmed?: RecordRef;
  /** Whether an approval or a device report started the span. */
  source: 'decision' | 'report';
}

export interface RejectionEntry {
  at: RecordRef;
  subject: string;
  reason: string;
  message?: string;
  device?: string;
  vendor?: string;
  class?: string;
  sequence?: number;
  digest?: string;
}

export interface DeviceFirmware {
  device: string;
  vendor?: string;
  class?: string;
  /** The latest span: what the device runs or was last approved to run. */
  current?: VersionSpan;
  /** The latest span the device confirmed by a report. */
  running?: VersionSpan;
  /** The most recent spans, oldest first (at most the state's `historyLimit`). */
  spans: VersionSpan[];
  /** Older spans no longer kept in `spans`. */
  spansOmitted: number;
  /** Highest sequence ever approved for, or reported (registered) by, the device; -1 if none. */
  floor: number;
  lastCounter?: number;
  lastTs?: number;
  lastReport?: RecordRef;
  reports: number;
  /** The most recent rejections naming the device, oldest first (at most the state's `historyLimit`). */
  rejections: RejectionEntry[];
  /** Older rejections no longer kept in `rejections`. */
  rejectionsOmitted: number;
}

export interface VendorKeyEvent extends RecordRef {
  did: string;
  action: 'trust' | 'revoke';
}

interface VendorState {
  trusted: Set<string>;
  revoked: Set<string>;
  /** Per key, the record that gave it its standing (the last firmware.vendor record naming it). */
  standing: Map<string, RecordRef>;
  events: VendorKeyEvent[];
  eventsOmitted: number;
}

interface Data {
  vendors: Map<string, VendorState>;
  releases: Map<string, Release>;
  /**
   * Vendors with a release registered for a class and sequence (key: classKey), in the order
   * their releases were first registered, which is the order of `releases` (a re-registration
   * replaces the release in place). releasesFor reads its matches here, not every release.
   */
  releasesByClass: Map<string, string[]>;
  devices: Map<string, DeviceFirmware & { approvals: Map<string, Approval> }>;
  rejections: RejectionEntry[];
  rejectionsOmitted: number;
  lastIndex: number;
}

// ---- body checks (shape only: apply follows records, it does not judge them) ---------------

function malformed(type: string, message: string): LedgerError {
  return new LedgerError('ERR_MALFORMED_RECORD', `${type} body: ${message}`, { type });
}

type Obj = Record<string, unknown>;

function obj(type: string, body: unknown): Obj {
  if (typeof body !== 'object' || body === null || Array.isArray(body) || body instanceof Uint8Array) throw malformed(type, 'must be a map');
  return body as Obj;
}
function str(type: string, o: Obj, k: string): string {
  const v = o[k];
  if (typeof v !== 'string' || v.length === 0) throw malformed(type, `"${k}" must be non-empty text`);
  return v;
}
function optStr(type: string, o: Obj, k: string): string | undefined {
  return o[k] === undefined ? undefined : str(type, o, k);
}
function int(type: string, o: Obj, k: string): number {
  let v = o[k];
  if (typeof v === 'bigint' && v >= 0n && v <= BigInt(Number.MAX_SAFE_INTEGER)) v = Number(v);
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw malformed(type, `"${k}" must be an integer >= 0`);
  return v;
}
function optInt(type: string, o: Obj, k: string): number | undefined {
  return o[k] === undefined ? undefined : int(type, o, k);
}
function hex(type: string, o: Obj, k: string): string {
  const v = str(type, o, k);
  if (!HEX_DIGEST.test(v)) throw malformed(type, `"${k}" must be a hex SHA-256 digest`);
  return v.toLowerCase();
}

export function parseVendorBody(body: unknown): VendorBody {
  const t = 'firmware.vendor';
  const o = obj(t, body);
  const action = o.action;
  if (action !== 'trust' && action !== 'revoke') throw malformed(t, '"action" must be "trust" or "revoke"');
  const did = str(t, o, 'did');
  if (!did.startsWith('did:key:z')) throw malformed(t, '"did" must be a did:key');
  return { vendor: str(t, o, 'vendor'), did, action };
}

export function parseReleaseBody(body: unknown): ReleaseBody {
  const t = 'firmware.release';
  const o = obj(t, body);
  let manifest: Manifest;
  try {
    // As recorded: a release an older gateway registered replays as it did then.
    manifest = parseManifest(obj(t, o.manifest));
  } catch (err) {
    throw malformed(t, `"manifest": ${(err as Error).message}`);
  }
  return { manifest, signer: str(t, o, 'signer'), envelopeDigest: hex(t, o, 'envelopeDigest'), at: int(t, o, 'at') };
}

export function parseDecisionBody(body: unknown): DecisionBody {
  const t = 'firmware.decision';
  const o = obj(t, body);
  if (o.decision === 'approved') {
    const d: ApprovedDecisionBody = {
      decision: 'approved',
      subject: 'update',
      device: str(t, o, 'device'),
      vendor: str(t, o, 'vendor'),
      class: str(t, o, 'class'),
      sequence: int(t, o, 'sequence'),
      version: str(t, o, 'version'),
      digest: hex(t, o, 'digest'),
      size: int(t, o, 'size'),
      signer: str(t, o, 'signer'),
      release: int(t, o, 'release'),
      at: int(t, o, 'at'),
    };
    if (o.subject !== undefined && o.subject !== 'update') throw malformed(t, 'an approval is for subject "update"');
    if (o.from !== undefined) {
      const f = obj(t, o.from);
      d.from = { sequence: int(t, f, 'sequence'), digest: hex(t, f, 'digest') };
    }
    const approver = optStr(t, o, 'approver');
    if (approver !== undefined) d.approver = approver;
    const deviceClass = optStr(t, o, 'deviceClass');
    if (deviceClass !== undefined) d.deviceClass = deviceClass;
    const deviceVendor = optStr(t, o, 'deviceVendor');
    if (deviceVendor !== undefined) d.deviceVendor = deviceVendor;
    if (o.image !== undefined) {
      const im = obj(t, o.image);
      d.image = { digest: hex(t, im, 'digest'), size: int(t, im, 'size') };
    }
    return d;
  }
  if (o.decision === 'rejected') {
    const subject = o.subject ?? 'update';
    if (subject !== 'update' && subject !== 'release' && subject !== 'report' && subject !== 'vendor')
      throw malformed(t, '"subject" must be update, release, report or vendor');
    const d: RejectedDecisionBody = { decision: 'rejected', subject, reason: str(t, o, 'reason'), message: typeof o.message === 'string' ? o.message : '' };
    for (const k of ['device', 'vendor', 'class', 'signer'] as const) {
      const v = optStr(t, o, k);
      if (v !== undefined) d[k] = v;
    }
    const seq = optInt(t, o, 'sequence');
    if (seq !== undefined) d.sequence = seq;
    if (o.digest !== undefined) d.digest = str(t, o, 'digest');
    const at = optInt(t, o, 'at');
    if (at !== undefined) d.at = at;
    for (const k of ['counter', 'ts'] as const) {
      const v = optInt(t, o, k);
      if (v !== undefined) d[k] = v;
    }
    return d;
  }
  throw malformed(t, '"decision" must be "approved" or "rejected"');
}

export function parseReportBody(body: unknown): ReportBody {
  const t = 'firmware.report';
  const o = obj(t, body);
  const status = o.status;
  if (typeof status !== 'string' || !(REPORT_STATUSES as readonly string[]).includes(status))
    throw malformed(t, `"status" must be one of ${REPORT_STATUSES.join(', ')}`);
  const r: ReportBody = {
    device: str(t, o, 'device'),
    class: str(t, o, 'class'),
    version: str(t, o, 'version'),
    sequence: int(t, o, 'sequence'),
    digest: hex(t, o, 'digest'),
    status: status as ReportStatus,
  };
  const vendor = optStr(t, o, 'vendor');
  if (vendor !== undefined) r.vendor = vendor;
  const counter = optInt(t, o, 'counter');
  if (counter !== undefined) r.counter = counter;
  const ts = optInt(t, o, 'ts');
  if (ts !== undefined) r.ts = ts;
  const release = optInt(t, o, 'release');
  if (release !== undefined) r.release = release;
  if (o.refused !== undefined) {
    try {
      r.refused = parseRefusal(o.refused);
    } catch (err) {
      throw malformed(t, (err as Error).message);
    }
  }
  return r;
}

// ---- the state -----------------------------------------------------------------------------

export function releaseKey(vendor: string, cls: string, sequence: number): string {
  return JSON.stringify([vendor, cls, sequence]);
}
function classKey(cls: string, sequence: number): string {
  return JSON.stringify([cls, sequence]);
}
function approvalKey(cls: string, sequence: number, digest: string): string {
  return JSON.stringify([cls, sequence, digest]);
}
function sameFirmware(span: VersionSpan | undefined, cls: string, sequence: number, digest: string): boolean {
  return span !== undefined && span.class === cls && span.sequence === sequence && span.digest === digest;
}

/** Appends `item`, dropping the oldest entry past `limit`; returns how many were dropped. */
function pushRecent<T>(list: T[], item: T, limit: number): number {
  list.push(item);
  if (list.length <= limit) return 0;
  list.shift();
  return 1;
}

export const DEFAULT_FIRMWARE_HISTORY_LIMIT = 1000;

export interface FirmwareStateOptions {
  /**
   * Most spans and rejections kept per device, and rejections and key events per vendor kept
   * in all: the most recent ones (default 1000). Older ones are counted, not kept; the rules
   * read only what a device runs, its floor and its approvals, which are always kept.
   */
  historyLimit?: number;
}

/**
 * Firmware state built from ledger records in index order. Feed every record through
 * `apply`; records of other types are ignored (apply returns false). A firmware record whose
 * body has the wrong shape throws ERR_MALFORMED_RECORD. What it holds grows with devices,
 * vendor keys and releases, not with records: history past `historyLimit` is counted only.
 */
export class FirmwareState {
  private data: Data = {
    vendors: new Map(),
    releases: new Map(),
    releasesByClass: new Map(),
    devices: new Map(),
    rejections: [],
    rejectionsOmitted: 0,
    lastIndex: -1,
  };
  readonly historyLimit: number;

  constructor(opts: FirmwareStateOptions = {}) {
    this.historyLimit = Math.max(0, opts.historyLimit ?? DEFAULT_FIRMWARE_HISTORY_LIMIT);
  }

  static isFirmwareType(type: string): type is FirmwareRecordType {
    return (FIRMWARE_RECORD_TYPES as readonly string[]).includes(type);
  }

  /** Index of the last firmware record applied, or -1. */
  get lastIndex(): number {
    return this.data.lastIndex;
  }

  /** A deep copy (for trying a record before writing it, or for an audit's before/after). */
  clone(): FirmwareState {
    const copy = new FirmwareState({ historyLimit: this.historyLimit });
    copy.data = structuredClone(this.data);
    return copy;
  }

  apply(type: string, body: unknown, index: number, time: number): boolean {
    if (!FirmwareState.isFirmwareType(type)) return false;
    const at: RecordRef = { index, time };
    switch (type) {
      case 'firmware.vendor':
        this.applyVendor(parseVendorBody(body), at);
        break;
      case 'firmware.release':
        this.applyRelease(parseReleaseBody(body), at);
        break;
      case 'firmware.decision':
        this.applyDecision(parseDecisionBody(body), at);
        break;
      case 'firmware.report':
        this.applyReport(parseReportBody(body), at);
        break;
    }
    this.data.lastIndex = index;
    return true;
  }

  // -- vendors

  private vendorState(vendor: string): VendorState {
    let v = this.data.vendors.get(vendor);
    if (!v) {
      v = { trusted: new Set(), revoked: new Set(), standing: new Map(), events: [], eventsOmitted: 0 };
      this.data.vendors.set(vendor, v);
    }
    return v;
  }

  private applyVendor(b: VendorBody, at: RecordRef): void {
    const v = this.vendorState(b.vendor);
    if (b.action === 'trust') {
      v.trusted.add(b.did);
      v.revoked.delete(b.did);
    } else {
      v.trusted.delete(b.did);
      v.revoked.add(b.did);
    }
    v.standing.set(b.did, at);
    v.eventsOmitted += pushRecent(v.events, { ...at, did: b.did, action: b.action }, this.historyLimit);
  }

  vendors(): string[] {
    return [...this.data.vendors.keys()];
  }
  isTrusted(vendor: string, did: string): boolean {
    return this.data.vendors.get(vendor)?.trusted.has(did) ?? false;
  }
  isRevoked(vendor: string, did: string): boolean {
    return this.data.vendors.get(vendor)?.revoked.has(did) ?? false;
  }
  /** The record that gave a vendor key its standing, trusted or revoked (the last firmware.vendor record naming it); undefined for a key no record names. */
  vendorKeyRecord(vendor: string, did: string): RecordRef | undefined {
    return this.data.vendors.get(vendor)?.standing.get(did);
  }
  /** The vendor's keys, and its most recent key events (`eventsOmitted`: the older ones). */
  vendorKeys(vendor: string): { trusted: string[]; revoked: string[]; events: VendorKeyEvent[]; eventsOmitted: number } {
    const v = this.data.vendors.get(vendor);
    return { trusted: [...(v?.trusted ?? [])], revoked: [...(v?.revoked ?? [])], events: [...(v?.events ?? [])], eventsOmitted: v?.eventsOmitted ?? 0 };
  }

  // -- releases

  private applyRelease(b: ReleaseBody, at: RecordRef): void {
    const m = b.manifest;
    const key = releaseKey(m.vendor, m.class, m.sequence);
    if (!this.data.releases.has(key)) {
      const ck = classKey(m.class, m.sequence);
      const vendors = this.data.releasesByClass.get(ck);
      if (vendors) vendors.push(m.vendor);
      else this.data.releasesByClass.set(ck, [m.vendor]);
    }
    this.data.releases.set(key, {
      vendor: m.vendor,
      class: m.class,
      sequence: m.sequence,
      version: m.version,
      digest: m.digest,
      size: m.size,
      manifest: m,
      signer: b.signer,
      envelopeDigest: b.envelopeDigest,
      registered: at,
    });
  }

  release(vendor: string, cls: string, sequence: number): Release | undefined {
    return this.data.releases.get(releaseKey(vendor, cls, sequence));
  }
  /**
   * Registered releases of a class and sequence, of any vendor (in the order they were first
   * registered) or of one vendor. Costs one lookup per match, however many releases there are.
   */
  releasesFor(cls: string, sequence: number, vendor?: string): Release[] {
    if (vendor !== undefined) {
      const r = this.release(vendor, cls, sequence);
      return r ? [r] : [];
    }
    const out: Release[] = [];
    for (const v of this.data.releasesByClass.get(classKey(cls, sequence)) ?? []) {
      const r = this.data.releases.get(releaseKey(v, cls, sequence));
      if (r) out.push(r);
    }
    return out;
  }
  releases(): Release[] {
    return [...this.data.releases.values()];
  }

  // -- devices

  private deviceState(did: string): DeviceFirmware & { approvals: Map<string, Approval> } {
    let d = this.data.devices.get(did);
    if (!d) {
      d = { device: did, spans: [], spansOmitted: 0, floor: -1, reports: 0, rejections: [], rejectionsOmitted: 0, approvals: new Map() };
      this.data.devices.set(did, d);
    }
    return d;
  }

  private startSpan(d: DeviceFirmware, span: VersionSpan): void {
    if (d.current && !d.current.to) d.current.to = span.from;
    d.spansOmitted += pushRecent(d.spans, span, this.historyLimit);
    d.current = span;
  }

  private applyDecision(b: DecisionBody, at: RecordRef): void {
    if (b.decision === 'rejected') {
      const entry: RejectionEntry = { at, subject: b.subject, reason: b.reason };
      if (b.message) entry.message = b.message;
      for (const k of ['device', 'vendor', 'class', 'digest'] as const) if (b[k] !== undefined) entry[k] = b[k];
      if (b.sequence !== undefined) entry.sequence = b.sequence;
      this.data.rejectionsOmitted += pushRecent(this.data.rejections, entry, this.historyLimit);
      if (b.device !== undefined) {
        const d = this.deviceState(b.device);
        d.rejectionsOmitted += pushRecent(d.rejections, entry, this.historyLimit);
        // The refused report was the device's (signed): a copy of it is a replay, as of a recorded one.
        if (b.subject === 'report') this.advanceFreshness(d, b);
      }
      return;
    }
    const d = this.deviceState(b.device);
    const approval: Approval = { ...at, vendor: b.vendor, signer: b.signer };
    if (b.approver !== undefined) approval.approver = b.approver;
    // Only an approval of a registered image is kept (all the gateway writes): one a record
    // makes up would otherwise add an entry per record.
    if (this.release(b.vendor, b.class, b.sequence)?.digest === b.digest) d.approvals.set(approvalKey(b.class, b.sequence, b.digest), approval);
    d.vendor = b.vendor;
    d.class = b.class;
    d.floor = Math.max(d.floor, b.sequence);
    if (sameFirmware(d.current, b.class, b.sequence, b.digest)) {
      // Re-approval of what it already has: the span goes on, now with this approval.
      const cur = d.current as VersionSpan;
      cur.approvedBy = approval;
      cur.vendor = b.vendor;
      return;
    }
    this.startSpan(d, {
      vendor: b.vendor,
      class: b.class,
      sequence: b.sequence,
      version: b.version,
      digest: b.digest,
      from: at,
      approvedBy: approval,
      source: 'decision',
    });
  }

  /** The device's last accepted report counter and ts, advanced by a report's (recorded, or refused after its signature verified). */
  private advanceFreshness(d: DeviceFirmware, b: { counter?: number; ts?: number }): void {
    if (b.counter !== undefined) d.lastCounter = Math.max(d.lastCounter ?? -1, b.counter);
    if (b.ts !== undefined) d.lastTs = Math.max(d.lastTs ?? -1, b.ts);
  }

  private applyReport(b: ReportBody, at: RecordRef): void {
    const d = this.deviceState(b.device);
    d.reports++;
    d.lastReport = at;
    this.advanceFreshness(d, b);
    if (d.class === undefined) d.class = b.class;
    if (d.vendor === undefined && b.vendor !== undefined) d.vendor = b.vendor;
    if (b.status !== 'unregistered') d.floor = Math.max(d.floor, b.sequence);
    if (sameFirmware(d.current, b.class, b.sequence, b.digest)) {
      const cur = d.current as VersionSpan;
      if (!cur.confirmed) cur.confirmed = at;
      d.running = cur;
      return;
    }
    // Still on the old firmware while an approved update waits: nothing changes.
    if (b.status === 'pending') return;
    const span: VersionSpan = {
      class: b.class,
      sequence: b.sequence,
      version: b.version,
      digest: b.digest,
      from: at,
      confirmed: at,
      source: 'report',
    };
    const vendor = b.vendor ?? d.vendor;
    if (vendor !== undefined) span.vendor = vendor;
    const approval = d.approvals.get(approvalKey(b.class, b.sequence, b.digest));
    if (approval) span.approvedBy = approval;
    this.startSpan(d, span);
    d.running = span;
  }

  /** The device's firmware state (live object: do not modify), or undefined if no record named it. */
  device(did: string): Readonly<DeviceFirmware> | undefined {
    return this.data.devices.get(did);
  }
  devices(): string[] {
    return [...this.data.devices.keys()];
  }
  /** The approval of a given image for a device, if one was recorded. */
  approvalOf(did: string, cls: string, sequence: number, digest: string): Approval | undefined {
    return this.data.devices.get(did)?.approvals.get(approvalKey(cls, sequence, digest));
  }
  /** The device's most recent approval (of a registered image): the one its latest offer carries. */
  latestApproval(did: string): Approval | undefined {
    let latest: Approval | undefined;
    for (const a of this.data.devices.get(did)?.approvals.values() ?? []) if (!latest || a.index > latest.index) latest = a;
    return latest;
  }
  /** The most recent rejections (at most `historyLimit`), oldest first. */
  rejections(): RejectionEntry[] {
    return [...this.data.rejections];
  }
  /** Rejections recorded before those `rejections()` returns. */
  get rejectionsOmitted(): number {
    return this.data.rejectionsOmitted;
  }
}
