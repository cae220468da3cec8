// Firmware offers that devices pull: the vendor-signed manifest and the inclusion proof of
// the gateway's approved update decision for this device. A device checks the vendor
// signature, that the ledger approved exactly this manifest for it, the sequence against
// what it runs (rollback) and the image digest; anything else is refused.
import { fromBase64, toBase64 } from '../encoding/bytes';
import { parseBoundedJson } from '../guards/limits';
import { verifyProofBundle, type ProofBundle } from '../ledger/bundle';
import { sha256 } from '../crypto/hash';
import { toHex } from '../encoding/bytes';
import { isExpired, manifestExpiry, openManifest, verifyManifestSignature, type Manifest } from './manifest';
import { isoTime } from '../encoding/iso-time';
import type { Envelope } from './payload';
import { reject, type RejectionReason } from './reasons';

export const FIRMWARE_OFFER_FORMAT = 'iot-ledger-firmware-offer/1';
/** The retained MQTT topic a gateway offers a device its approved update on. */
export const firmwareTopic = (device: string): string => `iot-ledger/firmware/${device}`;

/**
 * Largest offer text a device parses (bytes, or characters of a string): a manifest envelope of
 * 64 KiB in base64 and a decision bundle of a record at the default 65535-byte limit are about
 * 180 kB; real offers are about 2 kB.
 */
export const MAX_FIRMWARE_OFFER_BYTES = 256 * 1024;

/**
 * Parses an offer as MQTT brings it (JSON text or bytes), bounded before JSON.parse:
 * ERR_PAYLOAD_TOO_LARGE past MAX_FIRMWARE_OFFER_BYTES, ERR_PAYLOAD_TOO_DEEP past 64 levels of
 * nesting, ERR_FIRMWARE_REJECTED (reason malformed) when it is not UTF-8 JSON.
 */
export function parseFirmwareOffer(payload: string | Uint8Array): unknown {
  return parseBoundedJson('a firmware offer', payload, MAX_FIRMWARE_OFFER_BYTES, (message) => reject('malformed', message));
}

export interface FirmwareOffer {
  format: typeof FIRMWARE_OFFER_FORMAT;
  device: string;
  /** The vendor-signed manifest: a JWS string, or base64 COSE_Sign1 bytes. */
  manifest: string;
  manifestFormat: 'jws' | 'cose';
  /** Proof bundle of the firmware.decision record that approved it. */
  decision: ProofBundle;
}

export function makeFirmwareOffer(device: string, manifest: Envelope, decision: ProofBundle): FirmwareOffer {
  return {
    format: FIRMWARE_OFFER_FORMAT,
    device,
    manifest: typeof manifest === 'string' ? manifest : toBase64(manifest),
    manifestFormat: typeof manifest === 'string' ? 'jws' : 'cose',
    decision,
  };
}

export interface OfferCheck {
  /** The gateway's did:key or verifier key. */
  gatewayKey: string;
  /** This device's did:key. */
  device: string;
  /** Vendor keys the device trusts (did:key); the manifest's signer must be one of them. */
  vendorKeys: readonly string[];
  /** The device's vendor id, when it knows it: a manifest of another vendor is refused (`wrong-class`). */
  vendor?: string;
  /** The device's class id, when it knows it: a manifest for another class is refused (`wrong-class`, mix-and-match). */
  class?: string;
  /** The sequence the device runs now (an offer must be newer). */
  installedSequence?: number;
  /** The image fetched for the manifest (its SHA-256 must be the manifest digest). */
  image?: Uint8Array;
  /**
   * The device's clock (ms since the epoch), when it has one: a manifest expired by then is
   * refused (reason `expired`), so an old approved offer published again cannot hold the device
   * at an outdated release (a freeze attack).
   */
  now?: number;
  /**
   * The ledger index of the newest approving decision for this device the device has verified
   * (the highest AcceptedOffer.decisionIndex, or `details.decisionIndex` of a refusal, it has
   * seen), when it keeps one: an offer of an older decision is refused (reason `replay`), so an
   * approval the gateway has since superseded, published again by anyone, cannot replace the
   * newer one on a device that has not installed it yet.
   */
  newestDecision?: number;
}

export interface AcceptedOffer {
  manifest: Manifest;
  signer: string;
  decisionIndex: number;
}

/** Verifies an offer for this device; throws ERR_FIRMWARE_REJECTED (details.reason) or a proof error. */
export function verifyFirmwareOffer(offer: unknown, check: OfferCheck): AcceptedOffer {
  const o = offer as Partial<FirmwareOffer>;
  if (typeof offer !== 'object' || offer === null || o.format !== FIRMWARE_OFFER_FORMAT || typeof o.manifest !== 'string')
    throw reject('malformed', `not a ${FIRMWARE_OFFER_FORMAT} offer`);
  let envelope: Envelope = o.manifest;
  if (o.manifestFormat === 'cose') {
    try {
      envelope = fromBase64(o.manifest);
    } catch {
      throw reject('malformed', 'the offer\'s COSE manifest is not base64');
    }
  }
  const opened = openManifest(envelope);
  if (!check.vendorKeys.includes(opened.signer)) throw reject('unknown-signer', `manifest signer ${opened.signer} is not a vendor key this device trusts`);
  verifyManifestSignature(opened);
  const m = opened.manifest;
  const decision = verifyProofBundle(o.decision, check.gatewayKey);
  const body = (decision.record.body ?? {}) as Record<string, unknown>;
  if (
    decision.record.type !== 'firmware.decision' ||
    body.decision !== 'approved' ||
    body.device !== check.device ||
    body.sequence !== m.sequence ||
    body.digest !== m.digest ||
    body.vendor !== m.vendor ||
    body.class !== m.class ||
    body.signer !== opened.signer
  )
    throw reject('unknown-release', 'the ledger holds no approved decision for this device and this manifest', { sequence: m.sequence });
  // From here on the decision is the gateway's for this device: refusals name its index, the newest the device has seen.
  const refuse = (reason: RejectionReason, message: string, details: Record<string, unknown>) =>
    reject(reason, message, { ...details, sequence: m.sequence, decisionIndex: decision.index });
  if (check.newestDecision !== undefined && decision.index < check.newestDecision)
    throw refuse('replay', `the decision at record ${decision.index} is older than the one at record ${check.newestDecision} already seen`, { newest: check.newestDecision });
  // The gateway checks the class it knows of the device; one that knows none (no report yet, none
  // given with the request) approves any, and only the device knows what it is.
  if ((check.vendor !== undefined && m.vendor !== check.vendor) || (check.class !== undefined && m.class !== check.class))
    throw refuse('wrong-class', `manifest is for ${m.vendor}/${m.class}, this device is ${check.vendor ?? m.vendor}/${check.class ?? m.class}`, {});
  if (check.now !== undefined && isExpired(m, check.now))
    throw refuse('expired', `manifest for ${m.class} sequence ${m.sequence} expired at ${isoTime(manifestExpiry(m) as number)}`, { expires: m.expires });
  if (check.installedSequence !== undefined && m.sequence <= check.installedSequence)
    throw refuse('rollback', `sequence ${m.sequence} is not newer than ${check.installedSequence} installed`, { installed: check.installedSequence });
  if (check.image !== undefined) {
    const digest = toHex(sha256(check.image));
    if (digest !== m.digest) throw refuse('digest-mismatch', `image digest ${digest} is not the manifest's ${m.digest}`, {});
    if (check.image.length !== m.size) throw refuse('size-mismatch', `image is ${check.image.length} bytes, the manifest says ${m.size}`, {});
  }
  return { manifest: m, signer: opened.signer, decisionIndex: decision.index };
}
