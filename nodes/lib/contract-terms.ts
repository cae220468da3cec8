import { LedgerError } from '../../lib/errors';
import { validateTerms, type Terms } from '../../lib/contracts';

/** The node's terms: one contract object or a list of them, as JSON. */
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

export function subjectMatches(terms: Terms, device?: { id?: string; name?: string }): boolean {
  if (terms.subjects === 'any') return true;
  return !!device && ((!!device.id && terms.subjects.includes(device.id)) || (!!device.name && terms.subjects.includes(device.name)));
}

