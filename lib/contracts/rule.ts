/** The compliance rule as three small questions: inside? recovered? how far out? */
import type { Rule } from './terms';

/** Is `v` in the compliant region? The limit value itself is outside for <, >, between. */
export function isInside(rule: Rule, v: number): boolean {
  switch (rule.op) {
    case '<':
      return v < rule.limit;
    case '<=':
      return v <= rule.limit;
    case '>':
      return v > rule.limit;
    case '>=':
      return v >= rule.limit;
    case 'between':
      return rule.low < v && v < rule.high;
  }
}

/** How far inside the nearest limit `v` is (negative when outside). */
export function margin(rule: Rule, v: number): number {
  switch (rule.op) {
    case '<':
    case '<=':
      return rule.limit - v;
    case '>':
    case '>=':
      return v - rule.limit;
    case 'between':
      return Math.min(v - rule.low, rule.high - v);
  }
}

/** Inside, and by at least the hysteresis margin: what ends an excursion. */
export function isRecovered(rule: Rule, hysteresis: number, v: number): boolean {
  return isInside(rule, v) && (hysteresis === 0 || margin(rule, v) >= hysteresis);
}

/** The limit `v` is beyond (or nearest to, when inside). */
export function crossedLimit(rule: Rule, v: number): number {
  if (rule.op !== 'between') return rule.limit;
  return v - rule.low < rule.high - v ? rule.low : rule.high;
}

/** Digits after the decimal point in the shortest text of `x` (15 for exponent forms: no rounding). */
export function decimalsOf(x: number): number {
  const text = String(x);
  if (/e/i.test(text)) return 15;
  const dot = text.indexOf('.');
  return dot < 0 ? 0 : text.length - dot - 1;
}

/**
 * Signed deviation from the crossed limit: value - limit. Positive above an upper
 * limit, negative below a lower one; its magnitude is how far out the value is.
 * Rounded to the decimals of the value and the limit, so that -16.2 against -20 is 3.8,
 * not the binary subtraction's 3.8000000000000007: no more precision than was measured.
 */
export function deviation(rule: Rule, v: number): number {
  const limit = crossedLimit(rule, v);
  const decimals = Math.min(15, Math.max(decimalsOf(v), decimalsOf(limit)));
  return Number((v - limit).toFixed(decimals)) + 0;
}
