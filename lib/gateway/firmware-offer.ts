// The offer a gateway publishes after approving an update: the release's manifest as the
// vendor signed it (from the firmware.release record) and the decision's proof bundle.
import { makeFirmwareOffer, type FirmwareOffer } from '../firmware/offer';
import type { Ledger } from '../ledger';

export async function firmwareOffer(ledger: Ledger, decisionIndex: number): Promise<FirmwareOffer | null> {
  const decision = await ledger.get(decisionIndex);
  const body = (decision.record.body ?? {}) as Record<string, unknown>;
  if (decision.record.type !== 'firmware.decision' || body.decision !== 'approved' || typeof body.device !== 'string' || typeof body.release !== 'number')
    return null;
  const release = await ledger.get(body.release);
  if (release.record.type !== 'firmware.release' || release.record.envelope === undefined) return null;
  return makeFirmwareOffer(body.device, release.record.envelope, await ledger.proofBundle(decisionIndex));
}
