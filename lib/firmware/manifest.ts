// Vendor-signed release manifests (fields after the IETF SUIT information model, RFC 9124):
// vendor id, class id, display version, monotonic sequence number, image digest and size,
// expiry and an optional URI, signed as JWS or COSE_Sign1 by a vendor key (kid = its did:key).
import { encodeCbor, type CborValue } from '../encoding/codec';
import { isDidKey, keyToDid, type PrivateKey } from '../crypto';
import { signEnvelope, verifyEnvelope, type EnvelopeFormat } from '../envelope/envelope';
import { isLedgerError } from '../errors';
import { checkTimeExists, count, decodeObject, didOfKid, digestField, fieldError, peekPayload, text, TIME_EXPECTED, timeValue, type Envelope } from './payload';
import { reject } from './reasons';

export interface Manifest {
  /** Vendor id (SUIT vendor-id); names whose keys may sign. */
  vendor: string;
  /** Device class id (SUIT class-id); an image only fits devices of this vendor and class. */
  class: string;
  /** Version for people ("2.4.1"); never compared. */
  version: string;
  /** Monotonic sequence number (SUIT sequence-number); what rollback protection compares. */
  sequence: number;
  /** Hex SHA-256 of the image, lower case. */
  digest: string;
  /** Image size in bytes. */
  size: number;
  /** Expiry as given (ms since the epoch or ISO 8601); past it the manifest is refused. */
  expires?: number | string;
  /** Where the image can be fetched. */
  uri?: string;
}

export interface OpenedManifest {
  manifest: Manifest;
  /** did:key of the signing key, from the kid (not yet trusted, not yet verified). */
  signer: string;
  envelope: Envelope;
  format: EnvelopeFormat;
}

const FIELDS = new Set(['vendor', 'class', 'version', 'sequence', 'digest', 'size', 'expires', 'uri']);
const WHAT = 'manifest';

/**
 * Checks manifest fields and returns the normalised manifest (digest in lower case), its expiry
 * read as recorded (timeValue); a manifest being accepted is parseNewManifest. Throws reason 'malformed'.
 */
export function parseManifest(obj: Record<string, unknown>): Manifest {
  for (const key of Object.keys(obj)) if (!FIELDS.has(key)) throw reject('malformed', `manifest has an unknown field "${key}"`, { field: key });
  const m: Manifest = {
    vendor: text(obj, WHAT, 'vendor'),
    class: text(obj, WHAT, 'class'),
    version: text(obj, WHAT, 'version', 64),
    sequence: count(obj, WHAT, 'sequence'),
    digest: digestField(obj, WHAT),
    size: count(obj, WHAT, 'size'),
  };
  if (obj.expires !== undefined) {
    const e = obj.expires;
    if (timeValue(e) === undefined) throw fieldError(WHAT, 'expires', TIME_EXPECTED, e);
    m.expires = typeof e === 'bigint' ? Number(e) : (e as number | string);
  }
  if (obj.uri !== undefined) m.uri = text(obj, WHAT, 'uri', 2048);
  return m;
}

/** A manifest being accepted (signed, offered, registered): parseManifest, and an expiry that exists (checkTimeExists). */
export function parseNewManifest(obj: Record<string, unknown>): Manifest {
  const m = parseManifest(obj);
  checkTimeExists(WHAT, 'expires', m.expires);
  return m;
}

/** Expiry of a manifest in ms since the epoch, or undefined when it never expires (as recorded). */
export function manifestExpiry(m: Manifest): number | undefined {
  return m.expires === undefined ? undefined : timeValue(m.expires);
}

/** True when `now` (ms) is at or past the manifest's expiry. */
export function isExpired(m: Manifest, now: number): boolean {
  const exp = manifestExpiry(m);
  return exp !== undefined && now >= exp;
}

function manifestValue(m: Manifest): Record<string, CborValue> {
  const out: Record<string, CborValue> = {
    vendor: m.vendor,
    class: m.class,
    version: m.version,
    sequence: m.sequence,
    digest: m.digest,
    size: m.size,
  };
  if (m.expires !== undefined) out.expires = m.expires;
  if (m.uri !== undefined) out.uri = m.uri;
  return out;
}

/**
 * Signs a release manifest with a vendor key. JWS carries a JSON payload, COSE_Sign1 a CBOR map.
 * The kid is the vendor key's did:key. Throws reason 'malformed' for bad fields.
 */
export function createManifest(fields: Manifest, vendorKey: PrivateKey, format: EnvelopeFormat = 'jws'): Envelope {
  const m = parseNewManifest({ ...fields });
  const kid = keyToDid(vendorKey);
  const value = manifestValue(m);
  const payload = format === 'cose' ? encodeCbor(value) : JSON.stringify(value);
  return signEnvelope(payload, vendorKey, { format, kid });
}

/**
 * Parses a manifest envelope being accepted without trusting it: reads the kid and the payload
 * and checks the fields (parseNewManifest), but neither the signature nor the signer's standing
 * (the rules do that). Throws reason 'malformed' or 'unknown-signer' (no kid, or a kid that is
 * not a did:key). The envelope of a record on the ledger is read with readManifest.
 */
export function openManifest(envelope: Envelope): OpenedManifest {
  return manifestEnvelope(envelope, parseNewManifest);
}

/** openManifest of the envelope of a record on the ledger: its expiry read as recorded (parseManifest). */
export function readManifest(envelope: Envelope): OpenedManifest {
  return manifestEnvelope(envelope, parseManifest);
}

function manifestEnvelope(envelope: Envelope, parse: (obj: Record<string, unknown>) => Manifest): OpenedManifest {
  const { format, kid, payload } = peekPayload(envelope);
  const manifest = parse(decodeObject(payload, WHAT));
  if (kid === undefined) throw reject('unknown-signer', 'manifest envelope names no signer (no kid)', { vendor: manifest.vendor });
  const signer = didOfKid(kid);
  if (!isDidKey(signer)) throw reject('unknown-signer', 'manifest kid is not a did:key', { vendor: manifest.vendor });
  return { manifest, signer, envelope, format };
}

/** Verifies the envelope's signature under its signer's key; throws reason 'bad-signature'. */
export function verifyManifestSignature(opened: OpenedManifest): void {
  try {
    verifyEnvelope(opened.envelope, opened.signer);
  } catch (err) {
    const why = isLedgerError(err) ? err.message : String(err);
    throw reject('bad-signature', `manifest signature does not verify under ${opened.signer}: ${why}`, {
      vendor: opened.manifest.vendor,
      class: opened.manifest.class,
      sequence: opened.manifest.sequence,
      signer: opened.signer,
    });
  }
}

/** The manifest as a plain record value (only present fields). */
export function manifestBody(m: Manifest): Record<string, CborValue> {
  return manifestValue(m);
}
