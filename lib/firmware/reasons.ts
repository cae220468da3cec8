// Typed firmware rejections: every refusal is an ERR_FIRMWARE_REJECTED with details.reason.
import { LedgerError, isLedgerError } from '../errors';

/**
 * Why a manifest, an update or a device report was refused. The first eleven follow the
 * threat list of the design (and RFC 9124, the SUIT information model); 'weak-key' refuses a
 * vendor key that would accept forged signatures; the last two cover input that cannot be
 * judged at all.
 */
export type RejectionReason =
  | 'unknown-signer' // kid missing, not a did:key, or not a trusted key of the manifest's vendor
  | 'revoked-key' // the signing key was revoked for that vendor
  | 'bad-signature' // the envelope does not verify under the key it names (or uses an unsupported alg)
  | 'digest-mismatch' // the image, the registered release or a report disagree on the digest
  | 'size-mismatch' // the image size differs from the manifest's
  | 'wrong-class' // mix-and-match: the manifest's vendor/class is not the device's
  | 'rollback' // the sequence is lower than what the device has installed
  | 'same-sequence-different-digest' // a second image under a sequence number already in use
  | 'expired' // the manifest is past its expiry at check time (freeze attack)
  | 'unenrolled-device' // the caller says the device is not enrolled
  | 'replay' // a report whose counter / timestamp is not newer than the last accepted one; an offer of a decision older than one the device saw
  | 'unknown-release' // an update names a release that was never registered
  | 'weak-key' // a vendor key of small order (ERR_WEAK_KEY), which any forger could sign for
  | 'malformed'; // not an envelope, not a manifest / report, or a field out of range

export const REJECTION_REASONS: readonly RejectionReason[] = [
  'unknown-signer',
  'revoked-key',
  'bad-signature',
  'digest-mismatch',
  'size-mismatch',
  'wrong-class',
  'rollback',
  'same-sequence-different-digest',
  'expired',
  'unenrolled-device',
  'replay',
  'unknown-release',
  'weak-key',
  'malformed',
];

export interface FirmwareRejection extends LedgerError {
  readonly code: 'ERR_FIRMWARE_REJECTED';
  readonly details: { reason: RejectionReason } & Record<string, unknown>;
}

/** Builds the typed rejection; `details` should hold only values a ledger record can carry. */
export function reject(reason: RejectionReason, message: string, details: Record<string, unknown> = {}): FirmwareRejection {
  const clean: Record<string, unknown> = { reason };
  for (const [k, v] of Object.entries(details)) if (v !== undefined && k !== 'reason') clean[k] = v;
  return new LedgerError('ERR_FIRMWARE_REJECTED', message, clean) as FirmwareRejection;
}

/** True for an ERR_FIRMWARE_REJECTED, optionally of the given reason. */
export function isFirmwareRejection(err: unknown, reason?: RejectionReason): err is FirmwareRejection {
  if (!isLedgerError(err, 'ERR_FIRMWARE_REJECTED')) return false;
  return reason === undefined || err.details?.reason === reason;
}

/** The reason of a firmware rejection, or undefined for any other error. */
export function rejectionReason(err: unknown): RejectionReason | undefined {
  return isFirmwareRejection(err) ? err.details.reason : undefined;
}
