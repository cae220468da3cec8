import type { Node } from './red';

/** A text field of a node's configuration: the value when it is text (or a number), else `fallback`. */
export function configText(v: unknown, fallback = ''): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return fallback;
}

/**
 * A numeric setting of a node's configuration: a whole number from 1 to `max`; unset (a flow from
 * before the setting) is undefined, for the library's default. A bad value (a hand-edited flow)
 * is warned about (`<label> "<value>" is not a whole number ...; using <fallback>`) and undefined
 * returned, never a limit the user did not mean.
 */
export function wholeNumberSetting(node: Node, value: unknown, max: number, label: string, fallback: number): number | undefined {
  const text = configText(value).trim();
  if (text === '') return undefined;
  if (/^\d+$/.test(text) && Number(text) >= 1 && Number(text) <= max) return Number(text);
  node.warn(`${label} "${text.slice(0, 40)}" is not a whole number from 1 to ${max}; using ${fallback}`);
  return undefined;
}
