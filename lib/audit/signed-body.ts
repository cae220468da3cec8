// A record that carries a signed envelope holds in its body exactly what was signed
// (docs/FORMAT.md "Bodies of signed records"): the gateway cannot change a value the
// device signed without the audit seeing it. Pure; runs in the chunk workers.
import { bytesEqual } from '../encoding/bytes';
import { decodeCbor, encodeCbor, type CborValue } from '../encoding/codec';
import { envelopePayload } from '../envelope/envelope';
import { decodeObject } from '../firmware/payload';
import { parseReport } from '../firmware/report';
import { bodyFromDecoded, decodePayload } from '../envelope/payload';
import { EVIDENCE_TYPES, SELF_SIGNED_TYPES, VENDOR_SIGNED_TYPES, type RecordView } from './records';

const REPORT = 'firmware.report';
const JWS_FORM = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+$/;
const REPORT_FIELDS = ['class', 'version', 'sequence', 'digest', 'counter', 'ts'] as const;

function isMap(v: unknown): v is { [key: string]: CborValue } {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Map);
}

const show = (v: CborValue | undefined): string => {
  if (v === undefined) return 'absent';
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  const s = typeof v === 'bigint' ? `${v}` : JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

/** The first place (path) where `got` differs from `want`, with both values. */
function firstDifference(got: CborValue | undefined, want: CborValue | undefined, path: string): string {
  if (isMap(got) && isMap(want)) {
    for (const k of [...new Set([...Object.keys(want), ...Object.keys(got)])].sort()) {
      if (got[k] === undefined || want[k] === undefined || !bytesEqual(encodeCbor(got[k]), encodeCbor(want[k])))
        return firstDifference(got[k], want[k], `${path}.${k}`);
    }
  }
  if (Array.isArray(got) && Array.isArray(want) && got.length === want.length) {
    for (let i = 0; i < got.length; i++)
      if (!bytesEqual(encodeCbor(got[i]), encodeCbor(want[i]))) return firstDifference(got[i], want[i], `${path}[${i}]`);
  }
  return `${path} is ${show(got)}, the signed payload gives ${show(want)}`;
}

/** The last payload decoded here, by its envelope: the signature check of the same record reads its freshness from it. */
let last: { envelope: string | Uint8Array; payload: Uint8Array; value?: unknown; error?: Error } | undefined;

/** decodePayload(payload) of an envelope's payload; the same record's second call costs nothing. */
export function decodedPayload(envelope: string | Uint8Array, payload: Uint8Array): unknown {
  if (!last || last.envelope !== envelope || !bytesEqual(last.payload, payload)) {
    last = { envelope, payload };
    try {
      last.value = decodePayload(payload);
    } catch (err) {
      last.error = err instanceof Error ? err : new Error(String(err));
    }
  }
  if (last.error) throw last.error;
  return last.value;
}

/** Why the body of a record with a signed envelope is not what was signed; undefined when it is. */
export function signedBodyProblem(record: RecordView): string | undefined {
  const env = record.envelope;
  if (env === undefined || EVIDENCE_TYPES.has(record.type) || VENDOR_SIGNED_TYPES.has(record.type)) return undefined;
  let payload: Uint8Array;
  try {
    // A JWS of the stored form holds only base64url characters: node's decoder reads the same
    // bytes as a strict one (a payload a strict decoder refuses fails the signature check).
    payload = typeof env === 'string' && JWS_FORM.test(env) ? Buffer.from(env.slice(env.indexOf('.') + 1, env.lastIndexOf('.')), 'base64url') : envelopePayload(env);
  } catch {
    return undefined; // an unreadable envelope is an envelope-signature finding
  }
  if (record.type === REPORT) return reportProblem(record, payload);
  let want: CborValue;
  try {
    want = bodyFromDecoded(decodedPayload(env, payload));
  } catch (err) {
    return `the record has a body, but ${(err as Error).message}`;
  }
  if (SELF_SIGNED_TYPES.has(record.type)) {
    // A contract signature: the signed {contract, version, termsHash} and the party who signed.
    if (!isMap(want)) return 'the signed payload of a contract signature is not a map';
    want = { ...want, party: record.device ?? null };
  }
  const wantBytes = encodeCbor(want);
  const got = record.bodyBytes;
  if (got === undefined) return 'the record has no body, but its envelope signs a payload';
  if (bytesEqual(got, wantBytes)) return undefined;
  return firstDifference(decodeCbor(got), want, 'body');
}

/** A firmware report's body repeats the signed report fields and names the signing device. */
function reportProblem(record: RecordView, payload: Uint8Array): string | undefined {
  let signed;
  try {
    // As recorded: a gateway before a4b5c5d took a ts that does not exist ("T24:00:00Z") and
    // recorded it rolled over, as recheckReport reads it too.
    signed = parseReport(decodeObject(payload, 'report'));
  } catch (err) {
    return `the signed payload is not a firmware report: ${(err as Error).message}`;
  }
  const body = record.body;
  if (!isMap(body)) return 'the body of a firmware report is not a map';
  const want: { [key: string]: CborValue } = { device: record.device ?? null };
  for (const k of REPORT_FIELDS) if (signed[k] !== undefined) want[k] = signed[k];
  if (signed.vendor !== undefined) want.vendor = signed.vendor;
  if (signed.refused !== undefined) want.refused = { ...signed.refused };
  for (const [k, v] of Object.entries(want)) {
    if (body[k] === undefined || !bytesEqual(encodeCbor(body[k]), encodeCbor(v))) return firstDifference(body[k], v, `body.${k}`);
  }
  return undefined;
}
