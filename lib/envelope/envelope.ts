// Signed envelopes: JWS compact (RFC 7515/8037) and COSE_Sign1 (RFC 9052/9053).
import { bytesEqual, fromBase64UrlNode as fromBase64Url, fromHex, fromUtf8, toBase64Url, toHex, utf8 } from '../encoding/bytes';
import { CborTag, decodeCbor, encodeCbor, type CborValue } from '../encoding/codec';
import { LedgerError, isLedgerError } from '../errors';
import { didToKey, keyToDid } from '../crypto/didkey';
import { checkJsonDepth, checkSize } from '../guards/limits';
import { assertStrongKey, isAlg, jwkToKey, publicOnly, type Alg, type Jwk, type PrivateKey, type PublicKey } from '../crypto/keys';
import { sign, verifySignature } from '../crypto/signature';

export type EnvelopeFormat = 'jws' | 'cose';

export interface SignEnvelopeOptions {
  format?: EnvelopeFormat;
  kid?: string;
  /** COSE only: use the fully specified algorithm ids (-19 Ed25519, -9 ESP256) instead of -8 / -7. */
  fullySpecified?: boolean;
  /** COSE only: external additional authenticated data. */
  externalAad?: Uint8Array;
}

export interface VerifiedEnvelope {
  format: EnvelopeFormat;
  alg: Alg;
  /** The algorithm exactly as the header names it ('EdDSA', 'ES256', -8, -7, -19, -9). */
  headerAlg: string | number;
  kid?: string;
  payload: Uint8Array;
}

export type VerificationKey = string | Jwk | PublicKey;

const JWS_ALGS: Record<string, Alg> = { EdDSA: 'Ed25519', Ed25519: 'Ed25519', ES256: 'ES256' };
const COSE_ALGS: Record<number, Alg> = { [-8]: 'Ed25519', [-19]: 'Ed25519', [-7]: 'ES256', [-9]: 'ES256' };
const COSE_SIGN1_TAG = 18;
const HDR_ALG = 1;
const HDR_CRIT = 2;
const HDR_KID = 4;

function malformed(message: string): LedgerError {
  return new LedgerError('ERR_MALFORMED_ENVELOPE', message);
}

function payloadBytes(payload: Uint8Array | string | object): Uint8Array {
  if (payload instanceof Uint8Array) return payload;
  if (typeof payload === 'string') return utf8(payload);
  let text: string | undefined;
  try {
    text = JSON.stringify(payload);
  } catch (err) {
    throw new LedgerError('ERR_INVALID_ARGUMENT', `payload cannot be written as JSON: ${(err as Error).message}`);
  }
  if (text === undefined) throw new LedgerError('ERR_INVALID_ARGUMENT', 'payload cannot be written as JSON');
  return utf8(text);
}

// Parsing a P-256 did:key decompresses a point, which costs more than the signature check itself.
const didKeys = new Map<string, PublicKey>();
function cachedDidKey(did: string): PublicKey {
  let key = didKeys.get(did);
  if (!key) {
    key = didToKey(did);
    if (didKeys.size >= 4096) didKeys.delete(didKeys.keys().next().value as string);
    didKeys.set(did, key);
  }
  return key;
}

/** Resolves a did:key, a JWK or a key object to a public key. */
export function resolveVerificationKey(key: VerificationKey): PublicKey {
  if (typeof key === 'string') return cachedDidKey(key.trim());
  if (key && typeof key === 'object' && 'kty' in key) return publicOnly(jwkToKey(key));
  if (key && typeof key === 'object' && 'publicKey' in key) {
    const k = key;
    if (!isAlg(k.alg) || !(k.publicKey instanceof Uint8Array)) throw new LedgerError('ERR_MALFORMED_KEY', 'public key must have an alg and publicKey bytes');
    assertStrongKey(k.alg, k.publicKey);
    return publicOnly(k);
  }
  throw new LedgerError('ERR_MALFORMED_KEY', 'verification key must be a did:key, a JWK or a public key');
}

function namesKey(did: string, key: PublicKey): boolean {
  let named: PublicKey;
  try {
    named = cachedDidKey(did);
  } catch {
    return false;
  }
  return named.alg === key.alg && bytesEqual(named.publicKey, key.publicKey);
}

function stripFragment(id: string): { did: string; fragment?: string } {
  const hash = id.indexOf('#');
  return hash === -1 ? { did: id } : { did: id.slice(0, hash), fragment: id.slice(hash + 1) };
}

/**
 * The kid must not name another key than the one the caller verifies with. A did:key kid
 * (with no fragment, or the fragment that names the key itself) must be the key's did:key;
 * any other kid is an opaque name, which must equal the JWK's own kid when the key is a JWK
 * that has one. Throws ERR_KID_MISMATCH.
 */
export function checkKidBinding(kid: string | undefined, given: VerificationKey, key: PublicKey): void {
  if (kid === undefined) return;
  if (kid.startsWith('did:key:')) {
    const { did, fragment } = stripFragment(kid);
    if (!namesKey(did, key) || (fragment !== undefined && `did:key:${fragment}` !== did))
      throw new LedgerError('ERR_KID_MISMATCH', `envelope kid ${kid.slice(0, 120)} names another key than ${keyToDid(key)}`, { kid: kid.slice(0, 200) });
    return;
  }
  const jwkKid = given && typeof given === 'object' && 'kty' in given ? (given).kid : undefined;
  if (typeof jwkKid === 'string' && jwkKid !== kid)
    throw new LedgerError('ERR_KID_MISMATCH', `envelope kid ${JSON.stringify(kid.slice(0, 120))} is not the key's kid ${JSON.stringify(jwkKid.slice(0, 120))}`, { kid: kid.slice(0, 200) });
}

export function signEnvelope(
  payload: Uint8Array | string | object,
  key: PrivateKey,
  opts: SignEnvelopeOptions = {},
): string | Uint8Array {
  const body = payloadBytes(payload);
  if ((opts.format ?? 'jws') === 'jws') return signJws(body, key, opts.kid);
  return signCose(body, key, opts);
}

function signJws(payload: Uint8Array, key: PrivateKey, kid?: string): string {
  const header: Record<string, string> = { alg: key.alg === 'Ed25519' ? 'EdDSA' : 'ES256' };
  if (kid !== undefined) header.kid = kid;
  const input = `${toBase64Url(utf8(JSON.stringify(header)))}.${toBase64Url(payload)}`;
  return `${input}.${toBase64Url(sign(key, utf8(input)))}`;
}

function coseAlgId(alg: Alg, fullySpecified: boolean): number {
  if (alg === 'Ed25519') return fullySpecified ? -19 : -8;
  return fullySpecified ? -9 : -7;
}

function sigStructure(protectedBytes: Uint8Array, externalAad: Uint8Array, payload: Uint8Array): Uint8Array {
  return encodeCbor(['Signature1', protectedBytes, externalAad, payload]);
}

function signCose(payload: Uint8Array, key: PrivateKey, opts: SignEnvelopeOptions): Uint8Array {
  const prot = new Map<CborValue, CborValue>([[HDR_ALG, coseAlgId(key.alg, opts.fullySpecified ?? false)]]);
  const unprot = new Map<CborValue, CborValue>();
  if (opts.kid !== undefined) unprot.set(HDR_KID, utf8(opts.kid));
  const protectedBytes = encodeCbor(prot);
  const signature = sign(key, sigStructure(protectedBytes, opts.externalAad ?? new Uint8Array(0), payload));
  return encodeCbor(new CborTag(COSE_SIGN1_TAG, [protectedBytes, unprot, payload, signature]));
}

/** Recognises what arrives from MQTT or a file: a JWS string, COSE bytes, or COSE as hex/base64 text. */
export function parseEnvelopeInput(input: unknown): { format: EnvelopeFormat; data: string | Uint8Array } {
  if (input instanceof Uint8Array || typeof input === 'string') checkSize('envelope', input.length);
  if (input instanceof Uint8Array) {
    const first = input[0];
    if (first === 0xd2 || first === 0x84) return { format: 'cose', data: input };
    let text: string;
    try {
      text = fromUtf8(input);
    } catch {
      throw malformed('envelope bytes are neither COSE_Sign1 nor a UTF-8 JWS');
    }
    return parseEnvelopeInput(text);
  }
  if (typeof input !== 'string') throw malformed(`envelope must be a string or bytes, got ${typeof input}`);
  const text = input.trim();
  if (/^[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/.test(text)) return { format: 'jws', data: text };
  if (/^([0-9a-fA-F]{2})+$/.test(text)) return { format: 'cose', data: fromHex(text) };
  if (/^[A-Za-z0-9+/_-]+=*$/.test(text)) {
    try {
      return { format: 'cose', data: Buffer.from(text, text.includes('-') || text.includes('_') ? 'base64url' : 'base64') };
    } catch {
      /* fall through */
    }
  }
  throw malformed('envelope is not a JWS compact string nor COSE_Sign1 (bytes, hex or base64)');
}

const JWS_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+$/;

/**
 * The format of an envelope as a ledger record stores it (docs/FORMAT.md "Records"): JWS
 * compact as text (three base64url parts, nothing around them), COSE_Sign1 as bytes (an
 * array of four items, optionally under tag 18). Hex or base64 text, a JWS in bytes or
 * anything else throws ERR_MALFORMED_ENVELOPE. Checks the form only, not the signature.
 */
export function storedEnvelopeFormat(envelope: unknown): EnvelopeFormat {
  if (typeof envelope === 'string') {
    if (JWS_COMPACT.test(envelope)) return 'jws';
    throw malformed('a text envelope must be JWS compact (COSE_Sign1 is stored as bytes, not as hex or base64 text)');
  }
  if (!(envelope instanceof Uint8Array)) throw malformed('an envelope is JWS compact text or COSE_Sign1 bytes');
  let msg: CborValue;
  try {
    msg = decodeCbor(envelope, { canonical: false });
  } catch (err) {
    throw malformed(`envelope bytes are not a COSE_Sign1 (a JWS is stored as text): ${err instanceof Error ? err.message : String(err)}`);
  }
  if (msg instanceof CborTag && msg.tag === COSE_SIGN1_TAG) msg = msg.value;
  const [prot, unprot, payload, signature] = Array.isArray(msg) ? msg : [];
  const isMap = unprot instanceof Map || (typeof unprot === 'object' && unprot !== null && !Array.isArray(unprot) && !(unprot instanceof Uint8Array) && !(unprot instanceof CborTag));
  if (!Array.isArray(msg) || msg.length !== 4 || !(prot instanceof Uint8Array) || !isMap || !(payload instanceof Uint8Array || payload === null) || !(signature instanceof Uint8Array))
    throw malformed('envelope bytes are not a COSE_Sign1 [protected, unprotected, payload, signature]');
  return 'cose';
}

/**
 * An envelope as received (a JWS string or bytes, COSE bytes, or COSE as hex/base64 text)
 * in the form a record stores it: JWS compact text or COSE_Sign1 bytes.
 */
export function storedEnvelope(input: unknown): string | Uint8Array {
  const { format, data } = parseEnvelopeInput(input);
  const out = format === 'jws' ? data : Uint8Array.from(data as Uint8Array);
  storedEnvelopeFormat(out);
  return out;
}

/** The payload bytes of a stored envelope, WITHOUT checking its signature. Throws ERR_MALFORMED_ENVELOPE. */
export function envelopePayload(envelope: string | Uint8Array): Uint8Array {
  const format = storedEnvelopeFormat(envelope);
  if (format === 'jws') {
    const part = (envelope as string).split('.')[1];
    if (part === undefined) throw malformed('JWS compact must have three parts');
    try {
      return fromBase64Url(part);
    } catch {
      throw malformed('JWS payload is not base64url');
    }
  }
  return decodeCose(envelope as Uint8Array).payload;
}

export function verifyEnvelope(
  envelope: string | Uint8Array,
  key: VerificationKey,
  opts: { externalAad?: Uint8Array } = {},
): VerifiedEnvelope {
  const { format, data } = parseEnvelopeInput(envelope);
  const pub = resolveVerificationKey(key);
  const bind = (kid: string | undefined): void => checkKidBinding(kid, key, pub);
  return format === 'jws'
    ? verifyJws(data as string, pub, bind)
    : verifyCose(data as Uint8Array, pub, opts.externalAad ?? new Uint8Array(0), bind);
}

/** Reads the kid and algorithm of an envelope without verifying it (to pick the key). */
export function peekEnvelope(envelope: string | Uint8Array): { format: EnvelopeFormat; kid?: string; headerAlg: string | number } {
  const { format, data } = parseEnvelopeInput(envelope);
  return peekParsed(format, data);
}

/**
 * peekEnvelope for what parseEnvelopeInput returned. Cheap, as it runs for every message a
 * gateway receives: the JWS header is decoded leniently (Node's base64url); verifying decodes
 * it strictly again, so a header that only the lenient decoder reads is refused there.
 */
export function peekParsed(format: EnvelopeFormat, data: string | Uint8Array): { format: EnvelopeFormat; kid?: string; headerAlg: string | number } {
  if (format === 'jws') {
    const jws = data as string;
    const header = jwsHeader(Buffer.from(jws.slice(0, jws.indexOf('.')), 'base64url').toString('utf8'));
    return { format, kid: header.kid as string | undefined, headerAlg: header.alg as string };
  }
  const msg = decodeCose(data as Uint8Array);
  return { format, kid: msg.kid, headerAlg: msg.alg };
}

function splitJws(jws: string): { header: Record<string, unknown>; parts: readonly [string, string, string] } {
  const parts = jws.split('.');
  if (parts.length !== 3) throw malformed('JWS compact must have three parts');
  const [headerPart = '', payloadPart = '', signaturePart = ''] = parts;
  let text: string;
  try {
    text = fromUtf8(fromBase64Url(headerPart));
  } catch {
    throw malformed('JWS header is not base64url JSON');
  }
  return { header: jwsHeader(text), parts: [headerPart, payloadPart, signaturePart] };
}

/** The JWS header from its JSON text, checked: an object with a text `alg` and an optional text `kid`. */
function jwsHeader(text: string): Record<string, unknown> {
  checkJsonDepth('JWS header', text);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch {
    throw malformed('JWS header is not base64url JSON');
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) throw malformed('JWS header must be a JSON object');
  const h = header as Record<string, unknown>;
  if (typeof h.alg !== 'string') throw malformed('JWS header has no "alg"');
  if (h.kid !== undefined && typeof h.kid !== 'string') throw malformed('JWS "kid" must be a string');
  return h;
}

function algMatchesKey(alg: Alg, key: PublicKey, named: string | number): void {
  if (alg !== key.alg)
    throw new LedgerError('ERR_BAD_SIGNATURE', `envelope algorithm ${named} does not match the ${key.alg} key`);
}

function verifyJws(jws: string, key: PublicKey, bind: (kid: string | undefined) => void): VerifiedEnvelope {
  const { header, parts } = splitJws(jws);
  const [headerPart, payloadPart, signaturePart] = parts;
  const alg = JWS_ALGS[header.alg as string];
  if (!alg) throw new LedgerError('ERR_UNSUPPORTED_ALG', `unsupported JWS alg ${JSON.stringify(header.alg)}`);
  if (header.crit !== undefined) throw new LedgerError('ERR_UNSUPPORTED_ALG', 'JWS "crit" headers are not supported');
  let payload: Uint8Array;
  let signature: Uint8Array;
  try {
    payload = fromBase64Url(payloadPart);
    signature = fromBase64Url(signaturePart);
  } catch {
    throw malformed('JWS payload or signature is not base64url');
  }
  bind(header.kid as string | undefined);
  algMatchesKey(alg, key, header.alg as string);
  if (!verifySignature(alg, key.publicKey, utf8(`${headerPart}.${payloadPart}`), signature))
    throw new LedgerError('ERR_BAD_SIGNATURE', 'JWS signature does not verify');
  const out: VerifiedEnvelope = { format: 'jws', alg, headerAlg: header.alg as string, payload };
  if (header.kid !== undefined) out.kid = header.kid as string;
  return out;
}

interface CoseSign1 {
  protectedBytes: Uint8Array;
  payload: Uint8Array;
  signature: Uint8Array;
  alg: number | string;
  kid?: string;
  crit: boolean;
}

function headerMap(v: CborValue, what: string): Map<CborValue, CborValue> {
  if (v instanceof Map) return v;
  if (v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof CborTag)) {
    // A map whose keys are all text decodes as a plain object.
    return new Map(Object.entries(v as Record<string, CborValue>));
  }
  throw malformed(`COSE ${what} header must be a map`);
}

function cborError(err: unknown, message: string): LedgerError {
  if (isLedgerError(err) && err.code !== 'ERR_MALFORMED_CBOR' && err.code !== 'ERR_NONCANONICAL_CBOR') return err;
  return new LedgerError('ERR_MALFORMED_ENVELOPE', `${message}: ${err instanceof Error ? err.message : String(err)}`, undefined, err);
}

function kidText(kid: CborValue): string | undefined {
  if (kid === undefined) return undefined;
  if (!(kid instanceof Uint8Array)) throw malformed('COSE kid must be a byte string');
  try {
    return fromUtf8(kid);
  } catch {
    return toHex(kid);
  }
}

/**
 * The protected header as signed: the zero-length string for an empty header, otherwise a
 * non-empty map in deterministic CBOR (RFC 8949 §4.2.1), so that one header has one byte form.
 */
function protectedHeader(bytes: Uint8Array): Map<CborValue, CborValue> {
  if (bytes.length === 0) return new Map();
  let prot: Map<CborValue, CborValue>;
  try {
    prot = headerMap(decodeCbor(bytes, { canonical: true }), 'protected');
  } catch (err) {
    throw cborError(err, 'COSE protected header is not a map in deterministic CBOR');
  }
  if (prot.size === 0) throw malformed("an empty COSE protected header must be the empty byte string h'', not h'A0'");
  return prot;
}

function decodeCose(bytes: Uint8Array): CoseSign1 {
  let msg: CborValue;
  try {
    msg = decodeCbor(bytes, { canonical: false });
  } catch (err) {
    throw cborError(err, 'COSE_Sign1 is not well-formed CBOR');
  }
  if (msg instanceof CborTag) {
    if (msg.tag !== COSE_SIGN1_TAG) throw malformed(`COSE_Sign1 tag must be 18, got ${msg.tag}`);
    msg = msg.value;
  }
  if (!Array.isArray(msg) || msg.length !== 4) throw malformed('COSE_Sign1 must be an array of four items');
  const [protectedBytes, unprotectedRaw, payload, signature] = msg;
  if (!(protectedBytes instanceof Uint8Array)) throw malformed('COSE protected header must be a byte string');
  if (payload === null) throw malformed('detached COSE payloads are not supported');
  if (!(payload instanceof Uint8Array)) throw malformed('COSE payload must be a byte string');
  if (!(signature instanceof Uint8Array)) throw malformed('COSE signature must be a byte string');
  const prot = protectedHeader(protectedBytes);
  const unprot = headerMap(unprotectedRaw, 'unprotected');
  for (const label of prot.keys()) {
    if (unprot.has(label)) throw malformed(`COSE header label ${JSON.stringify(label)} appears in both buckets`);
  }
  // An unprotected alg could be changed by anyone on the way, and an unprotected crit would
  // let them add rules the signer never asked for (RFC 9052 §3.1: both belong in the protected bucket).
  if (unprot.has(HDR_ALG)) throw malformed('COSE alg must be in the protected header, not the unprotected one');
  if (unprot.has(HDR_CRIT)) throw malformed('COSE crit must be in the protected header, not the unprotected one');
  const alg = prot.get(HDR_ALG);
  if (typeof alg !== 'number' && typeof alg !== 'string') throw malformed('COSE protected header has no algorithm');
  const out: CoseSign1 = { protectedBytes, payload, signature, alg, crit: prot.has(HDR_CRIT) };
  const kid = kidText(prot.get(HDR_KID) ?? unprot.get(HDR_KID));
  if (kid !== undefined) out.kid = kid;
  return out;
}

function verifyCose(bytes: Uint8Array, key: PublicKey, externalAad: Uint8Array, bind: (kid: string | undefined) => void): VerifiedEnvelope {
  const msg = decodeCose(bytes);
  const alg = typeof msg.alg === 'number' ? COSE_ALGS[msg.alg] : undefined;
  if (!alg) throw new LedgerError('ERR_UNSUPPORTED_ALG', `unsupported COSE alg ${JSON.stringify(msg.alg)}`);
  if (msg.crit) throw new LedgerError('ERR_UNSUPPORTED_ALG', 'COSE "crit" headers are not supported');
  bind(msg.kid);
  algMatchesKey(alg, key, msg.alg);
  if (!verifySignature(alg, key.publicKey, sigStructure(msg.protectedBytes, externalAad, msg.payload), msg.signature))
    throw new LedgerError('ERR_BAD_SIGNATURE', 'COSE_Sign1 signature does not verify');
  const out: VerifiedEnvelope = { format: 'cose', alg, headerAlg: msg.alg, payload: msg.payload };
  if (msg.kid !== undefined) out.kid = msg.kid;
  return out;
}
