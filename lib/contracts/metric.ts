/** Reading a metric out of a payload by a dot path ("temperature", "sensors.t1", "probes.0"). */

export type MetricFailure = 'missing metric' | 'non-numeric' | 'not finite';

export type MetricResult = { ok: true; value: number } | { ok: false; reason: MetricFailure; detail: string };

const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/**
 * Follows `path` through own properties only (never the prototype chain), with numeric
 * segments indexing arrays. Only finite numbers count: strings such as "21.5" are
 * rejected as non-numeric, NaN and ±Infinity as not finite.
 */
export function extractMetric(payload: unknown, path: string): MetricResult {
  let cur: unknown = payload;
  for (const seg of path.split('.')) {
    if (Array.isArray(cur)) {
      if (!/^(0|[1-9]\d{0,8})$/.test(seg) || Number(seg) >= cur.length)
        return { ok: false, reason: 'missing metric', detail: `no "${path}" in the payload` };
      cur = cur[Number(seg)];
    } else if (cur !== null && typeof cur === 'object' && hasOwn(cur, seg)) {
      cur = (cur as Record<string, unknown>)[seg];
    } else return { ok: false, reason: 'missing metric', detail: `no "${path}" in the payload` };
  }
  return classifyNumber(cur, path);
}

/** Classifies an already extracted metric value. */
export function classifyNumber(v: unknown, path = 'value'): MetricResult {
  if (typeof v === 'number') {
    if (Number.isFinite(v)) return { ok: true, value: v + 0 }; // + 0 turns -0 into 0
    return { ok: false, reason: 'not finite', detail: `"${path}" is ${String(v)}` };
  }
  if (v === undefined) return { ok: false, reason: 'missing metric', detail: `no "${path}" value` };
  return { ok: false, reason: 'non-numeric', detail: `"${path}" is ${describe(v)}` };
}

/** The metric as a finite number, or undefined. */
export function metricValue(payload: unknown, path: string): number | undefined {
  const r = extractMetric(payload, path);
  return r.ok ? r.value : undefined;
}

/** A short, safe description of any value for an event's detail text. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 24 ? `${v.slice(0, 24)}…` : v)}`;
  if (typeof v === 'boolean' || typeof v === 'bigint') return `the ${typeof v} ${String(v)}`;
  if (Array.isArray(v)) return 'an array';
  return `a${typeof v === 'object' ? 'n' : ''} ${typeof v}`;
}
