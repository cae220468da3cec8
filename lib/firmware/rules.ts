// The update rules. Each check reads the firmware state (derived from the ledger) and either
// returns the body of the record to write or throws a typed rejection
// (ERR_FIRMWARE_REJECTED, details.reason), which the caller records via rejectionBody().
import { type CborValue } from '../encoding/codec';
import { didToKey, isDidKey } from '../crypto';
import { isLedgerError } from '../errors';
import { isoTime } from '../encoding/iso-time';
import { isExpired, manifestBody, manifestExpiry, openManifest, readManifest, verifyManifestSignature, type Manifest } from './manifest';
import { envelopeDigest, nowMs, type Envelope } from './payload';
import { isFirmwareRejection, reject } from './reasons';
import { openReport, readReport } from './report';
import {
  type ApprovedDecisionBody,
  type FirmwareState,
  type Release,
  type RejectedDecisionBody,
  type ReleaseBody,
  type ReportBody,
  type ReportStatus,
  type VendorBody,
  type VersionSpan,
} from './state';

export type IsEnrolled = (did: string) => boolean;

/** Names a registered release. */
export interface ReleaseRef {
  vendor: string;
  class: string;
  sequence: number;
}

interface DeviceSide {
  /** The device's did:key. */
  device: string;
  /** The device's class as the caller knows it (enrolment metadata); checked against the manifest. */
  deviceClass?: string;
  /** The device's vendor as the caller knows it; checked against the manifest. */
  deviceVendor?: string;
}

/** An update: a device and either the manifest envelope (of a registered release) or a reference to one. */
export type UpdateRequest = DeviceSide & ({ manifestEnvelope: Envelope } | ReleaseRef);

export interface UpdateOptions {
  /** Check time (ms or Date); expiry is judged against it and it is recorded as `at`. */
  now: number | Date;
  /** The image about to be installed, when the caller has it; must match the manifest. */
  image?: { digest: string; size: number };
  /** Whether the device is enrolled (from the registry). */
  isEnrolled: IsEnrolled;
  /** Who asks for the update; recorded as `approver`. */
  approver?: string;
}

export interface ReportOptions {
  /** Gateway time (ms or Date) the report is checked at. */
  now: number | Date;
  isEnrolled: IsEnrolled;
  deviceClass?: string;
  deviceVendor?: string;
  /** How far a report's ts may run ahead of `now` (default 5 minutes); a later ts would block every later report. */
  maxFutureMs?: number;
  /** The envelope of a record on the ledger (the audit's recheck): its ts read as the gateway recorded it (readReport). */
  recorded?: boolean;
}

const DEFAULT_MAX_FUTURE_MS = 5 * 60 * 1000;

// ---- vendors -------------------------------------------------------------------------------

/** Checks a trust/revoke of a vendor key. A revoked key cannot be trusted again (reason 'revoked-key'). */
export function checkVendor(state: FirmwareState, body: VendorBody): VendorBody {
  const { vendor, did, action } = body;
  if (typeof vendor !== 'string' || vendor.length === 0 || vendor.length > 256) throw reject('malformed', 'vendor must be non-empty text');
  if (action !== 'trust' && action !== 'revoke') throw reject('malformed', 'action must be "trust" or "revoke"', { vendor });
  if (!isDidKey(did) || did.includes('#')) throw reject('malformed', 'vendor key must be a did:key without a fragment', { vendor });
  try {
    didToKey(did);
  } catch (err) {
    throw reject(isLedgerError(err, 'ERR_WEAK_KEY') ? 'weak-key' : 'malformed', `vendor key: ${(err as Error).message}`, { vendor });
  }
  if (action === 'trust' && state.isRevoked(vendor, did))
    throw reject('revoked-key', `key ${did} was revoked for vendor ${vendor} and cannot be trusted again`, { vendor, signer: did });
  return { vendor, did, action };
}

// ---- releases ------------------------------------------------------------------------------

function manifestContext(m: Manifest, signer?: string): Record<string, unknown> {
  return { vendor: m.vendor, class: m.class, sequence: m.sequence, digest: m.digest, signer };
}

/** Signer standing: revoked first (a revoked key is also untrusted), then trusted. */
function checkSigner(state: FirmwareState, m: Manifest, signer: string): void {
  if (state.isRevoked(m.vendor, signer))
    throw reject('revoked-key', `manifest signer ${signer} was revoked for vendor ${m.vendor}`, manifestContext(m, signer));
  if (!state.isTrusted(m.vendor, signer))
    throw reject('unknown-signer', `manifest signer ${signer} is not a trusted key of vendor ${m.vendor}`, manifestContext(m, signer));
}

function checkNotExpired(m: Manifest, now: number, signer?: string): void {
  if (isExpired(m, now))
    throw reject('expired', `manifest for ${m.class} sequence ${m.sequence} expired at ${isoTime(manifestExpiry(m) as number)}`, {
      ...manifestContext(m, signer),
      expires: m.expires,
      at: now,
    });
}

/**
 * Checks a manifest envelope for registration: signer trusted and not revoked for the
 * manifest's vendor, signature valid, not expired at `now`, and no other image already
 * registered under the same vendor, class and sequence (re-registering the same image, e.g.
 * with a later expiry, is allowed). Returns the body of the 'firmware.release' record;
 * store the envelope itself as the record's `envelope`. `recorded`: rechecking a release record
 * (its expiry read as recorded, readManifest).
 */
export function checkRelease(state: FirmwareState, manifestEnvelope: Envelope, now: number | Date, recorded = false): ReleaseBody {
  const t = nowMs(now);
  const opened = recorded ? readManifest(manifestEnvelope) : openManifest(manifestEnvelope);
  const m = opened.manifest;
  checkSigner(state, m, opened.signer);
  verifyManifestSignature(opened);
  checkNotExpired(m, t, opened.signer);
  const existing = state.release(m.vendor, m.class, m.sequence);
  if (existing && existing.digest !== m.digest)
    throw reject(
      'same-sequence-different-digest',
      `${m.vendor}/${m.class} sequence ${m.sequence} is registered with digest ${existing.digest}, not ${m.digest}`,
      { ...manifestContext(m, opened.signer), registered: existing.registered.index },
    );
  if (existing && existing.size !== m.size)
    throw reject('size-mismatch', `${m.vendor}/${m.class} sequence ${m.sequence} is registered with size ${existing.size}, not ${m.size}`, {
      ...manifestContext(m, opened.signer),
      registered: existing.registered.index,
    });
  return { manifest: m, signer: opened.signer, envelopeDigest: envelopeDigest(manifestEnvelope), at: t };
}

// ---- updates -------------------------------------------------------------------------------

function sameManifest(a: Manifest, b: Manifest): boolean {
  return JSON.stringify(manifestBody(a)) === JSON.stringify(manifestBody(b));
}

function resolveRelease(state: FirmwareState, req: UpdateRequest, device: string): Release {
  if ('manifestEnvelope' in req && req.manifestEnvelope !== undefined) {
    const opened = openManifest(req.manifestEnvelope);
    const m = opened.manifest;
    checkSigner(state, m, opened.signer);
    verifyManifestSignature(opened);
    const reg = state.release(m.vendor, m.class, m.sequence);
    if (!reg)
      throw reject('unknown-release', `${m.vendor}/${m.class} sequence ${m.sequence} is not registered (record it with checkRelease first)`, {
        ...manifestContext(m, opened.signer),
        device,
      });
    if (reg.digest !== m.digest || reg.size !== m.size)
      throw reject(
        'same-sequence-different-digest',
        `${m.vendor}/${m.class} sequence ${m.sequence} is registered with another image (digest ${reg.digest})`,
        { ...manifestContext(m, opened.signer), device, registered: reg.registered.index },
      );
    if (!sameManifest(reg.manifest, m))
      throw reject('unknown-release', `this manifest for ${m.vendor}/${m.class} sequence ${m.sequence} differs from the registered one (register it first)`, {
        ...manifestContext(m, opened.signer),
        device,
      });
    return reg;
  }
  const ref = req as ReleaseRef;
  if (typeof ref.vendor !== 'string' || typeof ref.class !== 'string' || !Number.isSafeInteger(ref.sequence))
    throw reject('malformed', 'an update names a manifestEnvelope or {vendor, class, sequence}', { device });
  const reg = state.release(ref.vendor, ref.class, ref.sequence);
  if (!reg)
    throw reject('unknown-release', `${ref.vendor}/${ref.class} sequence ${ref.sequence} is not registered`, {
      vendor: ref.vendor,
      class: ref.class,
      sequence: ref.sequence,
      device,
    });
  return reg;
}

/** Sequence below which an update is a rollback: the highest installed, approved or confirmed. */
export function installedFloor(state: FirmwareState, device: string): number {
  const d = state.device(device);
  if (!d) return -1;
  return Math.max(d.floor, d.current?.sequence ?? -1);
}

/**
 * Checks an update of a device to a registered release. Order: device enrolled, release
 * registered (and, given an envelope, its signature), signer still trusted and not revoked,
 * manifest not expired at `now`, image matches (when given), vendor/class match the device,
 * no rollback and no second image under the installed sequence. Returns the body of an
 * approving 'firmware.decision', or throws the typed rejection.
 */
export function checkUpdate(state: FirmwareState, req: UpdateRequest, opts: UpdateOptions): ApprovedDecisionBody {
  const now = nowMs(opts.now);
  const device = req.device;
  if (typeof device !== 'string' || !isDidKey(device) || device.includes('#')) throw reject('malformed', 'device must be a did:key id');
  if (typeof opts.isEnrolled !== 'function') throw reject('malformed', 'checkUpdate needs an isEnrolled(did) callback');
  if (!opts.isEnrolled(device)) throw reject('unenrolled-device', `device ${device} is not enrolled`, { device });

  const rel = resolveRelease(state, req, device);
  const m = rel.manifest;
  const ctx = { ...manifestContext(m, rel.signer), device };
  checkSigner(state, m, rel.signer);
  checkNotExpired(m, now, rel.signer);

  if (opts.image !== undefined) {
    const digest = String(opts.image.digest ?? '').toLowerCase();
    if (digest !== m.digest)
      throw reject('digest-mismatch', `image digest ${digest.slice(0, 64)} does not match the manifest's ${m.digest}`, { ...ctx, image: digest.slice(0, 64) });
    if (opts.image.size !== m.size)
      throw reject('size-mismatch', `image is ${String(opts.image.size)} bytes, the manifest says ${m.size}`, ctx);
  }

  const d = state.device(device);
  const knownClass = [req.deviceClass, d?.class].filter((c): c is string => c !== undefined);
  const knownVendor = [req.deviceVendor, d?.vendor].filter((v): v is string => v !== undefined);
  const badClass = knownClass.find((c) => c !== m.class);
  const badVendor = knownVendor.find((v) => v !== m.vendor);
  if (badClass !== undefined || badVendor !== undefined)
    throw reject(
      'wrong-class',
      badClass !== undefined
        ? `manifest is for class ${m.class}, device ${device} is ${badClass}`
        : `manifest is from vendor ${m.vendor}, device ${device} is ${String(badVendor)}`,
      { ...ctx, deviceClass: badClass ?? m.class, deviceVendor: badVendor ?? m.vendor },
    );

  const floor = installedFloor(state, device);
  if (m.sequence < floor)
    throw reject('rollback', `sequence ${m.sequence} is lower than ${floor} installed on ${device}`, { ...ctx, installed: floor });
  const cur: VersionSpan | undefined = d?.current;
  if (cur && cur.sequence === m.sequence && cur.digest !== m.digest)
    throw reject('same-sequence-different-digest', `${device} has sequence ${m.sequence} with digest ${cur.digest}, not ${m.digest}`, {
      ...ctx,
      installedDigest: cur.digest,
    });

  const body: ApprovedDecisionBody = {
    decision: 'approved',
    subject: 'update',
    device,
    vendor: m.vendor,
    class: m.class,
    sequence: m.sequence,
    version: m.version,
    digest: m.digest,
    size: m.size,
    signer: rel.signer,
    release: rel.registered.index,
    at: now,
  };
  if (cur) body.from = { sequence: cur.sequence, digest: cur.digest };
  if (opts.approver !== undefined) body.approver = opts.approver;
  if (req.deviceClass !== undefined) body.deviceClass = req.deviceClass;
  if (req.deviceVendor !== undefined) body.deviceVendor = req.deviceVendor;
  if (opts.image !== undefined) body.image = { digest: m.digest, size: m.size };
  return body;
}

// ---- reports -------------------------------------------------------------------------------

function same(span: VersionSpan | undefined, cls: string, sequence: number, digest: string): boolean {
  return span !== undefined && span.class === cls && span.sequence === sequence && span.digest === digest;
}

/**
 * Checks a signed device report: device enrolled, signature by the device key, counter / ts
 * newer than the last accepted report (and ts not far ahead of `now`), class and vendor those
 * of the device, digest that of the registered release for that sequence. Returns the body of
 * the 'firmware.report' record with a status (see ReportStatus); store the envelope as the
 * record's `envelope` and the device as its `device`.
 */
export function checkReport(state: FirmwareState, reportEnvelope: Envelope, deviceDid: string, opts: ReportOptions): ReportBody {
  const now = nowMs(opts.now);
  if (typeof opts.isEnrolled !== 'function') throw reject('malformed', 'checkReport needs an isEnrolled(did) callback');
  if (typeof deviceDid !== 'string' || !isDidKey(deviceDid)) throw reject('malformed', 'device must be a did:key id');
  if (!opts.isEnrolled(deviceDid)) throw reject('unenrolled-device', `device ${deviceDid} is not enrolled`, { device: deviceDid });
  const { report: r, device } = opts.recorded ? readReport(reportEnvelope, deviceDid) : openReport(reportEnvelope, deviceDid);
  // The report's counter and ts go with every refusal after its signature verified: a refusal
  // recorded with them makes a copy of the same report a replay (FirmwareState advances them).
  const ctx = { device, class: r.class, sequence: r.sequence, digest: r.digest, vendor: r.vendor, counter: r.counter, ts: r.ts };
  const d = state.device(device);

  if (r.counter !== undefined && d?.lastCounter !== undefined && r.counter <= d.lastCounter)
    throw reject('replay', `report counter ${r.counter} is not above the last accepted ${d.lastCounter}`, { ...ctx, counter: r.counter, last: d.lastCounter });
  if (r.ts !== undefined && d?.lastTs !== undefined && r.ts <= d.lastTs)
    throw reject('replay', `report ts ${r.ts} is not after the last accepted ${d.lastTs}`, { ...ctx, ts: r.ts, last: d.lastTs });
  const maxFuture = opts.maxFutureMs ?? DEFAULT_MAX_FUTURE_MS;
  if (r.ts !== undefined && r.ts > now + maxFuture)
    throw reject('replay', `report ts ${r.ts} is more than ${maxFuture} ms ahead of the gateway clock`, { ...ctx, ts: r.ts, at: now });

  const knownClass = [opts.deviceClass, d?.class].find((c) => c !== undefined && c !== r.class);
  if (knownClass !== undefined) throw reject('wrong-class', `device ${device} is of class ${knownClass}, its report says ${r.class}`, ctx);
  const vendor = r.vendor ?? opts.deviceVendor ?? d?.vendor;
  const knownVendor = [opts.deviceVendor, d?.vendor].find((v) => v !== undefined && vendor !== undefined && v !== vendor);
  if (knownVendor !== undefined) throw reject('wrong-class', `device ${device} is from vendor ${knownVendor}, its report says ${String(vendor)}`, ctx);

  const candidates = state.releasesFor(r.class, r.sequence, vendor);
  const match = candidates.find((rel) => rel.digest === r.digest);
  const [registered] = candidates;
  if (registered && !match)
    throw reject('digest-mismatch', `device ${device} runs ${r.class} sequence ${r.sequence} with digest ${r.digest}, registered is ${registered.digest}`, {
      ...ctx,
      registered: registered.digest,
    });

  let status: ReportStatus;
  const cur = d?.current;
  if (!match) status = 'unregistered';
  else if (same(cur, r.class, r.sequence, r.digest)) status = 'confirmed';
  else if (cur && cur.source === 'decision' && !cur.confirmed && (d?.running ? same(d.running, r.class, r.sequence, r.digest) : r.sequence < cur.sequence))
    status = 'pending';
  else if (d && Math.max(d.floor, cur?.sequence ?? -1) > r.sequence) status = 'downgraded';
  else if (state.approvalOf(device, r.class, r.sequence, r.digest)) status = 'confirmed';
  else if (!cur) status = 'initial';
  else status = 'unapproved';

  const body: ReportBody = { device, class: r.class, version: r.version, sequence: r.sequence, digest: r.digest, status };
  const bodyVendor = match?.vendor ?? r.vendor;
  if (bodyVendor !== undefined) body.vendor = bodyVendor;
  if (r.counter !== undefined) body.counter = r.counter;
  if (r.ts !== undefined) body.ts = r.ts;
  if (match) body.release = match.registered.index;
  if (r.refused !== undefined) body.refused = r.refused;
  return body;
}

// ---- rejections ----------------------------------------------------------------------------

export interface RejectionContext {
  subject?: 'update' | 'release' | 'report' | 'vendor';
  device?: string;
  vendor?: string;
  class?: string;
  sequence?: number;
  digest?: string;
  signer?: string;
  at?: number | Date;
}

/**
 * The body of a refusing 'firmware.decision' for an error thrown by a check. Fields come from
 * the rejection's details, overridden by `context`. Errors that are not firmware rejections
 * get the reason 'error'. A refused report keeps its counter and ts (from the details
 * checkReport gives once the signature verified), so that the same report sent again is a replay.
 */
export function rejectionBody(err: unknown, context: RejectionContext = {}): RejectedDecisionBody {
  const details: Record<string, unknown> = isLedgerError(err) && err.details ? err.details : {};
  const reason = isFirmwareRejection(err) ? err.details.reason : 'error';
  const message = err instanceof Error ? err.message : String(err);
  const body: RejectedDecisionBody = { decision: 'rejected', subject: context.subject ?? 'update', reason, message: message.slice(0, 1024) };
  const pickText = (k: 'device' | 'vendor' | 'class' | 'digest' | 'signer'): void => {
    const v = context[k] ?? details[k];
    if (typeof v === 'string' && v.length > 0) body[k] = v.slice(0, 256);
  };
  pickText('device');
  pickText('vendor');
  pickText('class');
  pickText('digest');
  pickText('signer');
  const seq = context.sequence ?? details.sequence;
  if (typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 0) body.sequence = seq;
  const at = context.at ?? details.at;
  if (at instanceof Date || typeof at === 'number') {
    const ms = at instanceof Date ? at.getTime() : at;
    if (Number.isSafeInteger(ms) && ms >= 0) body.at = ms;
  }
  if (body.subject === 'report') {
    for (const k of ['counter', 'ts'] as const) {
      const v = details[k];
      if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) body[k] = v;
    }
  }
  return body;
}

/** A record value view of any body (helps callers typed against CborValue). */
export function asRecordBody(body: object): CborValue {
  return body as unknown as CborValue;
}
