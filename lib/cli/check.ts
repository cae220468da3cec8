import { fromUtf8 } from '../encoding/bytes';
import { readFileSync } from 'node:fs';
import { verifyEnvelope, peekEnvelope, resolveVerificationKey, type VerificationKey } from '../envelope/envelope';
import { bodyFromPayload } from '../envelope/payload';
import type { CborValue } from '../encoding/codec';
import { isLedgerError } from '../errors';
import { checkJsonDepth, checkSize, MAX_ENVELOPE_BYTES } from '../guards/limits';
import { readKeyFile } from '../crypto/keyfile';
import { keyToDid } from '../crypto/didkey';
import { keyToJwk, publicOnly, type Jwk, type PublicKey } from '../crypto/keys';
import { parseArgs, stringFlag, UsageError } from './args';
import { readFileOrNull, stdinUpTo, type CliIo } from './io';

export const checkUsage = 'iot-ledger check ENVELOPE|FILE|- --key DID|JWK_FILE [--json]';

/**
 * Loads a verification key given as a did:key, a JWK file path, or inline JWK JSON. `given`
 * is what the envelope's kid is bound to: the did:key, or the public JWK with its own kid.
 */
export function loadPublicKeyArg(arg: string): { key: PublicKey; given: VerificationKey } {
  const trimmed = arg.trim();
  if (trimmed.startsWith('did:key:')) return { key: resolveVerificationKey(trimmed), given: trimmed };
  const jwk: unknown = trimmed.startsWith('{') ? JSON.parse(trimmed) : undefined;
  const key = publicOnly(jwk === undefined ? readKeyFile(trimmed) : resolveVerificationKey(jwk as Jwk));
  const kid = jwk === undefined ? readKidOfFile(trimmed) : (jwk as Jwk).kid;
  return { key, given: typeof kid === 'string' ? { ...keyToJwk(key), kid } : key };
}

function readKidOfFile(file: string): unknown {
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as Jwk).kid;
  } catch {
    return undefined;
  }
}

/** A record body as JSON can show it: byte strings as {hex}. */
function jsonable(v: CborValue): unknown {
  if (v instanceof Uint8Array) return { hex: Buffer.from(v).toString('hex') };
  if (Array.isArray(v)) return v.map(jsonable);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) Object.defineProperty(out, k, { value: jsonable(x as CborValue), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return v;
}

/**
 * The payload for the report; one over the limits of lib/guards/limits.ts is refused (typed).
 * JSON text as it is; a CBOR payload (COSE_Sign1 from the C library with IOTL_CBOR) as the
 * fields Verify reads and Record records (bodyFromPayload), else its bytes as {hex}.
 */
function describePayload(bytes: Uint8Array): unknown {
  checkSize('signed payload', bytes.length);
  let text: string;
  try {
    text = fromUtf8(bytes);
  } catch {
    try {
      return jsonable(bodyFromPayload(bytes));
    } catch {
      return { hex: Buffer.from(bytes).toString('hex') };
    }
  }
  checkJsonDepth('signed payload', text);
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export async function check(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, ['json']);
  const [input] = args.positional;
  const keyArg = stringFlag(args, 'key');
  if (!input || !keyArg || args.positional.length > 1) throw new UsageError(checkUsage);
  const { key, given } = loadPublicKeyArg(keyArg);
  let envelope: string | Uint8Array;
  // The longest text form of the largest envelope (hex) and some whitespace.
  if (input === '-') envelope = await stdinUpTo(io, 4 * MAX_ENVELOPE_BYTES, 'the envelope');
  else envelope = readFileOrNull(input) ?? input;
  if (envelope instanceof Uint8Array) {
    // a text file holding a JWS or hex/base64 COSE is handled as text
    const first = envelope[0];
    if (first !== 0xd2 && first !== 0x84) envelope = envelope.toString().trim();
  }
  const json = args.flags.json === true;
  try {
    const v = verifyEnvelope(envelope, given);
    const report = {
      valid: true,
      signer: keyToDid(key),
      format: v.format,
      alg: v.headerAlg,
      kid: v.kid ?? null,
      payload: describePayload(v.payload),
    };
    io.stdout(json ? `${JSON.stringify(report)}\n` : `valid\nsigner:  ${report.signer}\nformat:  ${v.format}\nalg:     ${String(v.headerAlg)}\nkid:     ${v.kid ?? '-'}\npayload: ${JSON.stringify(report.payload)}\n`);
    return 0;
  } catch (err) {
    if (!isLedgerError(err)) throw err;
    let kid: string | undefined;
    try {
      kid = peekEnvelope(envelope).kid;
    } catch {
      kid = undefined;
    }
    const report = { valid: false, signer: keyToDid(key), code: err.code, reason: err.message, kid: kid ?? null };
    io.stdout(json ? `${JSON.stringify(report)}\n` : `invalid: ${err.message} (${err.code})\nexpected signer: ${report.signer}\nkid: ${kid ?? '-'}\n`);
    return 1;
  }
}
