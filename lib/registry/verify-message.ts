// Gateway-side verification of a device message: who signed it, are they enrolled, is it fresh.
import { isDidKey } from '../crypto/didkey';
import { parseEnvelopeInput, peekParsed, type EnvelopeFormat, type VerifiedEnvelope } from '../envelope/envelope';
import { LedgerError } from '../errors';
import type { Alg } from '../crypto/keys';
import { decodePayloadFrom } from '../envelope/payload';
import type { DeviceEntry, DeviceRegistry } from './devices';
import { admissionProblem, freshnessOf, hasFreshness, type Freshness } from './freshness';

export interface VerifyMessageOptions {
  /** Accept an unknown device whose envelope names its own did:key (recorded as device.tofu). */
  tofu?: boolean;
  /** Reject payloads without a counter or timestamp (default true). */
  requireFreshness?: boolean;
  /** A device id (did or enrolled name) to use when the envelope carries no kid. */
  deviceHint?: string;
}

export interface VerifiedMessage {
  device: DeviceEntry;
  payload: unknown;
  envelope: string | Uint8Array;
  format: EnvelopeFormat;
  alg: Alg;
  kid?: string;
  freshness: Freshness;
  /** True when the device was unknown and is being trusted on first use. */
  tofu: boolean;
  /** The payload came from JSON text (or plain text): it holds JSON values only. */
  payloadIsJson?: boolean;
}

function stripFragment(id: string): string {
  const hash = id.indexOf('#');
  return hash >= 0 ? id.slice(0, hash) : id;
}

function resolveDevice(registry: DeviceRegistry, id: string | undefined): DeviceEntry | undefined {
  if (!id) return undefined;
  const did = stripFragment(id);
  return registry.get(did) ?? registry.named(id);
}

/** Who signed a message, checked against enrolment, before its signature is checked. */
export interface IdentifiedMessage {
  data: string | Uint8Array;
  envelope: string | Uint8Array;
  device: DeviceEntry;
  tofu: boolean;
}

/** Characters of an unknown kid quoted in an error (a did:key is about 56). */
const MAX_KID_SHOWN = 128;

export function identifySigner(input: unknown, registry: DeviceRegistry, opts: VerifyMessageOptions = {}): IdentifiedMessage {
  const { format, data } = parseEnvelopeInput(input);
  const { kid } = peekParsed(format, data);
  let device = resolveDevice(registry, kid) ?? resolveDevice(registry, opts.deviceHint);
  let tofu = false;
  if (!device) {
    const did = kid ? stripFragment(kid) : undefined;
    if (!opts.tofu || !did || !isDidKey(did)) {
      // The kid is the sender's text (up to a message's size): clipped before it reaches logs and Catch.
      const shown = kid === undefined || kid.length <= MAX_KID_SHOWN ? kid : `${kid.slice(0, MAX_KID_SHOWN)}…`;
      throw new LedgerError('ERR_UNKNOWN_DEVICE', `message is signed by a device that is not enrolled (kid ${shown ?? 'absent'})`, { kid: shown });
    }
    device = { did, name: did.slice(-8), enrolledAt: -1, rank: -1, tofu: true };
    tofu = true;
  }
  if (device.revokedAt !== undefined)
    throw new LedgerError('ERR_REVOKED_DEVICE', `device ${device.name} (${device.did}) was revoked at record #${device.revokedAt}`, { device: device.did });
  // Kept as a record stores it (JWS as text, COSE as bytes, also when it came as hex or base64
  // text), and a copy: the caller's buffer may change while the signature is checked.
  const envelope = format === 'jws' ? (data as string) : Uint8Array.from(data as Uint8Array);
  return { data, envelope, device, tofu };
}

/** The checks after a valid signature: a payload with a counter or time, newer than the last accepted. */
export function acceptSigned(m: IdentifiedMessage, v: VerifiedEnvelope, registry: DeviceRegistry, opts: VerifyMessageOptions = {}): VerifiedMessage {
  const { device } = m;
  const { value: payload, json } = decodePayloadFrom(v.payload);
  // A time given as text must be a strict RFC 3339 time to be admitted; freshnessOf then reads
  // it as the audit will (the audit reads older records, admitted leniently, as recorded).
  const bad = admissionProblem(payload);
  if (bad) throw new LedgerError('ERR_REPLAY', `payload from ${device.name}: ${bad.message}`, { device: device.did, field: bad.field });
  const freshness = freshnessOf(payload);
  if ((opts.requireFreshness ?? true) && !hasFreshness(freshness))
    throw new LedgerError('ERR_REPLAY', `payload from ${device.name} has no counter or timestamp, so a replay could not be told apart`, { device: device.did });
  if (!registry.isFresh(device.did, freshness))
    throw new LedgerError('ERR_REPLAY', `replayed or stale message from ${device.name}: counter/time not newer than the last accepted`, {
      device: device.did,
      last: registry.lastAccepted(device.did),
      got: freshness,
    });
  const out: VerifiedMessage = { device, payload, envelope: m.envelope, format: v.format, alg: v.alg, freshness, tofu: m.tofu, payloadIsJson: json };
  if (v.kid !== undefined) out.kid = v.kid;
  return out;
}
