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
import { resolveVerificationKey, storedEnvelopeFormat, verifyEnvelope } from '../envelope/envelope';
import { publicKeyObject, type Alg } from '../crypto/keys';
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

interface Header {
  alg: Alg;
  key: KeyObject;
}

/** JWS headers lib/envelope verified in full, per device did (bounded: devices times headers). */
const headers = new Map<string, Header>();
const MAX_HEADERS = 4096;

function rememberHeader(jws: string, did: string): void {
  const dot = jws.indexOf('.');
  if (dot < 0 || headers.size >= MAX_HEADERS) return;
  try {
    const pub = resolveVerificationKey(did);
    if (pub.alg !== 'Ed25519' && pub.alg !== 'ES256') return;
    headers.set(`${did} ${jws.slice(0, dot)}`, { alg: pub.alg, key: publicKeyObject(pub.alg, pub.publicKey) });
  } catch {
    /* the long path stays */
  }
}

/** A base64url part decoded, when it is in canonical unpadded form (the one a strict decoder reads the same). */
function canonical64(part: string): Buffer | undefined {
  const b = Buffer.from(part, 'base64url');
  return b.toString('base64url') === part ? b : undefined;
}

// Ed25519's group order L, little-endian: RFC 8032 requires S < L (lib/crypto/signature.ts).
const L = Buffer.from('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010', 'hex');

function canonicalS(sig: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) {
    const s = sig[32 + i]!;
    const l = L[i]!;
    if (s !== l) return s < l;
  }
  return false; // S = L
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
  if (!payload || !sig || sig.length !== 64 || (header.alg === 'Ed25519' && !canonicalS(sig))) return undefined;
  const input = Buffer.from(jws.slice(0, dot2), 'latin1'); // base64url and '.': ASCII, as their UTF-8
  let ok: boolean;
  try {
    ok = header.alg === 'Ed25519' ? nodeVerify(null, input, header.key, sig) : nodeVerify('sha256', input, { key: header.key, dsaEncoding: 'ieee-p1363' }, sig);
  } catch {
    return undefined;
  }
  return ok ? { ok: true, ...freshness(jws, payload) } : undefined;
}
