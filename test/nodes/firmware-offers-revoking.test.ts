import * as assert from 'node:assert/strict';
import { generateKey, keyToDid } from '../../lib/crypto';
import type { FirmwareOffer } from '../../lib/firmware/offer';
import { Gateway } from '../../lib/gateway';
import type { RecordInput } from '../../lib/ledger';
import { FirmwareOffers } from '../../nodes/lib/firmware-offers';
import { tempDir } from '../support/ledger';

// The gateway tells its 'record' listeners of a vendor key's revocation before the firmware state
// has applied it: an offer published in between (an approval whose offer was being built) must not
// go out with the revoked key.

describe('FirmwareOffers: an offer published while a vendor key revocation is being applied', function () {
  this.timeout(20000);
  let tmp: ReturnType<typeof tempDir>;
  let gw: Gateway;
  beforeEach(async () => {
    tmp = tempDir();
    gw = await Gateway.open(tmp.dir, { name: 'offers-revoking', gatewayKey: generateKey('Ed25519'), blockRecords: 100, blockSeconds: 0 });
  });
  afterEach(async () => {
    await gw.close();
    tmp.cleanup();
  });

  it('is not sent once the revocation record is on the ledger, though the firmware state does not have it yet', async () => {
    const signer = keyToDid(generateKey('Ed25519'));
    const device = keyToDid(generateKey('Ed25519'));
    await gw.enrol({ did: device, name: 'thermo-1' });
    const fw = await gw.firmware();
    await fw.trustVendor('acme', signer);
    const sent: Array<{ topic: string; payload: unknown }> = [];
    const offers = new FirmwareOffers((topic, payload) => sent.push({ topic, payload }));
    offers.follow(fw);
    const offer = { format: 'iot-ledger-firmware-offer/1', device } as unknown as FirmwareOffer;
    let revokedInState: boolean | undefined;
    gw.on('record', (_r: unknown, input: RecordInput) => {
      if (input.type !== 'firmware.vendor' || (input.body as { action?: unknown }).action !== 'revoke') return;
      revokedInState = fw.state.isRevoked('acme', signer);
      offers.publish(offer, { device, vendor: 'acme', signer });
    });
    await fw.trustVendor('acme', signer, 'revoke');
    assert.equal(revokedInState, false, 'the window exists: the state applies the record after its listeners ran');
    assert.equal(fw.state.isRevoked('acme', signer), true);
    assert.deepEqual(
      sent.filter((m) => m.payload !== ''),
      [],
      'no offer signed by the revoked key went out',
    );
    offers.close();
  });
});
