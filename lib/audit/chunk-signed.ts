// Device envelopes in the chunk checker: their stored form and their signature, with the
// freshness (counter, ts) of the payload. Loaded by chunk.ts with the first record that has an
// envelope, so that a worker checking plain records does not load the envelope code.
//
// A JWS is verified on a short path once its header has been verified in full for the same
// device by lib/envelope (the header's checks, algorithm, `crit` and kid binding, depend on
// the header and the key only): each record then costs the signature itself and two base64url
// decodes. Anything the short path does not expect goes to lib/envelope, whose verdict and
// message count.
import { verify as nodeVerify, type KeyObject } from 'node:crypto';
import { envelopePayload, resolveVerificationKey, storedEnvelopeFormat, verifyEnvelope } from '../envelope/envelope';
import { publicKeyObject } from '../crypto/keys';
import { verifyEd25519 } from '../crypto/ed25519';
import { isLedgerError } from '../errors';
import { MAX_ENVELOPE_BYTES } from '../guards/limits';
import { freshnessOf } from '../registry/freshness';
import type { EnvelopeCheck } from './chunk';
import type { Freshness, RecordView } from './records';
import { decodedPayload } from './signed-body';

export { signedBodyProblem } from './signed-body';

/** Why a record's envelope is not in a stored form (JWS compact text, COSE_Sign1 bytes). */
export function envelopeFormProblem(record: RecordView): string | undefined {
  if (record.envelope === undefined) return undefined;
  try {
    storedEnvelopeFormat(record.envelope);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** The replay fields of a device payload, read exactly as the gateway reads them (lib/registry/freshness.ts). */
function freshness(envelope: string | Uint8Array, payload: Uint8Array): Freshness {
  let value: unknown;
  try {
    value = decodedPayload(envelope, payload);
  } catch {
    return {};
  }
  const f = freshnessOf(value);
  const out: Freshness = {};
  if (f.counter !== undefined) out.counter = f.counter;
  if (f.time !== undefined) out.ts = f.time;
  return out;
}

/** The replay fields an envelope's payload claims, its signature unchecked (empty when it has no readable payload). */
export function claimedFreshness(envelope: string | Uint8Array): Freshness {
  try {
    return freshness(envelope, envelopePayload(envelope));
  } catch {
    return {};
  }
}

/** Verifies an envelope with a device key; never throws. */
export function verifyDeviceEnvelope(envelope: string | Uint8Array, key: Parameters<typeof verifyEnvelope>[1]): Omit<EnvelopeCheck, 'envelope'> {
  if (typeof envelope === 'string' && typeof key === 'string') {
    const quick = quickJws(envelope, key);
    if (quick) return quick;
  }
  try {
    const v = verifyEnvelope(envelope, key);
    if (typeof envelope === 'string' && typeof key === 'string') rememberHeader(envelope, key);
    return { ok: true, ...freshness(envelope, v.payload) };
  } catch (err) {
    const why = isLedgerError(err) ? `${err.message} (${err.code})` : err instanceof Error ? err.message : String(err);
    return { ok: false, detail: why };
  }
}

type Header = { alg: 'Ed25519'; publicKey: Uint8Array } | { alg: 'ES256'; key: KeyObject };

/** JWS headers lib/envelope verified in full, per device did (bounded: devices times headers). */
const headers = new Map<string, Header>();
const MAX_HEADERS = 4096;

function rememberHeader(jws: string, did: string): void {
  const dot = jws.indexOf('.');
  if (dot < 0 || headers.size >= MAX_HEADERS) return;
  try {
    const pub = resolveVerificationKey(did);
    const id = `${did} ${jws.slice(0, dot)}`;
    if (pub.alg === 'Ed25519') headers.set(id, { alg: pub.alg, publicKey: pub.publicKey });
    else if (pub.alg === 'ES256') headers.set(id, { alg: pub.alg, key: publicKeyObject(pub.alg, pub.publicKey) });
  } catch {
    /* the long path stays */
  }
}

/** A base64url part decoded, when it is in canonical unpadded form (the one a strict decoder reads the same). */
function canonical64(part: string): Buffer | undefined {
  const b = Buffer.from(part, 'base64url');
  return b.toString('base64url') === part ? b : undefined;
}

/**
 * The short path: a JWS whose header was verified in full for this device before, with
 * canonical base64url parts and a signature of the right shape. A valid signature is the
 * verdict; anything else (including a bad signature) is left to lib/envelope, for its message.
 */
function quickJws(jws: string, did: string): Omit<EnvelopeCheck, 'envelope'> | undefined {
  if (jws.length > MAX_ENVELOPE_BYTES) return undefined;
  const dot1 = jws.indexOf('.');
  const dot2 = jws.indexOf('.', dot1 + 1);
  if (dot1 < 1 || dot2 < 0 || jws.indexOf('.', dot2 + 1) >= 0) return undefined;
  const header = headers.get(`${did} ${jws.slice(0, dot1)}`);
  if (!header) return undefined;
  const payload = canonical64(jws.slice(dot1 + 1, dot2));
  const sig = canonical64(jws.slice(dot2 + 1));
  if (!payload || !sig || sig.length !== 64) return undefined;
  const input = Buffer.from(jws.slice(0, dot2), 'latin1'); // base64url and '.': ASCII, as their UTF-8
  let ok: boolean;
  try {
    ok = header.alg === 'Ed25519' ? verifyEd25519(header.publicKey, input, sig) : nodeVerify('sha256', input, { key: header.key, dsaEncoding: 'ieee-p1363' }, sig);
  } catch {
    return undefined;
  }
  return ok ? { ok: true, ...freshness(jws, payload) } : undefined;
}
