import { base58, base64, base64urlnopad, hex } from '../vendor/esm-only';
import { byteAt } from './text';

export { byteAt, fromUtf8, utf8 } from './text';

export const toHex = (b: Uint8Array): string => hex.encode(b);
export const fromHex = (s: string): Uint8Array => hex.decode(s.toLowerCase());
/** Standard base64 with padding (Node's encoder writes exactly what RFC 4648 §4 says, faster than a JS one). */
export const toBase64 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');

/**
 * Strict standard base64: Node's decoder is lenient (it skips junk), so its result counts only
 * when encoding it back gives the input exactly; anything else goes to the strict decoder,
 * which refuses it with the precise reason.
 */
export function fromBase64(s: string): Uint8Array {
  if (typeof s === 'string') {
    const b = Buffer.from(s, 'base64');
    if (b.toString('base64') === s) return new Uint8Array(b);
  }
  return base64.decode(s);
}
export const toBase64Url = (b: Uint8Array): string => base64urlnopad.encode(b);
export const fromBase64Url = (s: string): Uint8Array => base64urlnopad.decode(s);
/**
 * fromBase64Url, as strict, with Node's decoder (the way fromBase64 is): its result counts only
 * when encoding it back gives the input exactly. Not for the editor's bundle (no Buffer there).
 */
export function fromBase64UrlNode(s: string): Uint8Array {
  if (typeof s === 'string') {
    const b = Buffer.from(s, 'base64url');
    // A copy: a small Buffer is a view of a shared 8 KB pool (posted to a worker, the whole pool would be cloned).
    if (b.toString('base64url') === s) return new Uint8Array(b);
  }
  return base64urlnopad.decode(s);
}
export const toBase58 = (b: Uint8Array): string => base58.encode(b);
export const fromBase58 = (s: string): Uint8Array => base58.decode(s);


export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}


export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= byteAt(a, i) ^ byteAt(b, i);
  return diff === 0;
}

export function isBytes(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array;
}
