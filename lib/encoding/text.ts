// UTF-8 and checked byte reads, apart from bytes.ts so that modules needing only these (the
// CBOR codec, the audit's record reader in its worker threads) do not load the bundled
// base-N encoders bytes.ts imports.
const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
export const utf8 = (s: string): Uint8Array => encoder.encode(s);
/** Decodes UTF-8, throwing on invalid sequences rather than substituting U+FFFD. */
export const fromUtf8 = (b: Uint8Array): string => strictDecoder.decode(b);

/** The byte at `i`; a position outside `b` is a RangeError (a parser bug, never bad input: check lengths first). */
export function byteAt(b: Uint8Array, i: number): number {
  const v = b[i];
  if (v === undefined) throw new RangeError(`byte ${i} is outside ${b.length} bytes`);
  return v;
}
