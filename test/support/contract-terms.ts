// Terms of a cold-chain contract for the contract version tests: one id, "temperature below
// `limit`" with an instant alarm, for any subject, signed by `parties`.
import { keyToDid, type PrivateKey } from '../../lib/crypto';
import { validateTerms, type Terms } from '../../lib/contracts';

export function belowTerms(id: string, version: number, limit: number, parties: readonly PrivateKey[]): Terms {
  return validateTerms({
    id,
    version,
    title: `below ${limit}`,
    subjects: 'any',
    metric: 'temperature',
    rule: { op: '<', limit },
    alarm: { mode: 'instant' },
    parties: parties.map((p) => keyToDid(p)),
  });
}
