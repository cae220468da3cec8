// Text from a ledger shown on a terminal: a device id, a ledger name or a security code can hold
// control characters (an escape sequence can move the cursor and overwrite what was printed, a
// newline can start a line that looks like the tool's own) or bidirectional overrides that
// reorder what is seen. Each such character is shown as its \uXXXX escape instead.

/** C0 controls, DEL and C1 controls; the bidi marks, embeddings, overrides and isolates; the line and paragraph separators. */
function unprintable(c: number): boolean {
  return (
    c <= 0x1f ||
    (c >= 0x7f && c <= 0x9f) ||
    c === 0x061c ||
    c === 0x200e ||
    c === 0x200f ||
    (c >= 0x2028 && c <= 0x202e) ||
    (c >= 0x2066 && c <= 0x2069)
  );
}

/** `s` with every control, bidi or line-separating character written as \uXXXX. */
export function printable(s: string): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!unprintable(c)) continue;
    out += `${s.slice(from, i)}\\u${c.toString(16).padStart(4, '0')}`;
    from = i + 1;
  }
  return from === 0 ? s : out + s.slice(from);
}
