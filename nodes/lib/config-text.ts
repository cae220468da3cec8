/** A text field of a node's configuration: the value when it is text (or a number), else `fallback`. */
export function configText(v: unknown, fallback = ''): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return fallback;
}
