// Terms as a host holds them: a list given as JSON, and which devices each contract covers.
import { LedgerError } from '../errors';
import { validateTerms, type Terms } from './terms';

/** One contract object or a list of them, as JSON text or parsed; each validated. */
export function parseTermsList(text: unknown): Terms[] {
  let v: unknown = text;
  if (typeof text === 'string') {
    try {
      v = JSON.parse(text);
    } catch {
      throw new LedgerError('ERR_INVALID_TERMS', 'the contract terms are not valid JSON');
    }
  }
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0) throw new LedgerError('ERR_INVALID_TERMS', 'no contract terms');
  return list.map((t) => validateTerms(t));
}

/**
 * The subject a reading from this device is judged as: its did:key id when the terms take any
 * device or list that id, else its enrolled name when they list the name; null when the terms
 * do not cover the device. The evaluator checks this subject against the terms, and it is what
 * the reading's recorded input names, so that re-running the contract reaches the same verdict.
 */
export function subjectFor(terms: Terms, device?: { id?: string; name?: string }): string | undefined | null {
  if (terms.subjects === 'any') return device?.id;
  if (device?.id && terms.subjects.includes(device.id)) return device.id;
  if (device?.name && terms.subjects.includes(device.name)) return device.name;
  return null;
}

/** Whether a reading from this device is judged by these terms (by did:key id or by name). */
export function subjectMatches(terms: Terms, device?: { id?: string; name?: string }): boolean {
  return subjectFor(terms, device) !== null;
}
