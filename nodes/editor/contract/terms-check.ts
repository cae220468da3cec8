// What the contract dialog says about terms: the runtime's own validateTerms, with the field it
// names mapped to the form input that shows it. No copy of the rules lives in the editor.
import { validateTerms } from '../../../lib/contracts/terms';
import { isLedgerError } from '../../../lib/errors';

export type TermsObject = Record<string, unknown>;

export interface TermsProblem {
  /** The form input to mark ("json" when the form has none for it). */
  field: string;
  /** For list fields (parties, subjects): the 1-based entry. */
  n?: number;
  /** The runtime's message, word for word. */
  message: string;
  /** The contract of the list it is in (0-based). */
  index?: number;
}

export type ParsedTerms = { list: unknown[]; problem?: undefined } | { list?: undefined; problem: TermsProblem };

const FORM_FIELDS: Record<string, string> = {
  id: 'id',
  version: 'version',
  title: 'title',
  metric: 'metric',
  unit: 'unit',
  rule: 'op',
  'rule.op': 'op',
  'rule.low': 'low',
  'rule.high': 'high',
  'rule.limit': 'limit',
  alarm: 'alarm',
  'alarm.mode': 'alarm',
  'alarm.seconds': 'alarmSeconds',
  'alarm.windowSeconds': 'alarmWindow',
  hysteresis: 'hysteresis',
  maxGapSeconds: 'maxGap',
  mkt: 'mkt',
  'mkt.limit': 'mktLimit',
  'mkt.windowSeconds': 'mktWindow',
  'mkt.activationEnergyKJ': 'mktEnergy',
  subjects: 'subjects',
  parties: 'parties',
  validFrom: 'validFrom',
  validUntil: 'validUntil',
};

export function isObject(v: unknown): v is TermsObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The form input for a field path of validateTerms ("rule.low", "parties[2]"). */
export function formField(path: string | undefined, message: string): { field: string; n?: number } {
  if (path === undefined || / is not a known field$/.test(message)) return { field: 'json' };
  const item = /^(parties|subjects)\[(\d+)\]$/.exec(path);
  if (item?.[1]) return { field: item[1], n: Number(item[2]) + 1 };
  return { field: FORM_FIELDS[path] ?? 'json' };
}

/** The first problem of one terms object, or null when validateTerms accepts it. */
export function termsProblem(terms: unknown): TermsProblem | null {
  try {
    validateTerms(terms);
    return null;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const path = isLedgerError(err, 'ERR_INVALID_TERMS') ? (err.details?.field as string | undefined) : undefined;
    return { ...formField(path, message), message };
  }
}

/** The node's terms text: one terms object or a list of them. */
export function parseTerms(text: unknown): ParsedTerms {
  const s = typeof text === 'string' ? text : '';
  if (s.trim() === '') return { problem: { field: 'json', message: 'empty' } };
  let v: unknown;
  try {
    v = JSON.parse(s);
  } catch (err) {
    return { problem: { field: 'json', message: (err as Error).message } };
  }
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0) return { problem: { field: 'json', message: 'empty' } };
  return { list };
}

/** The first problem of a list, with the index of the contract it is in. */
export function listProblem(list: unknown[]): TermsProblem | null {
  for (let i = 0; i < list.length; i++) {
    const p = termsProblem(list[i]);
    if (p) return { ...p, index: i };
  }
  return null;
}

/** The verdict on a terms text as the node's `terms` validator gives it: true or the problem. */
export function checkTermsText(text: unknown): true | TermsProblem {
  const parsed = parseTerms(text);
  const p = parsed.problem ?? listProblem(parsed.list);
  return p ?? true;
}
